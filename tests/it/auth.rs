//! Account flows end to end over HTTP: registration, login, cookies, TOTP, backup codes,
//! forced password change, roles, admin, audit log, rate limits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::body;

use common::{PASSWORD, Session, TestApp, enable_totp, now};
use serde_json::{Value, json};

async fn audit_events(app: &TestApp, admin: &Session, query: &str) -> Vec<Value> {
    let res = app
        .get_auth(
            &format!("/api/admin/audit-log?per_page=100{query}"),
            &admin.access,
        )
        .await;
    assert_eq!(res.status(), 200);
    body(res).await["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn register_login_me_and_quota() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    assert!(!alice.refresh.is_empty());

    let me = body(app.get_auth("/api/auth/me", &alice.access).await).await;
    assert_eq!(me["handle"], "alice");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["role"], "user");
    assert_eq!(me["totp_enabled"], false);

    let quota = body(app.get_auth("/api/auth/me/quota", &alice.access).await).await;
    assert_eq!(
        quota,
        json!({"used_bytes": 0, "limit_bytes": 104857600, "reserved_bytes": 0})
    );

    let again = app.login("ALICE@example.com", PASSWORD).await;
    assert_eq!(again.user_id, alice.user_id);
    let by_handle = app.login("alice", PASSWORD).await;
    assert_eq!(by_handle.user_id, alice.user_id);

    let res = app.get("/api/auth/me").await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_eq!(body(res).await["code"], "unauthorized");
}

#[tokio::test]
async fn registration_rejects_bad_and_duplicate_input() {
    let app = TestApp::spawn().await;
    app.register("bob").await;
    let cases = [
        (
            json!({"handle": "bob", "email": "other@example.com", "password": PASSWORD}),
            409,
        ),
        (
            json!({"handle": "bob2", "email": "BOB@example.com", "password": PASSWORD}),
            409,
        ),
        (
            json!({"handle": "x", "email": "x@example.com", "password": PASSWORD}),
            422,
        ),
        (
            json!({"handle": "carol", "email": "not-an-email", "password": PASSWORD}),
            422,
        ),
        (
            json!({"handle": "carol", "email": "c@example.com", "password": "short"}),
            422,
        ),
        (
            json!({"handle": "carol", "email": "c@example.com", "password": "x".repeat(1025)}),
            422,
        ),
        (json!({"handle": "carol", "email": "c@example.com"}), 422),
        (
            json!({"handle": "carol", "email": "c@example.com", "password": PASSWORD, "role": "admin"}),
            422,
        ),
    ];
    for (payload, status) in cases {
        let res = app.post_json("/api/auth/register", None, &payload).await;
        assert_eq!(res.status(), status, "{payload}");
        let b = body(res).await;
        assert!(b["code"].is_string() && b["message"].is_string(), "{b}");
    }
    let raw = app
        .post_raw("/api/auth/register", None, "application/json", "{not json")
        .await;
    assert_eq!(raw.status(), 400);
    let big = app
        .post_json(
            "/api/auth/register",
            None,
            &json!({"handle": "a", "email": "a@b.co", "password": "x".repeat(70_000)}),
        )
        .await;
    assert_eq!(big.status(), 413);
    // A password of 1024 multi-byte characters is accepted whole (no truncation).
    let long = "é".repeat(1024);
    let ok = app
        .post_json(
            "/api/auth/register",
            None,
            &json!({"handle": "longpw", "email": "l@example.com", "password": long}),
        )
        .await;
    assert_eq!(ok.status(), 201);
    let truncated = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "longpw", "password": "é".repeat(1023)}),
        )
        .await;
    assert_eq!(truncated.status(), 401);
}

#[tokio::test]
async fn registration_can_be_disabled() {
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__AUTH__REGISTRATION_ENABLED".into(),
            "false".into(),
        );
    })
    .await;
    let res = app
        .post_json(
            "/api/auth/register",
            None,
            &json!({"handle": "eve", "email": "eve@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(body(res).await["code"], "registration_disabled");
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_the_same() {
    let app = TestApp::spawn().await;
    app.register("dave").await;
    let wrong = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "dave", "password": "wrong password"}),
        )
        .await;
    let unknown = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "nobody", "password": "wrong password"}),
        )
        .await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(body(wrong).await, body(unknown).await);
}

