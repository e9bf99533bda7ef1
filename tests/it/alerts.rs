//! Security e-mails reach a real SMTP server (aiosmtpd), and client IPs come from
//! `X-Forwarded-For` only behind a trusted proxy.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::smtp::{SmtpServer, aiosmtpd_python};
use common::{PASSWORD, Session, TestApp, enable_totp};
use serde_json::{Value, json};

async fn login_from(app: &TestApp, ip: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({"login": "alice", "password": password}))
        .send()
        .await
        .unwrap()
}

async fn last_login_ip(app: &TestApp) -> String {
    use docuvault::entities::audit_log;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    audit_log::Entity::find()
        .filter(audit_log::Column::EventType.eq("login_succeeded"))
        .order_by_desc(audit_log::Column::CreatedAt)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .ip_address
        .unwrap()
}

#[tokio::test]
async fn new_ip_logins_password_changes_and_2fa_off_are_mailed() {
    let Some(python) = aiosmtpd_python() else {
        return;
    };
    let mut smtp = SmtpServer::start(&python).await;
    let port = smtp.port;
    let app = TestApp::spawn_with(|env| {
        env.insert("SMTP_HOST".into(), "127.0.0.1".into());
        env.insert("SMTP_PORT".into(), port.to_string());
        env.insert(
            "DOCUVAULT__AUTH__TRUSTED_PROXIES".into(),
            "127.0.0.1/32".into(),
        );
    })
    .await;
    app.register("alice").await;

    // First sign-in ever and a repeat from the same address: nothing to report.
    assert_eq!(
        login_from(&app, "203.0.113.7", PASSWORD).await.status(),
        200
    );
    assert_eq!(
        login_from(&app, "203.0.113.7", PASSWORD).await.status(),
        200
    );
    assert_eq!(last_login_ip(&app).await, "203.0.113.7");
    // A new address: alert.
    let res = login_from(&app, "198.51.100.9", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let session: Value = res.json().await.unwrap();
    let access = session["access_token"].as_str().unwrap().to_owned();
    let mail = smtp.wait_for_message("198.51.100.9").await;
    assert!(mail.contains("New sign-in"), "{mail}");
    assert!(mail.contains("alice@example.com"), "{mail}");
    assert!(
        !mail.contains("203.0.113.7"),
        "only the new address is reported"
    );

    let changed = app
        .post_json(
            "/api/auth/password",
            Some(&access),
            &json!({"current_password": PASSWORD, "new_password": "a brand new password"}),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let mail = smtp.wait_for_message("password was changed").await;
    assert!(mail.contains("alice@example.com"));
    assert!(
        !mail.contains("a brand new password"),
        "no secrets in e-mails"
    );

    let token: Value = changed.json().await.unwrap();
    let session = Session {
        access: token["access_token"].as_str().unwrap().to_owned(),
        refresh: String::new(),
        user_id: token["user"]["id"].as_str().unwrap().to_owned(),
    };
    let (_, codes) = enable_totp(&app, &session).await;
    let off = app
        .post_json(
            "/api/auth/totp/disable",
            Some(&session.access),
            &json!({"password": "a brand new password", "code": codes[0]}),
        )
        .await;
    assert_eq!(off.status(), 200);
    let mail = smtp
        .wait_for_message("Two-factor authentication was turned off")
        .await;
    assert!(mail.contains("alice@example.com"));
    assert!(!mail.contains(&codes[0]), "no codes in e-mails");
}

#[tokio::test]
async fn forwarded_for_is_ignored_without_a_trusted_proxy() {
    let app = TestApp::spawn().await;
    app.register("alice").await;
    assert_eq!(
        login_from(&app, "203.0.113.7", PASSWORD).await.status(),
        200
    );
    assert_eq!(last_login_ip(&app).await, "127.0.0.1");
}

#[tokio::test]
async fn cors_admits_only_the_configured_origins() {
    let app = TestApp::spawn_with(|env| {
        env.insert("CORS_ORIGINS".into(), "http://ui.example.com".into());
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = preflight("http://ui.example.com").await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "http://ui.example.com"
    );
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let evil = preflight("http://evil.example.com").await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
}
