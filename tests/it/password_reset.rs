//! Account recovery: "forgot password" through the e-mailed link (a real SMTP server,
//! aiosmtpd), the token's single use, expiry and concurrency, the attempt limits, and
//! the administrator's reset-password and disable-totp.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::Duration;
use common::smtp::{SmtpServer, aiosmtpd_python, as_read};
use common::{PASSWORD, Session, TestApp, body, enable_totp, now, poll_until};
use docuvault::entities::{audit_log, password_reset_tokens};
use reqwest::Method;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};

const NEW_PASSWORD: &str = "a fresh and long password";

/// The app, sending mail to `smtp`.
async fn app_mailing_to(smtp: &SmtpServer) -> TestApp {
    let port = smtp.port;
    TestApp::spawn_with(|env| {
        env.insert("SMTP_HOST".into(), "127.0.0.1".into());
        env.insert("SMTP_PORT".into(), port.to_string());
    })
    .await
}

async fn ask_for_reset(app: &TestApp, email: &str) -> reqwest::Response {
    app.post_json("/api/auth/password-reset", None, &json!({"email": email}))
        .await
}

async fn confirm(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/api/auth/password-reset/confirm",
        None,
        &json!({"token": token, "password": password}),
    )
    .await
}

async fn login(app: &TestApp, login: &str, password: &str) -> (u16, Value) {
    let res = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": login, "password": password}),
        )
        .await;
    let status = res.status().as_u16();
    (status, body(res).await)
}

/// The audit rows of `event`, oldest first.
async fn audit_rows(app: &TestApp, event: &str) -> Vec<audit_log::Model> {
    use sea_orm::QueryOrder;
    audit_log::Entity::find()
        .filter(audit_log::Column::EventType.eq(event))
        .order_by_asc(audit_log::Column::CreatedAt)
        .all(&app.state.db)
        .await
        .unwrap()
}