#[tokio::test]
async fn the_web_ui_gets_the_refresh_token_only_in_a_strict_httponly_cookie() {
    let app = TestApp::spawn().await;
    let res = app
        .post_json(
            "/api/auth/register",
            None,
            &json!({"handle": "webby", "email": "w@example.com", "password": PASSWORD, "session": "cookie"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in [
        "docuvault_refresh=",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/api/auth",
    ] {
        assert!(cookie.contains(attr), "{attr} missing in {cookie}");
    }
    let b = body(res).await;
    assert!(b.get("refresh_token").is_none(), "{b}");
    let value = cookie.split(';').next().unwrap().to_owned();

    let refreshed = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("cookie", &value)
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), 200);
    let rotated = refreshed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(rotated.starts_with("docuvault_refresh="));
    assert_ne!(rotated.split(';').next().unwrap(), value);
    let b = body(refreshed).await;
    assert!(b["access_token"].is_string());
    assert!(b.get("refresh_token").is_none());

    let none = app
        .client
        .post(app.url("/api/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
}

/// All `Set-Cookie` values of a response for cookie `name`.
fn set_cookies(res: &reqwest::Response, name: &str) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .filter(|c| c.starts_with(&format!("{name}=")))
        .collect()
}

fn max_age(cookie: &str) -> i64 {
    cookie
        .split(';')
        .find_map(|a| a.trim().strip_prefix("Max-Age="))
        .unwrap_or_else(|| panic!("no Max-Age in {cookie}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_readable_marker_cookie_lives_exactly_as_long_as_the_refresh_cookie() {
    let app = TestApp::spawn().await;
    app.register("marky").await;
    let res = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "marky", "password": PASSWORD, "session": "cookie"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let refresh = set_cookies(&res, "docuvault_refresh");
    let marker = set_cookies(&res, "docuvault_session");
    assert_eq!(
        (refresh.len(), marker.len()),
        (1, 1),
        "{refresh:?} {marker:?}"
    );
    let (refresh, marker) = (&refresh[0], &marker[0]);
    // Readable by the page (no HttpOnly), on every path, holding nothing secret.
    assert!(marker.starts_with("docuvault_session=1;"), "{marker}");
    assert!(!marker.contains("HttpOnly"), "{marker}");
    for attr in ["Path=/;", "Secure", "SameSite=Strict"] {
        assert!(
            format!("{marker};").contains(attr),
            "{attr} missing in {marker}"
        );
    }
    assert!(max_age(marker) > 0);
    assert!(
        (max_age(marker) - max_age(refresh)).abs() <= 1,
        "{marker} {refresh}"
    );
    let value = refresh.split(';').next().unwrap().to_owned();

    // Rotated with the refresh cookie.
    let res = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("cookie", &value)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let marker = set_cookies(&res, "docuvault_session");
    assert_eq!(marker.len(), 1);
    assert!(marker[0].starts_with("docuvault_session=1;") && max_age(&marker[0]) > 0);

    // A refused refresh cookie clears both cookies.
    let res = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("cookie", "docuvault_refresh=made-up; docuvault_session=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    for name in ["docuvault_refresh", "docuvault_session"] {
        let c = set_cookies(&res, name);
        assert_eq!(c.len(), 1, "{name}");
        assert_eq!(max_age(&c[0]), 0, "{}", c[0]);
    }

    // No refresh cookie at all (a marker left behind): the marker is cleared too.
    let res = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("cookie", "docuvault_session=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let c = set_cookies(&res, "docuvault_session");
    assert_eq!((c.len(), max_age(&c[0])), (1, 0), "{c:?}");

    // Signing out clears both.
    let s = app.login("marky", PASSWORD).await;
    let res = app
        .post_json("/api/auth/logout", Some(&s.access), &json!({}))
        .await;
    assert_eq!(res.status(), 204);
    for name in ["docuvault_refresh", "docuvault_session"] {
        let c = set_cookies(&res, name);
        assert_eq!((c.len(), max_age(&c[0])), (1, 0), "{name} {c:?}");
    }
}

#[tokio::test]
async fn refresh_rotates_and_logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let s = app.register("erin").await;
    let res = app
        .post_json(
            "/api/auth/refresh",
            None,
            &json!({"refresh_token": s.refresh}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let next = Session::from_body(body(res).await);
    assert_ne!(next.refresh, s.refresh);
    assert_eq!(
        app.get_auth("/api/auth/me", &next.access).await.status(),
        200
    );

    let out = app
        .post_json("/api/auth/logout", Some(&next.access), &json!({}))
        .await;
    assert_eq!(out.status(), 204);
    assert_eq!(
        app.get_auth("/api/auth/me", &next.access).await.status(),
        401
    );
    let res = app
        .post_json(
            "/api/auth/refresh",
            None,
            &json!({"refresh_token": next.refresh}),
        )
        .await;
    assert_eq!(res.status(), 401);
    let res = app
        .post_json(
            "/api/auth/refresh",
            None,
            &json!({"refresh_token": "made-up"}),
        )
        .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn totp_login_backup_codes_and_disable() {
    let app = TestApp::spawn().await;
    let s = app.register("frank").await;
    let (secret, codes) = enable_totp(&app, &s).await;

    // A second setup while enabled is refused; the secret is never shown again.
    let again = app
        .post_json("/api/auth/totp/setup", Some(&s.access), &json!({}))
        .await;
    assert_eq!(again.status(), 409);
    let me = body(app.get_auth("/api/auth/me", &s.access).await).await;
    assert_eq!(me["totp_enabled"], true);
    assert!(me.get("totp_secret").is_none());

    let first = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "frank", "password": PASSWORD}),
        )
        .await;
    assert_eq!(first.status(), 200);
    let first = body(first).await;
    assert_eq!(first["requires_totp"], true);
    assert!(first.get("access_token").is_none());

    // The code used for enabling is spent; the next step's code works once.
    let next_code = docuvault::auth::totp::code_at(&secret, now() + 30);
    let ok = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "frank", "password": PASSWORD, "totp_code": next_code}),
        )
        .await;
    assert_eq!(ok.status(), 200);
    assert!(body(ok).await["access_token"].is_string());
    let replay = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "frank", "password": PASSWORD, "totp_code": next_code}),
        )
        .await;
    assert_eq!(replay.status(), 401);
    assert_eq!(body(replay).await["code"], "invalid_second_factor");

    let with_backup = |code: String| {
        let app = &app;
        async move {
            app.post_json(
                "/api/auth/login",
                None,
                &json!({"login": "frank", "password": PASSWORD, "backup_code": code}),
            )
            .await
            .status()
        }
    };
    assert_eq!(
        with_backup(codes[0].to_uppercase().replace('-', " ")).await,
        200
    );
    assert_eq!(
        with_backup(codes[0].clone()).await,
        401,
        "backup codes are single-use"
    );

    // Regenerating invalidates the old codes.
    let wrong = app
        .post_json(
            "/api/auth/backup-codes",
            Some(&s.access),
            &json!({"password": "nope nope"}),
        )
        .await;
    assert_eq!(wrong.status(), 403);
    let fresh = app
        .post_json(
            "/api/auth/backup-codes",
            Some(&s.access),
            &json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(fresh.status(), 200);
    let fresh: Vec<String> = body(fresh).await["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(with_backup(codes[1].clone()).await, 401);

    // Disabling needs the password and a code; other sessions end.
    let other = app.login_with_code("frank", &fresh[0]).await;
    let off = app
        .post_json(
            "/api/auth/totp/disable",
            Some(&s.access),
            &json!({"password": PASSWORD, "code": fresh[1]}),
        )
        .await;
    assert_eq!(off.status(), 200);
    let new_access = body(off).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get_auth("/api/auth/me", &other).await.status(), 401);
    let me = body(app.get_auth("/api/auth/me", &new_access).await).await;
    assert_eq!(me["totp_enabled"], false);
    app.login("frank", PASSWORD).await;
}

