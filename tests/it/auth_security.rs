//! Security properties of the account system under adversarial use: refresh-token races
//! and reuse detection, single use of second factors under concurrency, a corpus of
//! forged access tokens, revocation on password change / logout-all, and no plaintext
//! bearer secrets at rest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::body;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{PASSWORD, Session, TestApp, base32_decode, now, poll_until};
use docuvault::entities::{audit_log, backup_codes, refresh_tokens, users};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, Statement,
};
use serde_json::{Value, json};
use uuid::Uuid;

/// How many requests each race fires at once.
const RACERS: usize = 20;

fn now_i64() -> i64 {
    i64::try_from(now()).unwrap()
}

/// Environment that keeps attempt limits and the password-hash queue out of the way of
/// the concurrency tests, and makes hashing cheap so 20 parallel logins stay fast.
fn roomy(env: &mut HashMap<String, String>) {
    for limit in [
        "LOGIN_PER_IP",
        "LOGIN_PER_ACCOUNT",
        "SECOND_FACTOR_PER_ACCOUNT",
        "REFRESH_PER_IP",
        "REGISTER_PER_IP",
        "PASSWORD_PER_ACCOUNT",
    ] {
        env.insert(
            format!("DOCUVAULT__RATE_LIMIT__{limit}__LIMIT"),
            "10000".into(),
        );
    }
    env.insert("DOCUVAULT__AUTH__HASH_CONCURRENCY".into(), "64".into());
    env.insert("DOCUVAULT__AUTH__HASH_QUEUE_PER_PERMIT".into(), "4".into());
    env.insert("DOCUVAULT__AUTH__ARGON2_MEMORY_KIB".into(), "1024".into());
    env.insert("DOCUVAULT__AUTH__ARGON2_ITERATIONS".into(), "1".into());
}

/// Fires `RACERS` copies of `POST path` with `payload` at once (released together by a
/// barrier, each on its own task) and returns `(status, body)` of every response.
async fn race(app: &TestApp, path: &str, payload: Value) -> Vec<(u16, Value)> {
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let url = app.url(path);
    let mut tasks = Vec::with_capacity(RACERS);
    for _ in 0..RACERS {
        let (client, url, payload, barrier) = (
            app.client.clone(),
            url.clone(),
            payload.clone(),
            barrier.clone(),
        );
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let res = client
                .post(url)
                .json(&payload)
                .send()
                .await
                .expect("request");
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }));
    }
    let mut out = Vec::with_capacity(RACERS);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// `(status, error code)` of each response, for compact failure messages.
fn outcomes(results: &[(u16, Value)]) -> Vec<(u16, String)> {
    results
        .iter()
        .map(|(status, b)| (*status, b["code"].as_str().unwrap_or("-").to_owned()))
        .collect()
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/auth/refresh", None, &json!({"refresh_token": token}))
        .await
}

async fn me_status(app: &TestApp, access: &str) -> u16 {
    app.get_auth("/api/auth/me", access).await.status().as_u16()
}

/// The refresh-token row whose plaintext is `token`.
async fn token_row(app: &TestApp, token: &str) -> refresh_tokens::Model {
    refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(app.state.keys.hash_token(token)))
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("refresh token row")
}

async fn family_rows(app: &TestApp, family: Uuid) -> Vec<refresh_tokens::Model> {
    refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::FamilyId.eq(family))
        .all(&app.state.db)
        .await
        .unwrap()
}

/// Enrols TOTP for `s`; returns (base32 secret, secret bytes, backup codes).
async fn enable_totp(app: &TestApp, s: &Session) -> (String, Vec<u8>, Vec<String>) {
    let setup = app
        .post_json("/api/auth/totp/setup", Some(&s.access), &json!({}))
        .await;
    assert_eq!(setup.status(), 200);
    let b32 = body(setup).await["secret"].as_str().unwrap().to_owned();
    let secret = base32_decode(&b32);
    assert_eq!(secret.len(), 20);
    let code = docuvault::auth::totp::code_at(&secret, now());
    let enabled = app
        .post_json(
            "/api/auth/totp/enable",
            Some(&s.access),
            &json!({"code": code}),
        )
        .await;
    assert_eq!(enabled.status(), 200);
    let codes: Vec<String> = body(enabled).await["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (b32, secret, codes)
}

// ---------------------------------------------------------------------------------------
// 1. Refresh race: one token, many concurrent refreshes, exactly one successor.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_token_yield_exactly_one_successor() {
    let app = TestApp::spawn_with(|env| {
        roomy(env);
        // Generous, so a slow machine cannot push a racer out of the window.
        env.insert("DOCUVAULT__AUTH__REFRESH_GRACE_SECS".into(), "60".into());
    })
    .await;
    let s = app.register("racer").await;
    let family = token_row(&app, &s.refresh).await.family_id;

    let results = race(
        &app,
        "/api/auth/refresh",
        json!({"refresh_token": s.refresh}),
    )
    .await;
    let mut successors: Vec<String> = Vec::new();
    let mut accesses: Vec<String> = Vec::new();
    for (status, b) in &results {
        match status {
            200 => {
                successors.push(b["refresh_token"].as_str().unwrap().to_owned());
                accesses.push(b["access_token"].as_str().unwrap().to_owned());
            }
            401 => assert_eq!(b["code"], "invalid_refresh_token", "{b}"),
            other => panic!("unexpected status {other}: {b}"),
        }
    }
    assert!(
        !successors.is_empty(),
        "no refresh succeeded: {:?}",
        outcomes(&results)
    );
    let successor = successors[0].clone();
    assert_ne!(successor, s.refresh);
    assert!(
        successors.iter().all(|t| *t == successor),
        "the racers were handed different successors: {successors:?}"
    );
    for access in &accesses {
        assert_eq!(me_status(&app, access).await, 200);
    }

    // Exactly one new row in the family, and it is the successor everyone got.
    let rows = family_rows(&app, family).await;
    let original_hash = app.state.keys.hash_token(&s.refresh);
    let new_rows: Vec<_> = rows
        .iter()
        .filter(|r| r.token_hash != original_hash)
        .collect();
    assert_eq!(new_rows.len(), 1, "{rows:#?}");
    assert_eq!(
        new_rows[0].token_hash,
        app.state.keys.hash_token(&successor)
    );
    assert!(!new_rows[0].revoked);
    assert!(new_rows[0].rotated_at.is_none());
    let original = rows.iter().find(|r| r.token_hash == original_hash).unwrap();
    assert_eq!(original.replaced_by, Some(new_rows[0].id));
    assert!(original.rotated_at.is_some());
    assert!(!original.revoked);

    // The successor is a normal, working refresh token.
    let res = refresh(&app, &successor).await;
    assert_eq!(res.status(), 200);
    let next = Session::from_body(body(res).await);
    assert_ne!(next.refresh, successor);
    assert_ne!(next.refresh, s.refresh);
    assert_eq!(me_status(&app, &next.access).await, 200);
    assert_eq!(family_rows(&app, family).await.len(), 3);
}

