//! `GET /api/documents/{id}/view` (issue 13): a short-lived URL that shows a document in
//! the browser. Each accepted kind is uploaded, its view URL fetched like a browser would
//! and the answer checked: status, `Content-Type`, `Content-Disposition` inline or
//! attachment, `nosniff` and `Content-Security-Policy: sandbox` on the local backend (on
//! S3: the signed type and disposition overrides), and the original bytes. HTML is shown
//! as its source (`text/plain`), never rendered; TIFF, DOCX and ODT are downloads.
//! Access is the download's: owner or share recipient, another account 404, an admin
//! 403, no token 401; expired and tampered URLs are refused; downloads stay attachments.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::common::samples::{DOCX, ODT, hello_pdf, sample_docx, sample_odt};
use crate::common::{Session, TestApp, body, expected_backends, poll_until};

const TEXT: &str = "text/plain; charset=utf-8";

fn on_s3() -> bool {
    expected_backends().1 == "s3"
}

/// A real raster image in `format` (a gradient with a diagonal), as a browser gets it.
fn image(format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        let on_diagonal = x.abs_diff(y * 4 / 3) < 2;
        image::Rgb(if on_diagonal {
            [0, 0, 0]
        } else {
            [(x * 4) as u8, (y * 5) as u8, 200]
        })
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn absolute(app: &TestApp, url: &str) -> String {
    if url.starts_with('/') {
        app.url(url)
    } else {
        url.to_owned()
    }
}

/// `GET /api/documents/{id}/view` as `s` (status asserted 200), with the answer's shape
/// checked: an absolute URL, an RFC 3339 expiry within the download TTL.
async fn view_link(app: &TestApp, s: &Session, id: &str) -> Value {
    let res = app
        .get_auth(&format!("/api/documents/{id}/view"), &s.access)
        .await;
    assert_eq!(res.status(), 200, "view {id}");
    let link = body(res).await;
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with("http://"), "{url}");
    let expires: DateTime<Utc> = link["expires_at"].as_str().unwrap().parse().unwrap();
    let ttl = app.settings.documents.download_url_ttl_secs as i64;
    let left = (expires - Utc::now()).num_seconds();
    assert!(left > 0 && left <= ttl, "expires in {left} s, TTL {ttl} s");
    assert_eq!(link.as_object().unwrap().len(), 4, "{link}");
    link
}

/// What a view URL must serve.
struct Expected<'a> {
    kind: &'a str,
    content_type: &'a str,
    inline: bool,
    filename: &'a str,
    bytes: &'a [u8],
}

/// Fetches `link`'s URL like a browser and checks everything it serves.
async fn assert_serves(app: &TestApp, link: &Value, want: &Expected<'_>) {
    assert_eq!(link["kind"], want.kind, "{link}");
    assert_eq!(link["content_type"], want.content_type, "{link}");
    let url = link["url"].as_str().unwrap();
    if on_s3() {
        // The S3 endpoint's origin, never DocuVault's.
        assert!(!url.starts_with(&app.address), "{url}");
    } else {
        assert!(
            url.starts_with(&format!("{}/storage/", app.address)),
            "{url}"
        );
    }
    let res = app.client.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", want.filename);
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header("content-type").as_deref(),
        Some(want.content_type),
        "{}",
        want.filename
    );
    let disposition = header("content-disposition").unwrap();
    let prefix = if want.inline { "inline" } else { "attachment" };
    assert!(
        disposition.starts_with(&format!("{prefix}; filename=\"")),
        "{disposition}"
    );
    // The RFC 5987 name decodes to the stored name.
    let star = disposition.split("filename*=UTF-8''").nth(1).unwrap();
    assert_eq!(
        percent_encoding::percent_decode_str(star)
            .decode_utf8()
            .unwrap(),
        want.filename,
        "{disposition}"
    );
    if !on_s3() {
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
        let csp = header("content-security-policy").unwrap();
        if want.inline {
            assert_eq!(csp, "sandbox", "{}", want.filename);
        } else {
            // A download is served exactly as by the download URL.
            assert!(!csp.contains("sandbox"), "{csp}");
        }
    }
    assert_eq!(
        res.bytes().await.unwrap().as_ref(),
        want.bytes,
        "{}",
        want.filename
    );
}

/// Filename, stored type, bytes, kind, served type, inline.
type Case<'a> = (&'a str, &'a str, &'a [u8], &'a str, &'a str, bool);