/// The token of the reset link in `message`, checking the link's shape.
fn token_in(app: &TestApp, message: &str) -> String {
    let message = as_read(message);
    let prefix = format!("{}/reset-password?token=", app.address);
    let start = message
        .find(&prefix)
        .unwrap_or_else(|| panic!("no link to {prefix} in:\n{message}"))
        + prefix.len();
    let token: String = message[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(token.len(), 43, "a 256-bit token: {token:?}");
    token
}

/// A reset token for `user` stored directly (as the e-mail would carry it), valid for
/// `valid_for` from now (negative: already expired).
async fn stored_token(app: &TestApp, user: &str, valid_for: Duration) -> String {
    let token = docuvault::crypto::random_token();
    let now = docuvault::time::now();
    password_reset_tokens::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        user_id: Set(user.parse().unwrap()),
        token_hash: Set(docuvault::auth::password_reset::token_hash(
            &app.state.keys,
            &token,
        )),
        created_at: Set(now - Duration::minutes(1)),
        expires_at: Set(now + valid_for),
        used_at: Set(None),
        request_ip: Set(None),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    token
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_mailed_link() {
    let Some(python) = aiosmtpd_python() else {
        return;
    };
    let mut smtp = SmtpServer::start(&python).await;
    let app = app_mailing_to(&smtp).await;
    let alice = app.register("alice").await;
    let (secret, _codes) = enable_totp(&app, &alice).await;
    let created = app
        .post_json(
            "/api/auth/tokens",
            Some(&alice.access),
            &json!({"name": "script", "scopes": ["documents:read"]}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let api_token = body(created).await["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get_auth("/api/documents", &api_token).await.status(),
        200
    );

    // An address no account has: the same empty 202, an audit row, and no e-mail.
    let unknown = ask_for_reset(&app, "nobody@example.com").await;
    assert_eq!(unknown.status(), 202);
    assert!(unknown.bytes().await.unwrap().is_empty());
    poll_until(
        std::time::Duration::from_secs(10),
        "the unknown address to be handled",
        || async {
            audit_rows(&app, "password_reset_requested")
                .await
                .into_iter()
                .find(|r| r.user_id.is_none())
        },
    )
    .await;

    let known = ask_for_reset(&app, "  ALICE@example.com ").await;
    assert_eq!(known.status(), 202);
    assert!(known.bytes().await.unwrap().is_empty());
    let mail = smtp
        .wait_for_message("Subject: Reset your DocuVault password")
        .await;
    assert!(mail.contains("To: alice@example.com"), "{mail}");
    assert!(
        !smtp.transcript().contains("nobody@example.com"),
        "nothing was sent to the unknown address:\n{}",
        smtp.transcript()
    );
    let token = token_in(&app, &mail);
    assert!(as_read(&mail).contains("30 minutes"), "{mail}");

    // Only a keyed hash of the token is stored.
    let rows = password_reset_tokens::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0].token_hash, token);
    assert!(!rows[0].token_hash.contains(&token));
    assert_eq!(rows[0].user_id.to_string(), alice.user_id);

    // A password the rules refuse leaves the token usable.
    let short = confirm(&app, &token, "short").await;
    assert_eq!(short.status(), 422);
    assert_eq!(body(short).await["code"], "validation_failed");

    let done = confirm(&app, &token, NEW_PASSWORD).await;
    assert_eq!(done.status(), 204);

    // Every session and API token ended.
    assert_eq!(
        app.get_auth("/api/auth/me", &alice.access).await.status(),
        401
    );
    let refreshed = app
        .post_json(
            "/api/auth/refresh",
            None,
            &json!({"refresh_token": alice.refresh}),
        )
        .await;
    assert_eq!(refreshed.status(), 401);
    assert_eq!(
        app.get_auth("/api/documents", &api_token).await.status(),
        401
    );

    // The old password is gone; the new one still needs the second factor.
    assert_eq!(login(&app, "alice", PASSWORD).await.0, 401);
    let (status, answer) = login(&app, "alice", NEW_PASSWORD).await;
    assert_eq!(status, 200);
    assert_eq!(answer["requires_totp"], true, "{answer}");
    assert!(answer.get("access_token").is_none());
    let code = docuvault::auth::totp::code_at(&secret, now() + 30);
    let signed_in = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "alice", "password": NEW_PASSWORD, "totp_code": code}),
        )
        .await;
    assert_eq!(signed_in.status(), 200);

    // The link works once.
    let again = confirm(&app, &token, "yet another password").await;
    assert_eq!(again.status(), 400);
    assert_eq!(body(again).await["code"], "reset_token_invalid");

    // The owner is told the password changed.
    let alert = smtp
        .wait_for_message("Subject: Your DocuVault password was changed")
        .await;
    assert!(alert.contains("To: alice@example.com"), "{alert}");

    // Audited, with the account as subject and never the token.
    let requested = audit_rows(&app, "password_reset_requested").await;
    assert_eq!(requested.len(), 2);
    assert_eq!(requested[0].user_id, None);
    assert_eq!(
        requested[0].metadata.as_ref().unwrap()["reason"],
        "unknown_account"
    );
    assert_eq!(requested[1].user_id.unwrap().to_string(), alice.user_id);
    assert_eq!(
        requested[1].metadata.as_ref().unwrap()["outcome"],
        "success"
    );
    let completed = audit_rows(&app, "password_reset_completed").await;
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].user_id.unwrap().to_string(), alice.user_id);
    let all = serde_json::to_string(
        &audit_log::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap()
            .iter()
            .map(|r| r.metadata.clone())
            .collect::<Vec<_>>(),
    )
    .unwrap();
    assert!(!all.contains(&token));
}