// ---------------------------------------------------------------------------------------
// 2. Reuse after the grace window revokes the whole family.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn reuse_of_a_rotated_token_after_the_grace_window_revokes_the_session() {
    let app = TestApp::spawn_with(|env| {
        env.insert("DOCUVAULT__AUTH__REFRESH_GRACE_SECS".into(), "0".into());
    })
    .await;
    let a = app.register("reuser").await;
    // An unrelated second session of the same account.
    let other = app.login("reuser", PASSWORD).await;

    let res = refresh(&app, &a.refresh).await;
    assert_eq!(res.status(), 200);
    let b = Session::from_body(body(res).await);
    assert_ne!(b.refresh, a.refresh);
    assert_eq!(me_status(&app, &b.access).await, 200);

    // Grace is 0: wait (briefly) until the clock has moved past the rotation instant.
    let rotated = token_row(&app, &a.refresh).await;
    let rotated_at = rotated.rotated_at.expect("A was rotated");
    poll_until(
        Duration::from_secs(2),
        "the clock to pass rotated_at",
        || async {
            (chrono::Utc::now() > rotated_at + chrono::Duration::milliseconds(2)).then_some(())
        },
    )
    .await;

    let res = refresh(&app, &a.refresh).await;
    assert_eq!(res.status(), 401);
    assert_eq!(body(res).await["code"], "refresh_token_reused");

    // The newest token of the family is dead too, and so are the session's access tokens.
    let res = refresh(&app, &b.refresh).await;
    assert_eq!(res.status(), 401);
    let code = body(res).await["code"].as_str().unwrap().to_owned();
    assert!(
        code == "invalid_refresh_token" || code == "refresh_token_reused",
        "{code}"
    );
    assert_eq!(me_status(&app, &b.access).await, 401);
    assert_eq!(me_status(&app, &a.access).await, 401);
    let rows = family_rows(&app, rotated.family_id).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.revoked), "{rows:#?}");

    // Presenting A again does not resurrect anything.
    assert_eq!(refresh(&app, &a.refresh).await.status(), 401);

    // Only that session ended.
    assert_eq!(me_status(&app, &other.access).await, 200);
    assert_eq!(refresh(&app, &other.refresh).await.status(), 200);

    let user_id = Uuid::parse_str(&a.user_id).unwrap();
    let audits = audit_log::Entity::find()
        .filter(audit_log::Column::EventType.eq("refresh_reuse_detected"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(!audits.is_empty(), "no refresh_reuse_detected audit row");
    assert!(audits.iter().all(|r| r.user_id == Some(user_id)));
    assert!(
        audits
            .iter()
            .any(|r| r.resource_id.as_deref() == Some(rotated.family_id.to_string().as_str())),
        "{audits:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// 3. A TOTP code and a backup code each work exactly once under concurrency.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_factor_code_signs_in_exactly_once_under_concurrency() {
    let app = TestApp::spawn_with(roomy).await;
    let s = app.register("twofa").await;
    let (_, secret, codes) = enable_totp(&app, &s).await;
    let user_id = Uuid::parse_str(&s.user_id).unwrap();

    let check = |results: &[(u16, Value)], what: &str| {
        let ok: Vec<&Value> = results
            .iter()
            .filter(|(st, _)| *st == 200)
            .map(|(_, b)| b)
            .collect();
        assert_eq!(ok.len(), 1, "{what}: {:?}", outcomes(results));
        assert_eq!(ok[0]["requires_totp"], false);
        let access = ok[0]["access_token"].as_str().unwrap().to_owned();
        for (status, b) in results.iter().filter(|(st, _)| *st != 200) {
            assert_eq!(*status, 401, "{what}: {b}");
            assert_eq!(b["code"], "invalid_second_factor", "{what}: {b}");
        }
        access
    };

    // Enabling spent the current step; the next step's code is accepted (±1 step) once.
    let next_code = docuvault::auth::totp::code_at(&secret, now() + 30);
    let results = race(
        &app,
        "/api/auth/login",
        json!({"login": "twofa", "password": PASSWORD, "totp_code": next_code}),
    )
    .await;
    let access = check(&results, "TOTP");
    assert_eq!(me_status(&app, &access).await, 200);

    let results = race(
        &app,
        "/api/auth/login",
        json!({"login": "twofa", "password": PASSWORD, "backup_code": codes[3]}),
    )
    .await;
    let access = check(&results, "backup code");
    assert_eq!(me_status(&app, &access).await, 200);

    // Exactly one backup code is spent, and exactly two sessions were started besides the
    // registration one: no loser got a session behind a failed response.
    let rows = backup_codes::Entity::find()
        .filter(backup_codes::Column::UserId.eq(user_id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(rows.iter().filter(|r| r.used_at.is_some()).count(), 1);
    let families: std::collections::HashSet<Uuid> = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::UserId.eq(user_id))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.family_id)
        .collect();
    assert_eq!(families.len(), 3);

    // Both codes stay spent.
    for payload in [
        json!({"login": "twofa", "password": PASSWORD, "totp_code": next_code}),
        json!({"login": "twofa", "password": PASSWORD, "backup_code": codes[3]}),
    ] {
        let res = app.post_json("/api/auth/login", None, &payload).await;
        assert_eq!(res.status(), 401);
    }
}

// ---------------------------------------------------------------------------------------
// 4. Forged and otherwise invalid access tokens.
// ---------------------------------------------------------------------------------------

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// `header.payload.signature` with an HMAC signature of the given algorithm over the
/// first two parts, whatever the header claims. Computed with `hmac` directly, since
/// `jsonwebtoken` refuses to sign with an empty key and one forgery uses one.
fn forge_with(header: &Value, claims: &Value, key: &[u8], mac: jsonwebtoken::Algorithm) -> String {
    use hmac::Hmac;
    fn sign<M: hmac::Mac + hmac::KeyInit>(key: &[u8], input: &[u8]) -> Vec<u8> {
        let mut m = <M as hmac::KeyInit>::new_from_slice(key).unwrap();
        m.update(input);
        m.finalize().into_bytes().to_vec()
    }
    let input = format!("{}.{}", b64(header), b64(claims));
    let sig = match mac {
        jsonwebtoken::Algorithm::HS256 => sign::<Hmac<sha2::Sha256>>(key, input.as_bytes()),
        jsonwebtoken::Algorithm::HS384 => sign::<Hmac<sha2::Sha384>>(key, input.as_bytes()),
        jsonwebtoken::Algorithm::HS512 => sign::<Hmac<sha2::Sha512>>(key, input.as_bytes()),
        other => panic!("not an HMAC algorithm: {other:?}"),
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn forge(header: &Value, claims: &Value, key: &[u8]) -> String {
    forge_with(header, claims, key, jsonwebtoken::Algorithm::HS256)
}

fn hs256() -> Value {
    json!({"alg": "HS256", "typ": "JWT"})
}

/// Claims shaped like `docuvault::security::tokens::AccessClaims`, valid now.
fn claims(sub: &str, sid: &str) -> Value {
    let now = now_i64();
    json!({
        "sub": sub,
        "sid": sid,
        "iss": "docuvault",
        "aud": "docuvault-api",
        "typ": "access",
        "iat": now,
        "iat_us": now * 1_000_000 + 999_999,
        "nbf": now,
        "exp": now + 600,
        "jti": Uuid::new_v4().to_string(),
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

fn payload_of(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn forged_and_invalid_access_tokens_are_all_rejected() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let victim = app.register("victim").await;
    let doomed = app.register("doomed").await;
    let frozen = app.register("frozen").await;
    let key = app.state.keys.jwt_secret().to_vec();

    let real = payload_of(&victim.access);
    let (sub, sid) = (
        real["sub"].as_str().unwrap().to_owned(),
        real["sid"].as_str().unwrap().to_owned(),
    );
    assert_eq!(sub, victim.user_id);
    let valid = claims(&sub, &sid);

    // Positive controls: the real token, and one forged here with the server's key and the
    // claims the server issues, both work. So every rejection below is about the one thing
    // that differs, not about a broken forging helper.
    assert_eq!(me_status(&app, &victim.access).await, 200);
    let control = forge(&hs256(), &valid, &key);
    let res = app.get_auth("/api/auth/me", &control).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["id"], victim.user_id);

    // A session that has been logged out, for a forged token naming its sid.
    let ended = app.login("victim", PASSWORD).await;
    let ended_sid = payload_of(&ended.access)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.post_json("/api/auth/logout", Some(&ended.access), &json!({}))
            .await
            .status(),
        204
    );

    // Accounts that get deleted / disabled, with their real tokens and fresh forgeries.
    let patch = app
        .client
        .patch(app.url(&format!("/api/admin/users/{}", frozen.user_id)))
        .bearer_auth(&admin.access)
        .json(&json!({"is_active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    let delete = app
        .client
        .delete(app.url(&format!("/api/admin/users/{}", doomed.user_id)))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);

    let now = now_i64();
    let mut stripped = control.rsplit_once('.').unwrap().0.to_owned();
    stripped.push('.');
    let tampered = {
        let parts: Vec<&str> = control.split('.').collect();
        let evil = with(valid.clone(), "sub", json!(admin.user_id));
        format!("{}.{}.{}", parts[0], b64(&evil), parts[2])
    };
    let none_header = json!({"alg": "none", "typ": "JWT"});
    let wrong_key = b"an-attacker-guessed-key-0123456789abcdef";

    let corpus: Vec<(&str, String)> = vec![
        (
            "alg none, no signature",
            format!("{}.{}.", b64(&none_header), b64(&valid)),
        ),
        (
            "alg None, no signature",
            format!("{}.{}.", b64(&json!({"alg": "None"})), b64(&valid)),
        ),
        (
            "alg NONE, no signature",
            format!("{}.{}.", b64(&json!({"alg": "NONE"})), b64(&valid)),
        ),
        (
            "alg none with a valid HMAC",
            forge(&none_header, &valid, &key),
        ),
        ("HS256 header, signature stripped", stripped),
        ("payload swapped under a valid signature", tampered),
        (
            "signed with the wrong key",
            forge(&hs256(), &valid, wrong_key),
        ),
        ("signed with an empty key", forge(&hs256(), &valid, b"")),
        (
            "RS256 header, HMAC signature (key confusion)",
            forge(&json!({"alg": "RS256", "typ": "JWT"}), &valid, &key),
        ),
        (
            "ES256 header, HMAC signature",
            forge(&json!({"alg": "ES256", "typ": "JWT"}), &valid, &key),
        ),
        (
            "PS256 header, HMAC signature",
            forge(&json!({"alg": "PS256", "typ": "JWT"}), &valid, &key),
        ),
        (
            "EdDSA header, HMAC signature",
            forge(&json!({"alg": "EdDSA", "typ": "JWT"}), &valid, &key),
        ),
        (
            "HS384 with the real key",
            forge_with(
                &json!({"alg": "HS384", "typ": "JWT"}),
                &valid,
                &key,
                jsonwebtoken::Algorithm::HS384,
            ),
        ),
        (
            "HS512 with the real key",
            forge_with(
                &json!({"alg": "HS512", "typ": "JWT"}),
                &valid,
                &key,
                jsonwebtoken::Algorithm::HS512,
            ),
        ),
        (
            "expired beyond the leeway",
            forge(
                &hs256(),
                &with(
                    with(valid.clone(), "exp", json!(now - 120)),
                    "iat",
                    json!(now - 1000),
                ),
                &key,
            ),
        ),
        (
            "nbf in the future",
            forge(
                &hs256(),
                &with(valid.clone(), "nbf", json!(now + 600)),
                &key,
            ),
        ),
        (
            "no exp",
            forge(&hs256(), &without(valid.clone(), "exp"), &key),
        ),
        (
            "no nbf",
            forge(&hs256(), &without(valid.clone(), "nbf"), &key),
        ),
        (
            "no iat",
            forge(&hs256(), &without(valid.clone(), "iat"), &key),
        ),
        (
            "no iat_us",
            forge(&hs256(), &without(valid.clone(), "iat_us"), &key),
        ),
        (
            "no sid",
            forge(&hs256(), &without(valid.clone(), "sid"), &key),
        ),
        (
            "no sub",
            forge(&hs256(), &without(valid.clone(), "sub"), &key),
        ),
        (
            "exp as a string",
            forge(
                &hs256(),
                &with(valid.clone(), "exp", json!((now + 600).to_string())),
                &key,
            ),
        ),
        (
            "wrong aud",
            forge(
                &hs256(),
                &with(valid.clone(), "aud", json!("docuvault-admin")),
                &key,
            ),
        ),
        (
            "aud list without ours",
            forge(
                &hs256(),
                &with(valid.clone(), "aud", json!(["other-api"])),
                &key,
            ),
        ),
        (
            "no aud",
            forge(&hs256(), &without(valid.clone(), "aud"), &key),
        ),
        (
            "wrong iss",
            forge(&hs256(), &with(valid.clone(), "iss", json!("evil")), &key),
        ),
        (
            "no iss",
            forge(&hs256(), &without(valid.clone(), "iss"), &key),
        ),
        (
            "typ refresh",
            forge(
                &hs256(),
                &with(valid.clone(), "typ", json!("refresh")),
                &key,
            ),
        ),
        (
            "typ ACCESS",
            forge(&hs256(), &with(valid.clone(), "typ", json!("ACCESS")), &key),
        ),
        (
            "no typ",
            forge(&hs256(), &without(valid.clone(), "typ"), &key),
        ),
        (
            "issued before tokens_valid_after",
            forge(&hs256(), &with(valid.clone(), "iat_us", json!(0)), &key),
        ),
        (
            "sub of no account",
            forge(&hs256(), &claims(&Uuid::new_v4().to_string(), &sid), &key),
        ),
        (
            "sub not a uuid",
            forge(&hs256(), &with(valid.clone(), "sub", json!("root")), &key),
        ),
        (
            "sid of a logged-out session",
            forge(&hs256(), &claims(&sub, &ended_sid), &key),
        ),
        ("real token of a logged-out session", ended.access.clone()),
        ("refresh token as bearer", victim.refresh.clone()),
        ("real token of a deleted account", doomed.access.clone()),
        (
            "fresh forgery for a deleted account",
            forge(
                &hs256(),
                &claims(&doomed.user_id, &Uuid::new_v4().to_string()),
                &key,
            ),
        ),
        ("real token of a disabled account", frozen.access.clone()),
        (
            "fresh forgery for a disabled account",
            forge(
                &hs256(),
                &claims(&frozen.user_id, &Uuid::new_v4().to_string()),
                &key,
            ),
        ),
        ("garbage", "garbage".into()),
        ("three garbage parts", "a.b.c".into()),
        ("only dots", "..".into()),
        ("base64 of JSON without signature", b64(&valid)),
        ("huge", "A".repeat(6000)),
    ];

    let mut accepted = Vec::new();
    for (name, token) in &corpus {
        let res = app
            .client
            .get(app.url("/api/auth/me"))
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        if status == 401 {
            assert_eq!(body(res).await["code"], "unauthorized", "{name}");
        } else {
            accepted.push(format!("{name}: {status}"));
        }
    }
    assert!(accepted.is_empty(), "not rejected with 401: {accepted:#?}");

    // Malformed or missing Authorization headers.
    for header in [
        None,
        Some("Bearer "),
        Some("Bearer"),
        Some(""),
        Some("Basic dmljdGltOmNvcnJlY3QgaG9yc2U="),
        Some("Token abc"),
    ] {
        let mut req = app.client.get(app.url("/api/auth/me"));
        if let Some(h) = header {
            req = req.header("Authorization", h);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "Authorization: {header:?}");
    }
    // The valid token under another scheme is not a bearer token either.
    let res = app
        .client
        .get(app.url("/api/auth/me"))
        .header("Authorization", format!("Basic {control}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // The controls still work: nothing above damaged the victim's session.
    assert_eq!(me_status(&app, &control).await, 200);
    assert_eq!(me_status(&app, &victim.access).await, 200);
}

// ---------------------------------------------------------------------------------------
// 5. Password change and logout-all cut off older tokens at once; others unaffected.
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn password_change_and_logout_all_revoke_older_tokens_immediately() {
    const NEW_PASSWORD: &str = "a completely different passphrase";
    let app = TestApp::spawn().await;
    let registered = app.register("anna").await;
    let s1 = app.login("anna", PASSWORD).await;
    let s2 = app.login("anna", PASSWORD).await;
    let bob = app.register("bob").await;
    for access in [&registered.access, &s1.access, &s2.access, &bob.access] {
        assert_eq!(me_status(&app, access).await, 200);
    }

    let res = app
        .post_json(
            "/api/auth/password",
            Some(&s1.access),
            &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let new_access = body(res).await["access_token"].as_str().unwrap().to_owned();

    assert_eq!(me_status(&app, &new_access).await, 200);
    assert_eq!(
        me_status(&app, &s1.access).await,
        401,
        "old token of the changing session"
    );
    assert_eq!(
        me_status(&app, &s2.access).await,
        401,
        "other session's access token"
    );
    assert_eq!(me_status(&app, &registered.access).await, 401);
    assert_eq!(
        refresh(&app, &s2.refresh).await.status(),
        401,
        "other session's refresh token"
    );
    assert_eq!(refresh(&app, &registered.refresh).await.status(), 401);
    // The session that changed the password carries on.
    let res = refresh(&app, &s1.refresh).await;
    assert_eq!(res.status(), 200);
    let s1b = Session::from_body(body(res).await);
    assert_eq!(me_status(&app, &s1b.access).await, 200);
    // Bob never noticed.
    assert_eq!(me_status(&app, &bob.access).await, 200);

    let old = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "anna", "password": PASSWORD}),
        )
        .await;
    assert_eq!(old.status(), 401);
    let s3 = app.login("anna", NEW_PASSWORD).await;

    let res = app
        .post_json("/api/auth/logout-all", Some(&new_access), &json!({}))
        .await;
    assert_eq!(res.status(), 204);
    for (what, access) in [
        ("token from the password change", &new_access),
        ("token from the later refresh", &s1b.access),
        ("token of the later login", &s3.access),
    ] {
        assert_eq!(me_status(&app, access).await, 401, "{what}");
    }
    for refresh_token in [&s1b.refresh, &s3.refresh, &s1.refresh] {
        assert_eq!(refresh(&app, refresh_token).await.status(), 401);
    }
    assert_eq!(me_status(&app, &bob.access).await, 200);
    let res = refresh(&app, &bob.refresh).await;
    assert_eq!(res.status(), 200);
    let bob2 = Session::from_body(body(res).await);
    assert_eq!(me_status(&app, &bob2.access).await, 200);
    // Signing in again works as usual.
    let again = app.login("anna", NEW_PASSWORD).await;
    assert_eq!(me_status(&app, &again.access).await, 200);
}

// ---------------------------------------------------------------------------------------
// 6. No plaintext bearer secret at rest.
// ---------------------------------------------------------------------------------------

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Every row of every table as text, one line per row, prefixed with the table name.
async fn dump_database(db: &sea_orm::DatabaseConnection) -> String {
    let backend = db.get_database_backend();
    let strings = |rows: Vec<sea_orm::QueryResult>| -> Vec<String> {
        rows.iter()
            .map(|r| r.try_get_by_index::<String>(0).unwrap())
            .collect()
    };
    let tables = match backend {
        DbBackend::Postgres => strings(
            db.query_all_raw(Statement::from_string(
                backend,
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                 ORDER BY 1",
            ))
            .await
            .unwrap(),
        ),
        DbBackend::Sqlite => strings(
            db.query_all_raw(Statement::from_string(
                backend,
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1",
            ))
            .await
            .unwrap(),
        ),
        other => panic!("unexpected backend {other:?}"),
    };
    assert!(tables.len() >= 10, "{tables:?}");
    let mut dump = String::new();
    for table in &tables {
        let sql = match backend {
            DbBackend::Postgres => {
                format!("SELECT row_to_json(t)::text FROM {} t", quote_ident(table))
            }
            _ => {
                let columns = strings(
                    db.query_all_raw(Statement::from_sql_and_values(
                        backend,
                        "SELECT name FROM pragma_table_info(?)",
                        [table.as_str().into()],
                    ))
                    .await
                    .unwrap(),
                );
                assert!(!columns.is_empty(), "{table}");
                let expr = columns
                    .iter()
                    .map(|c| format!("quote({})", quote_ident(c)))
                    .collect::<Vec<_>>()
                    .join(" || ' | ' || ");
                format!("SELECT {expr} FROM {}", quote_ident(table))
            }
        };
        for row in strings(
            db.query_all_raw(Statement::from_string(backend, sql))
                .await
                .unwrap(),
        ) {
            dump.push_str(table);
            dump.push_str(": ");
            dump.push_str(&row);
            dump.push('\n');
        }
    }
    dump
}

/// The SQLite database file and its WAL, raw (free pages included).
fn sqlite_file_bytes(url: &str) -> Option<Vec<u8>> {
    let path = url.strip_prefix("sqlite://")?.split('?').next()?;
    let mut bytes = std::fs::read(path).expect("SQLite database file");
    for suffix in ["-wal", "-journal"] {
        if let Ok(more) = std::fs::read(format!("{path}{suffix}")) {
            bytes.extend_from_slice(&more);
        }
    }
    Some(bytes)
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_database_holds_no_plaintext_tokens_codes_or_secrets() {
    const NEW_PASSWORD: &str = "another long passphrase for the dump";
    let app = TestApp::spawn().await;
    let s = app.register("keeper").await;
    let mut refresh_tokens_seen = vec![s.refresh.clone()];
    let mut access_tokens_seen = vec![s.access.clone()];

    let res = refresh(&app, &s.refresh).await;
    assert_eq!(res.status(), 200);
    let s = Session::from_body(body(res).await);
    refresh_tokens_seen.push(s.refresh.clone());
    access_tokens_seen.push(s.access.clone());

    let (b32, secret, codes) = enable_totp(&app, &s).await;

    // Sign in with a backup code and with a TOTP code, and rotate once more.
    let res = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "keeper", "password": PASSWORD, "backup_code": codes[0]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let by_backup = Session::from_body(body(res).await);
    let next_code = docuvault::auth::totp::code_at(&secret, now() + 30);
    let res = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "keeper", "password": PASSWORD, "totp_code": next_code}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let by_totp = Session::from_body(body(res).await);
    let res = refresh(&app, &by_totp.refresh).await;
    assert_eq!(res.status(), 200);
    let rotated = Session::from_body(body(res).await);
    let res = app
        .post_json(
            "/api/auth/password",
            Some(&rotated.access),
            &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let changed = body(res).await["access_token"].as_str().unwrap().to_owned();
    for sess in [&by_backup, &by_totp, &rotated] {
        refresh_tokens_seen.push(sess.refresh.clone());
        access_tokens_seen.push(sess.access.clone());
    }
    access_tokens_seen.push(changed);

    let mut needles: BTreeMap<String, String> = BTreeMap::new();
    needles.insert(PASSWORD.into(), "old password".into());
    needles.insert(NEW_PASSWORD.into(), "new password".into());
    for (i, t) in refresh_tokens_seen.iter().enumerate() {
        needles.insert(t.clone(), format!("refresh token #{i}"));
    }
    for (i, t) in access_tokens_seen.iter().enumerate() {
        // The signature part alone would already be a leak of a usable token.
        needles.insert(t.clone(), format!("access token #{i}"));
        needles.insert(
            t.rsplit('.').next().unwrap().to_owned(),
            format!("access token #{i} signature"),
        );
    }
    for (i, code) in codes.iter().enumerate() {
        let normalized = docuvault::auth::totp::normalize_backup_code(code).unwrap();
        for form in [
            code.clone(),
            code.to_uppercase(),
            normalized.clone(),
            normalized.replace('-', ""),
            normalized.replace('-', "").to_uppercase(),
        ] {
            needles.insert(form, format!("backup code #{i}"));
        }
    }
    needles.insert(b32.clone(), "TOTP secret (base32)".into());
    needles.insert(
        b32.to_lowercase(),
        "TOTP secret (base32, lower case)".into(),
    );
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    needles.insert(hex.clone(), "TOTP secret (hex)".into());
    needles.insert(hex.to_uppercase(), "TOTP secret (HEX)".into());
    needles.insert(STANDARD.encode(&secret), "TOTP secret (base64)".into());
    needles.insert(
        URL_SAFE_NO_PAD.encode(&secret),
        "TOTP secret (base64url)".into(),
    );

    let dump = dump_database(&app.state.db).await;
    let leaks: Vec<&String> = needles
        .iter()
        .filter(|(needle, _)| dump.contains(needle.as_str()))
        .map(|(_, what)| what)
        .collect();
    assert!(leaks.is_empty(), "found in the database dump: {leaks:?}");

    // The dump really covers the tables and columns where these secrets live: their
    // keyed hashes, the sealed TOTP secret and the account are all in it.
    let user = users::Entity::find_by_id(Uuid::parse_str(&s.user_id).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let sealed = user.totp_secret.clone().expect("sealed TOTP secret");
    assert!(dump.contains(&sealed), "sealed TOTP secret not in the dump");
    assert!(dump.contains("keeper@example.com"));
    assert!(dump.contains(&user.password_hash));
    for t in &refresh_tokens_seen {
        assert!(
            dump.contains(&app.state.keys.hash_token(t)),
            "hash of a refresh token not in the dump"
        );
    }
    for code in &codes {
        let normalized = docuvault::auth::totp::normalize_backup_code(code).unwrap();
        assert!(dump.contains(&app.state.keys.hash_token(&normalized)));
    }
    for table in ["users:", "refresh_tokens:", "backup_codes:", "audit_log:"] {
        assert!(dump.contains(table), "{table} missing from the dump");
    }

    // On SQLite, also scan the raw file and WAL, free pages and all.
    if let Some(raw) = sqlite_file_bytes(&app.settings.database_url()) {
        assert!(contains_bytes(&raw, b"keeper@example.com"));
        let leaks: Vec<&String> = needles
            .iter()
            .filter(|(needle, _)| contains_bytes(&raw, needle.as_bytes()))
            .map(|(_, what)| what)
            .collect();
        assert!(leaks.is_empty(), "found in the SQLite files: {leaks:?}");
    }
}

// ---------------------------------------------------------------------------------------
// The published development key and forwarded headers (issue 11, items 2 and 11).
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_token_forged_with_the_published_development_key_is_rejected() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let real = payload_of(&admin.access);
    let forged_claims = claims(real["sub"].as_str().unwrap(), real["sid"].as_str().unwrap());
    // Control: the same claims signed with the server's key are accepted.
    let control = forge(&hs256(), &forged_claims, app.state.keys.jwt_secret());
    assert_eq!(
        app.get_auth("/api/admin/users", &control).await.status(),
        200
    );
    let published = docuvault::crypto::Keys::derive(docuvault::crypto::PUBLISHED_DEVELOPMENT_KEY);
    let forged = forge(&hs256(), &forged_claims, published.jwt_secret());
    let res = app.get_auth("/api/admin/users", &forged).await;
    assert_eq!(res.status(), 401);
    // Nor did the server sign its own tokens with it.
    assert_ne!(app.state.keys.jwt_secret(), published.jwt_secret());
}

#[tokio::test]
async fn secrets_sealed_with_the_published_key_are_resealed_and_totp_keeps_working() {
    let app = TestApp::spawn().await;
    let s = app.register("legacy").await;
    let (_, secret, codes) = enable_totp(&app, &s).await;
    let user_id = Uuid::parse_str(&s.user_id).unwrap();

    // What an installation running on the published key left in the database.
    let published = docuvault::crypto::Keys::derive(docuvault::crypto::PUBLISHED_DEVELOPMENT_KEY);
    let aad = docuvault::crypto::api_key_aad(user_id);
    users::Entity::update_many()
        .col_expr(
            users::Column::TotpSecret,
            sea_orm::sea_query::Expr::value(published.encrypt(&secret, user_id.as_bytes())),
        )
        .col_expr(
            users::Column::AiApiKeyEnc,
            sea_orm::sea_query::Expr::value(published.encrypt(b"sk-user-key", &aad)),
        )
        .filter(users::Column::Id.eq(user_id))
        .exec(&app.state.db)
        .await
        .unwrap();

    // What every start does.
    let check = docuvault::secret_key::reseal_published(&app.state.db, &app.state.keys)
        .await
        .unwrap();
    assert_eq!(check.resealed, 2);
    assert_eq!(check.backup_codes_removed_for, 1);
    assert_eq!(check.unreadable, 0);
    let row = users::Entity::find_by_id(user_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let sealed = row.totp_secret.unwrap();
    assert!(published.decrypt(&sealed, user_id.as_bytes()).is_err());
    assert_eq!(
        app.state.keys.decrypt(&sealed, user_id.as_bytes()).unwrap(),
        secret
    );
    let ai = row.ai_api_key_enc.unwrap();
    assert_eq!(app.state.keys.decrypt(&ai, &aad).unwrap(), b"sk-user-key");
    // Running it again changes nothing.
    let again = docuvault::secret_key::reseal_published(&app.state.db, &app.state.keys)
        .await
        .unwrap();
    assert_eq!(again, Default::default());

    // TOTP sign-in works; the backup codes hashed with the published key are gone.
    let login = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "legacy", "password": PASSWORD,
                    "totp_code": docuvault::auth::totp::code_at(&secret, now() + 30)}),
        )
        .await;
    assert_eq!(login.status(), 200);
    assert!(body(login).await["access_token"].is_string());
    let backup = app
        .post_json(
            "/api/auth/login",
            None,
            &json!({"login": "legacy", "password": PASSWORD, "backup_code": codes[0]}),
        )
        .await;
    assert_eq!(backup.status(), 401);
}

/// `upload_url` of a new upload ticket and `url` of a download link, asked for with
/// `headers`.
async fn signed_urls(
    app: &TestApp,
    s: &Session,
    doc: &str,
    headers: &[(&str, &str)],
) -> [String; 2] {
    let mut upload = app
        .client
        .post(app.url("/api/documents/upload-url"))
        .bearer_auth(&s.access)
        .json(&json!({"filename": "b.txt", "content_type": "text/plain", "size_bytes": 3}));
    let mut download = app
        .client
        .get(app.url(&format!("/api/documents/{doc}/download")))
        .bearer_auth(&s.access);
    for (k, v) in headers {
        upload = upload.header(*k, *v);
        download = download.header(*k, *v);
    }
    let upload = upload.send().await.unwrap();
    assert_eq!(upload.status(), 200);
    let download = download.send().await.unwrap();
    assert_eq!(download.status(), 200);
    [
        body(upload).await["upload_url"]
            .as_str()
            .unwrap()
            .to_owned(),
        body(download).await["url"].as_str().unwrap().to_owned(),
    ]
}

fn local_storage() -> bool {
    common::expected_backends().1 == "local"
}

#[tokio::test]
async fn forwarded_host_headers_from_clients_never_reach_signed_urls() {
    let app = TestApp::spawn().await;
    let s = app.register("urls").await;
    let doc = app.upload(&s, "a.txt", "text/plain", b"abc".to_vec()).await;
    let spoofed = [
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "https"),
        ("forwarded", "host=evil2.example;proto=https"),
    ];
    for url in signed_urls(&app, &s, &doc, &spoofed).await {
        assert!(!url.contains("evil"), "{url}");
        if local_storage() {
            assert!(
                url.starts_with(&format!("{}/storage/", app.address)),
                "{url}"
            );
        }
    }
}

#[tokio::test]
async fn a_trusted_proxy_decides_the_host_of_signed_urls() {
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__AUTH__TRUSTED_PROXIES".into(),
            "127.0.0.1".into(),
        );
    })
    .await;
    let s = app.register("proxied").await;
    let doc = app.upload(&s, "a.txt", "text/plain", b"abc".to_vec()).await;
    let via_x = [
        ("x-forwarded-host", "vault.example.com"),
        ("x-forwarded-proto", "https"),
    ];
    let via_forwarded = [(
        "forwarded",
        "for=198.51.100.9;host=files.example.org:8443;proto=https",
    )];
    for (headers, base) in [
        (&via_x[..], "https://vault.example.com/storage/"),
        (
            &via_forwarded[..],
            "https://files.example.org:8443/storage/",
        ),
    ] {
        for url in signed_urls(&app, &s, &doc, headers).await {
            if local_storage() {
                assert!(url.starts_with(base), "{url}");
            } else {
                // S3 presigns for its own public endpoint, whatever the request says.
                assert!(!url.contains("example"), "{url}");
            }
        }
    }
}

#[tokio::test]
async fn rotation_reseals_every_secret_in_one_transaction_and_ends_what_it_cannot_carry() {
    let app = TestApp::spawn().await;
    let s = app.register("rotor").await;
    let (_, secret, _) = enable_totp(&app, &s).await;
    let patched = app
        .client
        .patch(app.url("/api/auth/me"))
        .bearer_auth(&s.access)
        .json(&json!({"ai_api_key": "sk-rotor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let user_id = Uuid::parse_str(&s.user_id).unwrap();
    let aad = docuvault::crypto::api_key_aad(user_id);
    let db = &app.state.db;
    let old = &app.state.keys;
    let new = docuvault::crypto::Keys::derive(&docuvault::crypto::generate_secret_key());

    // A key that opens nothing: refused, nothing changes.
    let stranger = docuvault::crypto::Keys::derive("some-unrelated-key-0123456789abcdef");
    let err = docuvault::secret_key::reseal_all(db, &stranger, &new)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("opens with neither"), "{err}");
    assert!(refresh_tokens::Entity::find().count(db).await.unwrap() > 0);

    let report = docuvault::secret_key::reseal_all(db, old, &new)
        .await
        .unwrap();
    assert_eq!(
        (report.totp_secrets, report.ai_keys, report.already_new),
        (1, 1, 0)
    );
    assert_eq!(report.backup_code_users, 1);
    assert!(report.refresh_tokens > 0);
    let row = users::Entity::find_by_id(user_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let totp = row.totp_secret.unwrap();
    assert_eq!(new.decrypt(&totp, user_id.as_bytes()).unwrap(), secret);
    assert!(old.decrypt(&totp, user_id.as_bytes()).is_err());
    let ai = row.ai_api_key_enc.unwrap();
    assert_eq!(new.decrypt(&ai, &aad).unwrap(), b"sk-rotor");
    assert_eq!(refresh_tokens::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(backup_codes::Entity::find().count(db).await.unwrap(), 0);

    // Running it again (an interrupted rotation) finds everything under the new key.
    let again = docuvault::secret_key::reseal_all(db, old, &new)
        .await
        .unwrap();
    assert_eq!(
        (again.totp_secrets, again.ai_keys, again.already_new),
        (0, 0, 2)
    );
}