trait LoginWithCode {
    async fn login_with_code(&self, login: &str, backup_code: &str) -> String;
}

impl LoginWithCode for TestApp {
    async fn login_with_code(&self, login: &str, backup_code: &str) -> String {
        let res = self
            .post_json(
                "/api/auth/login",
                None,
                &json!({"login": login, "password": PASSWORD, "backup_code": backup_code}),
            )
            .await;
        assert_eq!(res.status(), 200);
        body(res).await["access_token"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn admin_created_accounts_must_change_their_password_first() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let created = app
        .post_json(
            "/api/admin/users",
            Some(&admin.access),
            &json!({"email": "gina@example.com", "handle": "gina", "password": "temporary-pass-1", "quota_limit_bytes": 5000}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created = body(created).await;
    assert_eq!(created["password_must_change"], true);
    assert_eq!(created["limit_bytes"], 5000);

    let gina = app.login("gina", "temporary-pass-1").await;
    let me = app.get_auth("/api/auth/me", &gina.access).await;
    assert_eq!(me.status(), 200);
    assert_eq!(body(me).await["password_must_change"], true);
    let blocked = app.get_auth("/api/auth/me/quota", &gina.access).await;
    assert_eq!(blocked.status(), 403);
    assert_eq!(body(blocked).await["code"], "password_change_required");

    let changed = app
        .post_json(
            "/api/auth/password",
            Some(&gina.access),
            &json!({"current_password": "temporary-pass-1", "new_password": "gina's own password"}),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let token = body(changed).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let quota = body(app.get_auth("/api/auth/me/quota", &token).await).await;
    assert_eq!(quota["limit_bytes"], 5000);
    assert_eq!(
        app.get_auth("/api/auth/me", &gina.access).await.status(),
        401
    );
}

#[tokio::test]
async fn roles_admin_management_and_the_audit_log() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let user = app.register("hank").await;

    for path in [
        "/api/admin/users",
        "/api/admin/audit-log",
        "/api/admin/stats",
    ] {
        let res = app.get_auth(path, &user.access).await;
        assert_eq!(res.status(), 403, "{path}");
    }
    let page = body(
        app.get_auth("/api/admin/users?per_page=1&page=1", &admin.access)
            .await,
    )
    .await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get_auth("/api/admin/users?per_page=101", &admin.access)
            .await
            .status(),
        400
    );
    let stats = body(app.get_auth("/api/admin/stats", &admin.access).await).await;
    assert_eq!(stats["users"], 2);
    assert_eq!(stats["admins"], 1);

    // Disabling cuts off existing tokens and refuses login.
    let path = format!("/api/admin/users/{}", user.user_id);
    let res = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&admin.access)
        .json(&json!({"is_active": false, "quota_limit_bytes": 1234}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let updated = body(res).await;
    assert_eq!(
        (updated["is_active"].clone(), updated["limit_bytes"].clone()),
        (json!(false), json!(1234))
    );
    assert_eq!(
        app.get_auth("/api/auth/me", &user.access).await.status(),
        401
    );
    let refused = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "hank", "password": PASSWORD}),
        )
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(body(refused).await["code"], "account_disabled");

    // The admin cannot lock themselves out.
    let own = format!("/api/admin/users/{}", admin.user_id);
    let res = app
        .client
        .patch(app.url(&own))
        .bearer_auth(&admin.access)
        .json(&json!({"role": "user"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);

    let missing = format!("/api/admin/users/{}", uuid::Uuid::new_v4());
    let res = app
        .client
        .delete(app.url(&missing))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let page = body(app.get_auth("/api/admin/users", &admin.access).await).await;
    assert_eq!(page["total"], 1);

    let events: Vec<String> = audit_events(&app, &admin, "")
        .await
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_owned())
        .collect();
    for expected in [
        "user_registered",
        "login_succeeded",
        "login_failed",
        "admin_user_updated",
        "admin_user_deleted",
    ] {
        assert!(
            events.iter().any(|e| e == expected),
            "{expected} not in {events:?}"
        );
    }
    let failed = audit_events(&app, &admin, "&event_type=login_failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["metadata"]["outcome"], "failure");
    assert!(
        failed[0]["ip_address"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1")
    );
    let dump = serde_json::to_string(&audit_events(&app, &admin, "").await).unwrap();
    assert!(!dump.contains(PASSWORD));
    assert!(!dump.contains(&admin.refresh));
}

#[tokio::test]
async fn login_attempts_are_rate_limited_with_retry_after() {
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__RATE_LIMIT__LOGIN_PER_IP__LIMIT".into(),
            "3".into(),
        );
    })
    .await;
    app.register("ivan").await;
    for _ in 0..3 {
        let res = app
            .post_json(
                "/api/auth/login",
                None,
                &json!({"login": "ivan", "password": "bad password"}),
            )
            .await;
        assert_eq!(res.status(), 401);
    }
    for _ in 0..2 {
        let res = app
            .post_json(
                "/api/auth/login",
                None,
                &json!({"login": "ivan", "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status(), 429);
        let retry: u64 = res.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        // A sliding window may ask for up to two windows.
        assert!((1..=600).contains(&retry), "Retry-After {retry}");
        assert_eq!(body(res).await["code"], "rate_limited");
    }
    assert_eq!(
        count_events(&app, "rate_limited").await,
        1,
        "one audit row per tripped window, not per request"
    );
}

async fn count_events(app: &TestApp, event: &str) -> usize {
    use docuvault::entities::audit_log;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    audit_log::Entity::find()
        .filter(audit_log::Column::EventType.eq(event))
        .all(&app.state.db)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn the_first_admin_is_bootstrapped_from_the_environment() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT_ADMIN_EMAIL".into(), "boss@example.com".into());
        env.insert(
            "DOCUVAULT_ADMIN_PASSWORD".into(),
            "bootstrap password".into(),
        );
    })
    .await;
    let s = app.login("boss@example.com", "bootstrap password").await;
    let me = body(app.get_auth("/api/auth/me", &s.access).await).await;
    assert_eq!(me["role"], "admin");
    assert_eq!(me["handle"], "admin");
}

#[tokio::test]
async fn bodies_must_be_json_objects_and_whole_numbers_may_be_written_as_floats() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let user = app.register("judy").await;
    let raw =
        |path: &'static str, body: &'static str| app.post_raw(path, None, "application/json", body);
    let arr = raw("/api/auth/login", r#"["judy", "password"]"#).await;
    assert_eq!(arr.status(), 422);
    assert_eq!(body(arr).await["code"], "validation_failed");
    let null = raw("/api/auth/refresh", "null").await;
    assert_eq!(null.status(), 401, "a null body means no body");

    let path = format!("/api/admin/users/{}", user.user_id);
    let patch = |value: Value| {
        app.client
            .patch(app.url(&path))
            .bearer_auth(&admin.access)
            .json(&value)
            .send()
    };
    let ok = patch(json!({"quota_limit_bytes": 2048.0})).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(body(ok).await["limit_bytes"], 2048);
    assert_eq!(
        patch(json!({"quota_limit_bytes": 1.5}))
            .await
            .unwrap()
            .status(),
        422
    );
    assert_eq!(
        patch(json!({"quota_limit_bytes": -1}))
            .await
            .unwrap()
            .status(),
        422
    );
    assert_eq!(
        patch(json!({"role": "superuser"})).await.unwrap().status(),
        422
    );
    assert_eq!(patch(json!([null, null])).await.unwrap().status(), 422);
}

#[tokio::test]
async fn replaying_a_token_whose_successor_was_already_used_ends_the_session() {
    let app = TestApp::spawn().await;
    let a = app.register("kate").await;
    let rotate = |token: String| {
        let app = &app;
        async move {
            app.post_json("/api/auth/refresh", None, &json!({"refresh_token": token}))
                .await
        }
    };
    let b = Session::from_body(body(rotate(a.refresh.clone()).await).await);
    let c = Session::from_body(body(rotate(b.refresh.clone()).await).await);
    // Within the grace window, but B was already used: A is stale, not a lost response.
    let replay = rotate(a.refresh.clone()).await;
    assert_eq!(replay.status(), 401);
    assert_eq!(body(replay).await["code"], "refresh_token_reused");
    assert_eq!(rotate(c.refresh.clone()).await.status(), 401);
    assert_eq!(app.get_auth("/api/auth/me", &c.access).await.status(), 401);
}

#[tokio::test]
async fn nul_characters_are_refused_not_stored() {
    let app = TestApp::spawn().await;
    let res = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "a\u{0}b", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 401, "no such account, and no database error");
    let admin = app.admin("root").await;
    let res = app
        .get_auth("/api/admin/users?q=a%00b", &admin.access)
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_admin_updates_never_fail_with_a_locked_database() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let user = app.register("lena").await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/api/admin/users/{}", user.user_id)),
            admin.access.clone(),
        );
        tasks.push(tokio::spawn(async move {
            client
                .patch(url)
                .bearer_auth(token)
                .json(&json!({"quota_limit_bytes": 1000 + i}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
}

#[tokio::test]
async fn sign_in_settings_are_public() {
    for enabled in [true, false] {
        let app = common::TestApp::spawn_with(|env| {
            env.insert(
                "DOCUVAULT__AUTH__REGISTRATION_ENABLED".into(),
                enabled.to_string(),
            );
        })
        .await;
        let res = app.get("/api/auth/config").await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["registration_enabled"], enabled);
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    }
}

/// What one racing admin does to the next one in the ring.
#[derive(Debug, Clone, Copy)]
enum Removal {
    Demote,
    Disable,
    Delete,
}

/// Ids of the active administrators, read from the database.
async fn active_admin_ids(app: &TestApp) -> Vec<String> {
    use docuvault::entities::users;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    users::Entity::find()
        .filter(users::Column::Role.eq("admin"))
        .filter(users::Column::IsActive.eq(true))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id.to_string())
        .collect()
}

/// Admins in a ring each demote, disable or delete the next one, all at once, many
/// times: whatever the interleaving, at least one active admin remains (the check raced
/// on PostgreSQL: two admins demoting each other both succeeded), and every request that
/// lost answers 409 `last_admin` or, when its sender was removed just before, 403
/// `admin_required` (removed while the request was checked) or 401 (removed before its
/// token was). The survivors of a round join the next one with fresh admins.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admins_removing_each_other_at_once_always_leave_one_active_admin() {
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__RATE_LIMIT__LOGIN_PER_IP__LIMIT".into(),
            "10000".into(),
        );
        env.insert("DOCUVAULT__AUTH__ARGON2_MEMORY_KIB".into(), "1024".into());
        env.insert("DOCUVAULT__AUTH__ARGON2_ITERATIONS".into(), "1".into());
    })
    .await;
    let kinds = [Removal::Demote, Removal::Disable, Removal::Delete];
    let mut admins: Vec<Session> = Vec::new();
    let mut created = 0;
    for (ring, rounds) in [(2, 24), (8, 6)] {
        for round in 0..rounds {
            while admins.len() < ring {
                created += 1;
                admins.push(app.admin(&format!("racer{created}")).await);
            }
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(ring));
            let mut tasks = Vec::new();
            for (i, actor) in admins.iter().enumerate() {
                let target = admins[(i + 1) % ring].user_id.clone();
                let kind = kinds[(i + round) % kinds.len()];
                let url = app.url(&format!("/api/admin/users/{target}"));
                let (client, token, barrier) =
                    (app.client.clone(), actor.access.clone(), barrier.clone());
                tasks.push(tokio::spawn(async move {
                    let req = match kind {
                        Removal::Demote => client.patch(url).json(&json!({"role": "user"})),
                        Removal::Disable => client.patch(url).json(&json!({"is_active": false})),
                        Removal::Delete => client.delete(url),
                    };
                    barrier.wait().await;
                    let res = req.bearer_auth(token).send().await.unwrap();
                    let status = res.status().as_u16();
                    let code = res.json::<Value>().await.unwrap_or(Value::Null)["code"]
                        .as_str()
                        .unwrap_or("-")
                        .to_owned();
                    (kind, status, code)
                }));
            }
            let mut outcomes = Vec::new();
            for t in tasks {
                outcomes.push(t.await.unwrap());
            }
            let remaining = active_admin_ids(&app).await;
            assert!(
                !remaining.is_empty(),
                "ring of {ring}, round {round}: no active admin left after {outcomes:?}"
            );
            let succeeded = outcomes
                .iter()
                .filter(|(_, status, _)| matches!(status, 200 | 204))
                .count();
            // Each admin is the target of exactly one request: every success removed one.
            assert_eq!(
                remaining.len(),
                ring - succeeded,
                "ring of {ring}, round {round}: {outcomes:?}"
            );
            for (kind, status, code) in &outcomes {
                assert!(
                    matches!(
                        (*status, code.as_str()),
                        (200 | 204, _)
                            | (409, "last_admin")
                            | (403, "admin_required")
                            | (401, "unauthorized")
                    ),
                    "ring of {ring}, round {round}: {kind:?} answered {status} {code}: {outcomes:?}"
                );
            }
            if ring == 2 {
                assert_eq!(succeeded, 1, "round {round}: {outcomes:?}");
            }
            admins.retain(|s| remaining.contains(&s.user_id));
            // The survivors' sessions were never touched.
            for s in &admins {
                assert_eq!(
                    app.get_auth("/api/admin/stats", &s.access).await.status(),
                    200
                );
            }
        }
    }
}