#[tokio::test]
async fn expired_unknown_and_malformed_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let bob = app.register("bob").await;

    // An issued link that expired: 400 with its code.
    let expired = stored_token(&app, &bob.user_id, Duration::seconds(-1)).await;
    let res = confirm(&app, &expired, NEW_PASSWORD).await;
    assert_eq!(res.status(), 400);
    assert_eq!(body(res).await["code"], "reset_token_invalid");
    // Links never issued (or not links at all) are unknown: 404.
    for token in ["no-such-token", "", &"x".repeat(5000), "abc\u{0}def"] {
        let res = confirm(&app, token, NEW_PASSWORD).await;
        assert_eq!(res.status(), 404, "{token:?}");
        assert_eq!(body(res).await["code"], "not_found");
    }
    assert_eq!(login(&app, "bob", PASSWORD).await.0, 200, "unchanged");

    // A valid one works, and uses up every other link of the account with it.
    let first = stored_token(&app, &bob.user_id, Duration::minutes(30)).await;
    let second = stored_token(&app, &bob.user_id, Duration::minutes(30)).await;
    assert_eq!(confirm(&app, &first, NEW_PASSWORD).await.status(), 204);
    let res = confirm(&app, &second, "another long password").await;
    assert_eq!(res.status(), 400);
    assert_eq!(body(res).await["code"], "reset_token_invalid");
    assert_eq!(login(&app, "bob", NEW_PASSWORD).await.0, 200);

    // Bad bodies are 4xx with a code.
    let res = app
        .post_json(
            "/api/auth/password-reset",
            None,
            &json!({"email": "not an address"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(body(res).await["code"], "validation_failed");
    let res = app
        .post_json(
            "/api/auth/password-reset/confirm",
            None,
            &json!({"token": first}),
        )
        .await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn of_two_concurrent_confirms_with_one_token_exactly_one_succeeds() {
    let app = TestApp::spawn().await;
    let carol = app.register("carol").await;
    for round in 0..3 {
        let token = stored_token(&app, &carol.user_id, Duration::minutes(30)).await;
        let (one, two) = (
            format!("first password {round}"),
            format!("second password {round}"),
        );
        let (a, b) = tokio::join!(confirm(&app, &token, &one), confirm(&app, &token, &two));
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [204, 400], "round {round}");
        let winner = if a.status() == 204 { &one } else { &two };
        let loser = if a.status() == 204 { &two } else { &one };
        assert_eq!(login(&app, "carol", winner).await.0, 200);
        assert_eq!(login(&app, "carol", loser).await.0, 401);
    }
    assert_eq!(audit_rows(&app, "password_reset_completed").await.len(), 3);
}

#[tokio::test]
async fn reset_requests_are_limited_per_address_and_per_client() {
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__RATE_LIMIT__PASSWORD_RESET_PER_IP__LIMIT".into(),
            "5".into(),
        );
        env.insert(
            "DOCUVAULT__RATE_LIMIT__PASSWORD_RESET_PER_EMAIL__LIMIT".into(),
            "3".into(),
        );
    })
    .await;
    app.register("dave").await;

    // Per address (in any case), known or not.
    for _ in 0..3 {
        assert_eq!(ask_for_reset(&app, "dave@example.com").await.status(), 202);
    }
    let res = ask_for_reset(&app, "DAVE@example.com").await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
    assert_eq!(body(res).await["code"], "rate_limited");
    // Per client: 5 requests in all, whatever the address.
    assert_eq!(ask_for_reset(&app, "a@example.com").await.status(), 202);
    let res = ask_for_reset(&app, "b@example.com").await;
    assert_eq!(res.status(), 429, "the sixth request from this client");
    assert_eq!(body(res).await["code"], "rate_limited");
}