#[tokio::test]
async fn each_kind_is_shown_inline_or_downloaded_as_the_rules_say() {
    let app = TestApp::spawn().await;
    let s = app.register("viola").await;
    let pdf = hello_pdf();
    let png = image(image::ImageFormat::Png);
    let jpeg = image(image::ImageFormat::Jpeg);
    let webp = image(image::ImageFormat::WebP);
    let tiff = image(image::ImageFormat::Tiff);
    let txt = "Plain text, äöü ✓\nsecond line\n".as_bytes().to_vec();
    let md = b"# Minutes\n\n* one\n* two\n".to_vec();
    let csv = b"date,amount\n2026-01-02,12.50\n".to_vec();
    let html = b"<!doctype html><html><head><title>t</title>\
                 <script>document.title='pwned'</script></head>\
                 <body><p onclick=\"alert(1)\">Rechnung</p><img src=x onerror=alert(2)></body></html>"
        .to_vec();
    let docx = sample_docx();
    let odt = sample_odt();
    #[rustfmt::skip]
    let cases: Vec<Case<'_>> = vec![
        // filename, stored type, bytes, kind, served type, inline
        ("Bericht über Q3.pdf", "application/pdf", &pdf, "pdf", "application/pdf", true),
        ("scan.png", "image/png", &png, "image", "image/png", true),
        ("photo (1).jpg", "image/jpeg", &jpeg, "image", "image/jpeg", true),
        ("photo.webp", "image/webp", &webp, "image", "image/webp", true),
        ("fax.tif", "image/tiff", &tiff, "download", "image/tiff", false),
        ("notes.txt", "text/plain", &txt, "text", TEXT, true),
        ("minutes.md", "text/markdown", &md, "text", TEXT, true),
        ("ledger.csv", "text/csv", &csv, "text", TEXT, true),
        ("page.html", "text/html", &html, "text", TEXT, true),
        ("letter.docx", DOCX, &docx, "download", DOCX, false),
        ("letter.odt", ODT, &odt, "download", ODT, false),
    ];
    for (filename, stored, bytes, kind, content_type, inline) in cases {
        let id = app.upload(&s, filename, stored, bytes.to_vec()).await;
        let link = view_link(&app, &s, &id).await;
        assert_serves(
            &app,
            &link,
            &Expected {
                kind,
                content_type,
                inline,
                filename,
                bytes,
            },
        )
        .await;

        // The download URL of the same document is still the attachment it always was.
        let res = app
            .get_auth(&format!("/api/documents/{id}/download"), &s.access)
            .await;
        assert_eq!(res.status(), 200);
        let download = app
            .client
            .get(body(res).await["url"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(download.status(), 200);
        assert_eq!(download.headers()["content-type"], stored, "{filename}");
        let disposition = download.headers()["content-disposition"].to_str().unwrap();
        assert!(disposition.starts_with("attachment; "), "{disposition}");
        if !on_s3() {
            let csp = download.headers()["content-security-policy"]
                .to_str()
                .unwrap();
            assert!(!csp.contains("sandbox"), "{csp}");
        }
        assert_eq!(download.bytes().await.unwrap().as_ref(), bytes);
    }
}

#[tokio::test]
async fn recipients_view_and_nobody_else_does() {
    let app = TestApp::spawn().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let admin = app.admin("root").await;
    let pdf = hello_pdf();
    let doc = app
        .upload(&alice, "contract.pdf", "application/pdf", pdf.clone())
        .await;
    let path = format!("/api/documents/{doc}/view");

    // Not shared yet: bob is told it does not exist, like a random id.
    let missing = app.get_auth(&path, &bob.access).await;
    assert_eq!(missing.status(), 404);
    let missing = body(missing).await;
    let random = body(
        app.get_auth(
            &format!("/api/documents/{}/view", uuid::Uuid::new_v4()),
            &bob.access,
        )
        .await,
    )
    .await;
    assert_eq!(missing, random);

    let res = app
        .post_json(
            &format!("/api/documents/{doc}/shares"),
            Some(&alice.access),
            &json!({"recipient": "bob"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let link = view_link(&app, &bob, &doc).await;
    assert_serves(
        &app,
        &link,
        &Expected {
            kind: "pdf",
            content_type: "application/pdf",
            inline: true,
            filename: "contract.pdf",
            bytes: &pdf,
        },
    )
    .await;

    // Someone it was not shared with: 404; an administrator: 403; no token: 401.
    assert_eq!(app.get_auth(&path, &eve.access).await.status(), 404);
    let res = app.get_auth(&path, &admin.access).await;
    assert_eq!(res.status(), 403);
    assert_eq!(body(res).await["code"], "admin_not_allowed");
    let res = app.get(&path).await;
    assert_eq!(res.status(), 401);
    assert_eq!(body(res).await["code"], "unauthorized");

    // An upload that is not confirmed has nothing to show.
    let ticket = app
        .upload_url(&alice, "later.pdf", "application/pdf", pdf.len())
        .await;
    let pending = ticket["document_id"].as_str().unwrap();
    let res = app
        .get_auth(&format!("/api/documents/{pending}/view"), &alice.access)
        .await;
    assert_eq!(res.status(), 404);
}

/// `url` with what it serves changed to `text/html` and everything else kept: the
/// signed `response-content-type` on S3, the grant's type on the local backend.
fn as_html(url: &str) -> String {
    if let Some((head, rest)) = url.split_once("response-content-type=") {
        let tail = rest.find('&').map_or("", |i| &rest[i..]);
        return format!("{head}response-content-type=text%2Fhtml{tail}");
    }
    let (base, token) = url.split_once("/storage/").unwrap();
    let (payload, mac) = token.split_once('.').unwrap();
    let mut grant: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(grant["disposition"], "inline", "{grant}");
    grant["content_type"] = json!("text/html");
    let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&grant).unwrap());
    format!("{base}/storage/{forged}.{mac}")
}

#[tokio::test]
async fn tampered_and_expired_view_urls_are_refused() {
    let app = TestApp::spawn_with(|env| {
        env.insert(
            "DOCUVAULT__DOCUMENTS__DOWNLOAD_URL_TTL_SECS".into(),
            "3".into(),
        );
    })
    .await;
    let s = app.register("tess").await;
    let html = b"<script>alert(document.cookie)</script>".to_vec();
    let id = app.upload(&s, "x.html", "text/html", html.clone()).await;
    let link = view_link(&app, &s, &id).await;
    let url = absolute(&app, link["url"].as_str().unwrap());
    let expires: DateTime<Utc> = link["expires_at"].as_str().unwrap().parse().unwrap();

    // Asking the same URL to serve the page as HTML breaks its signature.
    let forged = app.client.get(as_html(&url)).send().await.unwrap();
    assert_eq!(forged.status(), 403);
    assert!(forged.bytes().await.unwrap().as_ref() != html.as_slice());
    // So does flipping a character of the signature.
    let mut flipped = url.clone().into_bytes();
    let i = flipped.len() - 3;
    flipped[i] = if flipped[i] == b'a' { b'b' } else { b'a' };
    let res = app
        .client
        .get(String::from_utf8(flipped).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // The untouched URL works until it expires, and is refused from then on.
    let res = app.client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], TEXT);
    assert_eq!(res.bytes().await.unwrap().as_ref(), html.as_slice());
    poll_until(
        std::time::Duration::from_secs(15),
        "the view URL to expire",
        || async {
            let status = app.client.get(&url).send().await.unwrap().status();
            assert!(status == 200 || status == 403, "{status}");
            (status == 403).then_some(())
        },
    )
    .await;
    // Refused only once its time was up (expiry is checked to the second).
    assert!(Utc::now() >= expires - chrono::Duration::seconds(1));
}

#[tokio::test]
async fn the_spec_describes_the_contract_the_ui_codes_against() {
    let spec = serde_json::to_value(docuvault::openapi::document()).unwrap();
    let op = &spec["paths"]["/api/documents/{id}/view"]["get"];
    assert_eq!(op["operationId"], "viewDocument");
    assert_eq!(
        op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ViewResponse"
    );
    for status in ["401", "403", "404"] {
        assert!(op["responses"].get(status).is_some(), "{status}");
    }
    let schemas = &spec["components"]["schemas"];
    let response = &schemas["ViewResponse"];
    let mut required: Vec<&str> = response["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(required, ["content_type", "expires_at", "kind", "url"]);
    assert_eq!(response["properties"]["expires_at"]["format"], "date-time");
    assert_eq!(
        response["properties"]["kind"]["$ref"],
        "#/components/schemas/ViewKind"
    );
    assert_eq!(
        schemas["ViewKind"]["enum"],
        json!(["pdf", "image", "text", "download"])
    );
}
