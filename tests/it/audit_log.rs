//! The admin audit log names accounts by handle (`actor_handle`, `user_handle`), read in
//! the page's own query; entries outlive their accounts (ids and handles then null).

use crate::common::{PASSWORD, TestApp, body};
use serde_json::{Value, json};

async fn entries(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let res = app
        .get_auth(&format!("/api/admin/audit-log?per_page=100{query}"), admin)
        .await;
    assert_eq!(res.status(), 200);
    body(res).await["items"].as_array().unwrap().clone()
}

fn of_type<'a>(items: &'a [Value], event: &str) -> Vec<&'a Value> {
    items.iter().filter(|e| e["event_type"] == event).collect()
}

#[tokio::test]
async fn audit_entries_carry_the_handles_of_actor_and_subject() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let hank = app.register("hank").await;
    let res = app
        .patch_auth(
            &format!("/api/admin/users/{}", hank.user_id),
            &admin.access,
            &json!({"quota_limit_bytes": 4096}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // A failed login for an unknown account: nobody to name.
    let res = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "nobody", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 401);

    let items = entries(&app, &admin.access, "").await;
    // Every entry has both fields, null or a handle.
    for e in &items {
        for key in ["actor_handle", "user_handle"] {
            assert!(
                e.get(key).is_some_and(|v| v.is_null() || v.is_string()),
                "{key} in {e}"
            );
        }
    }
    let updated = of_type(&items, "admin_user_updated");
    assert_eq!(updated.len(), 1, "{items:?}");
    assert_eq!(updated[0]["actor_id"], admin.user_id.as_str());
    assert_eq!(updated[0]["actor_handle"], "root");
    assert_eq!(updated[0]["user_id"], hank.user_id.as_str());
    assert_eq!(updated[0]["user_handle"], "hank");

    let registered = of_type(&items, "user_registered");
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0]["user_handle"], "hank");
    assert_eq!(registered[0]["actor_handle"], "hank");

    let failed = of_type(&items, "login_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["user_handle"], Value::Null);
    assert_eq!(failed[0]["actor_handle"], Value::Null);

    // Filtering by account still works with the joins (no ambiguous column).
    let hanks = entries(&app, &admin.access, &format!("&user_id={}", hank.user_id)).await;
    assert!(!hanks.is_empty());
    assert!(
        hanks
            .iter()
            .all(|e| e["user_handle"] == "hank" || e["actor_handle"] == "hank"),
        "{hanks:?}"
    );
    // The page and total are those of entries, not of joined rows.
    let page = body(
        app.get_auth("/api/admin/audit-log?per_page=1", &admin.access)
            .await,
    )
    .await;
    assert_eq!(page["total"], items.len());
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], items[0]["id"]);
}

#[tokio::test]
async fn a_deleted_account_leaves_its_entries_without_a_handle() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let gone = app.register("gone").await;
    let res = app
        .delete_auth(&format!("/api/admin/users/{}", gone.user_id), &admin.access)
        .await;
    assert_eq!(res.status(), 204);

    let items = entries(&app, &admin.access, "").await;
    let registered = of_type(&items, "user_registered");
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0]["user_id"], Value::Null);
    assert_eq!(registered[0]["user_handle"], Value::Null);
    let deleted = of_type(&items, "admin_user_deleted");
    assert_eq!(deleted.len(), 1, "{items:?}");
    assert_eq!(deleted[0]["actor_handle"], "root");
    assert_eq!(deleted[0]["user_handle"], Value::Null);
}