#[tokio::test]
async fn a_disabled_account_gets_no_link_and_its_links_stop_working() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let erin = app.register("erin").await;
    let token = stored_token(&app, &erin.user_id, Duration::minutes(30)).await;
    let res = app
        .patch_auth(
            &format!("/api/admin/users/{}", erin.user_id),
            &admin.access,
            &json!({"is_active": false}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let res = confirm(&app, &token, NEW_PASSWORD).await;
    assert_eq!(res.status(), 400);
    assert_eq!(body(res).await["code"], "reset_token_invalid");

    assert_eq!(ask_for_reset(&app, "erin@example.com").await.status(), 202);
    let refused = poll_until(
        std::time::Duration::from_secs(10),
        "the disabled account's request to be audited",
        || async { audit_rows(&app, "password_reset_requested").await.pop() },
    )
    .await;
    assert_eq!(refused.user_id.unwrap().to_string(), erin.user_id);
    assert_eq!(
        refused.metadata.as_ref().unwrap()["reason"],
        "account_disabled"
    );
    assert_eq!(
        password_reset_tokens::Entity::find()
            .filter(password_reset_tokens::Column::UsedAt.is_null())
            .all(&app.state.db)
            .await
            .unwrap()
            .len(),
        1,
        "only the link stored before; no new one"
    );

    // An administrator resets like anyone else.
    let admin_id = {
        let me = body(app.get_auth("/api/auth/me", &admin.access).await).await;
        me["id"].as_str().unwrap().to_owned()
    };
    let token = stored_token(&app, &admin_id, Duration::minutes(30)).await;
    assert_eq!(confirm(&app, &token, NEW_PASSWORD).await.status(), 204);
    assert_eq!(login(&app, "root", NEW_PASSWORD).await.0, 200);
}

async fn admin_action(
    app: &TestApp,
    admin: &Session,
    user: &str,
    action: &str,
) -> reqwest::Response {
    app.send(
        Method::POST,
        &format!("/api/admin/users/{user}/{action}"),
        &admin.access,
        None,
    )
    .await
}

#[tokio::test]
async fn an_admin_reset_makes_the_user_choose_a_new_password_at_next_sign_in() {
    let Some(python) = aiosmtpd_python() else {
        return;
    };
    let mut smtp = SmtpServer::start(&python).await;
    let app = app_mailing_to(&smtp).await;
    let admin = app.admin("boss").await;
    let frank = app.register("frank").await;
    let link = stored_token(&app, &frank.user_id, Duration::minutes(30)).await;

    let res = admin_action(&app, &admin, &frank.user_id, "reset-password").await;
    assert_eq!(res.status(), 200);
    let temporary = body(res).await["temporary_password"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(temporary.len() >= 16, "{temporary}");

    // Sessions ended, and a reset link sent before no longer works.
    assert_eq!(
        app.get_auth("/api/auth/me", &frank.access).await.status(),
        401
    );
    assert_eq!(confirm(&app, &link, NEW_PASSWORD).await.status(), 400);
    assert_eq!(login(&app, "frank", PASSWORD).await.0, 401);

    // The temporary password signs in, to nothing but the password change.
    let (status, session) = login(&app, "frank", &temporary).await;
    assert_eq!(status, 200);
    assert_eq!(session["user"]["password_must_change"], true);
    let access = session["access_token"].as_str().unwrap();
    let res = app.get_auth("/api/documents", access).await;
    assert_eq!(res.status(), 403);
    assert_eq!(body(res).await["code"], "password_change_required");
    let changed = app
        .post_json(
            "/api/auth/password",
            Some(access),
            &json!({"current_password": temporary, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(changed.status(), 200);
    let access = body(changed).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.get_auth("/api/documents", &access).await.status(), 200);

    let mail = smtp
        .wait_for_message("Subject: An administrator reset your DocuVault password")
        .await;
    assert!(mail.contains("To: frank@example.com"), "{mail}");
    assert!(
        !as_read(&mail).contains(&temporary),
        "the password is never mailed"
    );

    let rows = audit_rows(&app, "admin_password_reset").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].user_id.unwrap().to_string(), frank.user_id);
    let admin_id = body(app.get_auth("/api/auth/me", &admin.access).await).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(rows[0].actor_id.unwrap().to_string(), admin_id);

    // Not on oneself, not on a missing account, not by a regular user.
    let res = admin_action(&app, &admin, &admin_id, "reset-password").await;
    assert_eq!(res.status(), 409);
    assert_eq!(body(res).await["code"], "cannot_modify_self");
    let res = admin_action(
        &app,
        &admin,
        &uuid::Uuid::new_v4().to_string(),
        "reset-password",
    )
    .await;
    assert_eq!(res.status(), 404);
    let grace = app.register("grace").await;
    let res = admin_action(&app, &grace, &frank.user_id, "reset-password").await;
    assert_eq!(res.status(), 403);
    assert_eq!(login(&app, "frank", NEW_PASSWORD).await.0, 200, "unchanged");
}

#[tokio::test]
async fn an_admin_turns_off_a_users_two_factor_authentication() {
    let Some(python) = aiosmtpd_python() else {
        return;
    };
    let mut smtp = SmtpServer::start(&python).await;
    let app = app_mailing_to(&smtp).await;
    let admin = app.admin("boss").await;
    let heidi = app.register("heidi").await;
    enable_totp(&app, &heidi).await;
    let (_, answer) = login(&app, "heidi", PASSWORD).await;
    assert_eq!(answer["requires_totp"], true);

    let res = admin_action(&app, &admin, &heidi.user_id, "disable-totp").await;
    assert_eq!(res.status(), 204);
    let (status, answer) = login(&app, "heidi", PASSWORD).await;
    assert_eq!(status, 200);
    assert_eq!(answer["requires_totp"], false, "{answer}");
    assert_eq!(answer["user"]["totp_enabled"], false);
    assert!(answer["access_token"].is_string());

    let res = admin_action(&app, &admin, &heidi.user_id, "disable-totp").await;
    assert_eq!(res.status(), 409);
    assert_eq!(body(res).await["code"], "totp_not_enabled");
    let admin_id = body(app.get_auth("/api/auth/me", &admin.access).await).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = admin_action(&app, &admin, &admin_id, "disable-totp").await;
    assert_eq!(res.status(), 409);
    assert_eq!(body(res).await["code"], "cannot_modify_self");

    let mail = smtp
        .wait_for_message("Subject: Two-factor authentication was turned off")
        .await;
    assert!(mail.contains("To: heidi@example.com"), "{mail}");
    assert!(as_read(&mail).contains("administrator"), "{mail}");

    let rows = audit_rows(&app, "admin_totp_disabled").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].user_id.unwrap().to_string(), heidi.user_id);
    assert_eq!(rows[0].actor_id.unwrap().to_string(), admin_id);
}
