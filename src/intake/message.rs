//! What one e-mail holds for the intake: its identity (Message-ID, subject) and the parts
//! worth a document, each with the verdict on its type. Pure: bytes in, decisions out.
//!
//! A part is a candidate when it is an attachment, or an inline non-text part with a
//! file name (an image in `multipart/related`), or — with `include_body` — the text body
//! (`.txt`, or the HTML as `.html` when there is no plain text). Its type is the declared
//! `Content-Type` when accepted for upload; a missing or `application/octet-stream` type
//! is taken from the file name's extension. Anything else (archives, executables, an
//! attached e-mail) is skipped with the reason, and never opened: a zip is refused as a
//! type, not inspected.

use std::borrow::Cow;

use mail_parser::{MessageParser, MimeHeaders as _, PartType};
use sha2::{Digest as _, Sha256};

use crate::domain::document_type::{self, DocumentType};

/// `part_hash` of the text body.
pub const BODY_PART: &str = "body";
/// `part_hash` of a message refused whole (too large, too many parts, unreadable).
pub const MESSAGE_PART: &str = "message";

/// Longest subject kept on an item, in characters.
const MAX_SUBJECT_CHARS: usize = 500;

/// The identity of a message: its `Message-ID` (angle brackets dropped), or, without one,
/// `sha256:<hex>` of its header bytes; and its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The key items are recorded under.
    pub message_id: String,
    /// Decoded subject, if any.
    pub subject: Option<String>,
}

/// Reads the identity from a message's header bytes (a `BODY.PEEK[HEADER]`).
pub fn identity(header: &[u8]) -> Identity {
    let parsed = MessageParser::default().parse_headers(header);
    let message_id = parsed
        .as_ref()
        .and_then(|m| m.message_id())
        .map(|id| id.trim().trim_matches(['<', '>']).trim().to_owned())
        .filter(|id| !id.is_empty())
        .map(|id| id.chars().take(900).collect())
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(header))));
    let subject = parsed.as_ref().and_then(|m| m.subject()).map(clean_subject);
    Identity {
        message_id,
        subject,
    }
}

fn clean_subject(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_SUBJECT_CHARS)
        .collect::<String>()
        .trim()
        .to_owned()
}

/// What the intake decides for one part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Store it as a document of this accepted type.
    Import(&'static DocumentType),
    /// Leave it; the reason is recorded on the item.
    Skip(String),
}

/// One part that may become a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Decoded file name (RFC 2231 and encoded words undone by the parser).
    pub filename: String,
    /// SHA-256 (hex) of `bytes`, or [`BODY_PART`] for the text body.
    pub part_hash: String,
    /// The decoded bytes.
    pub bytes: Vec<u8>,
    /// Import or skip.
    pub verdict: Verdict,
}

/// A whole message read for the intake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// The parts to record, in message order (may be empty: nothing in it to import).
    Parts(Vec<Candidate>),
    /// The message is refused whole, with the reason.
    Refused(String),
}

/// Reads a whole message: at most `max_parts` MIME parts (nested messages count), the
/// candidates with their verdicts, and the body as a candidate when `include_body`.
pub fn read(raw: &[u8], max_parts: usize, include_body: bool) -> Reading {
    let Some(message) = MessageParser::default().parse(raw) else {
        return Reading::Refused("not a readable e-mail message".to_owned());
    };
    let parts = count_parts(&message);
    if parts > max_parts {
        return Reading::Refused(format!(
            "too many MIME parts ({parts}; at most {max_parts})"
        ));
    }
    let mut out = Vec::new();
    let body_ids: Vec<u32> = message
        .text_body
        .iter()
        .chain(message.html_body.iter())
        .copied()
        .collect();
    for (index, part) in message.parts.iter().enumerate() {
        let Ok(index) = u32::try_from(index) else {
            break;
        };
        if part.is_multipart() {
            continue;
        }
        let name = part.attachment_name().map(str::to_owned);
        let is_attachment = message.attachments.contains(&index);
        let is_body = body_ids.contains(&index);
        if name.is_none() && (is_body || !is_attachment) {
            continue;
        }
        // A named part inline in the body (an image in `multipart/related`, a text file
        // shown inline) is still a file the sender attached: take it.
        let declared = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_owned(),
            })
            .map(|t| t.to_ascii_lowercase());
        if let PartType::Message(inner) = &part.body {
            let filename = name.unwrap_or_else(|| {
                format!(
                    "{}.eml",
                    inner.subject().map_or("attached message", |s| s).trim()
                )
            });
            out.push(Candidate {
                part_hash: sha256_hex(inner.raw_message()),
                filename,
                bytes: Vec::new(),
                verdict: Verdict::Skip(
                    "an attached e-mail (message/rfc822) is not imported".to_owned(),
                ),
            });
            continue;
        }
        let bytes = part.contents().to_vec();
        let filename = name.unwrap_or_else(|| unnamed(index, declared.as_deref()));
        let verdict = verdict(declared.as_deref(), &filename);
        out.push(Candidate {
            part_hash: sha256_hex(&bytes),
            filename,
            bytes,
            verdict,
        });
    }
    if include_body && let Some(body) = body_candidate(&message) {
        out.push(body);
    }
    Reading::Parts(out)
}

/// The text body as a document: the first plain-text body part as `.txt`, else the first
/// HTML body part as `.html`; `None` when the message has no (non-blank) body.
fn body_candidate(message: &mail_parser::Message<'_>) -> Option<Candidate> {
    let subject = message
        .subject()
        .map(clean_subject)
        .filter(|s| !s.is_empty());
    let base = subject.unwrap_or_else(|| "message".to_owned());
    let text = message.text_body.iter().find_map(|&id| {
        match &message.parts.get(usize::try_from(id).ok()?)?.body {
            PartType::Text(t) => Some(t.clone()),
            _ => None,
        }
    });
    let (contents, extension, content_type): (Cow<'_, str>, &str, &str) = match text {
        Some(t) => (t, "txt", "text/plain"),
        None => {
            let html = message.html_body.iter().find_map(|&id| {
                match &message.parts.get(usize::try_from(id).ok()?)?.body {
                    PartType::Html(h) => Some(h.clone()),
                    _ => None,
                }
            })?;
            (html, "html", "text/html")
        }
    };
    if contents.trim().is_empty() {
        return None;
    }
    let bytes = contents.into_owned().into_bytes();
    let verdict = match document_type::accepted(content_type) {
        Some(t) => Verdict::Import(t),
        None => Verdict::Skip(format!("{content_type} is not an accepted type")),
    };
    Some(Candidate {
        filename: format!("{base}.{extension}"),
        part_hash: BODY_PART.to_owned(),
        bytes,
        verdict,
    })
}

/// Every MIME part of the message, those of attached messages included.
fn count_parts(message: &mail_parser::Message<'_>) -> usize {
    message
        .parts
        .iter()
        .map(|p| match &p.body {
            PartType::Message(inner) => 1 + count_parts(inner),
            _ => 1,
        })
        .sum()
}

/// The type a part is stored as, or why it is skipped.
fn verdict(declared: Option<&str>, filename: &str) -> Verdict {
    if let Some(t) = declared.and_then(document_type::accepted) {
        return Verdict::Import(t);
    }
    let generic = declared.is_none_or(|d| d == "application/octet-stream");
    if generic && let Some(t) = by_extension(filename) {
        return Verdict::Import(t);
    }
    let what = match declared {
        Some(d) if !generic => d.to_owned(),
        _ => format!(
            "a file of type {}",
            extension(filename).map_or_else(|| "unknown".to_owned(), |e| format!(".{e}"))
        ),
    };
    Verdict::Skip(format!(
        "{what} is not an accepted type (accepted: {})",
        document_type::accepted_labels()
    ))
}

fn extension(filename: &str) -> Option<String> {
    let (stem, ext) = filename.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// The accepted type a file name's extension names (the upload rule,
/// `documents::direct::type_from_extension`).
fn by_extension(filename: &str) -> Option<&'static DocumentType> {
    crate::documents::direct::type_from_extension(filename).and_then(document_type::accepted)
}

/// A name for a part sent without one: `attachment-<n>` with its type's extension.
fn unnamed(index: u32, declared: Option<&str>) -> String {
    match declared.and_then(document_type::accepted) {
        Some(t) => format!("attachment-{index}{}", t.object_extension()),
        None => format!("attachment-{index}"),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn mail(body: &str) -> Vec<u8> {
        body.replace('\n', "\r\n").into_bytes()
    }

    fn parts(r: Reading) -> Vec<Candidate> {
        match r {
            Reading::Parts(p) => p,
            Reading::Refused(why) => panic!("refused: {why}"),
        }
    }

    #[test]
    fn identity_uses_message_id_or_a_header_hash() {
        let with =
            identity(b"Message-ID: <abc@example.org>\r\nSubject: =?UTF-8?B?w4RyZ2Vy?=\r\n\r\n");
        assert_eq!(with.message_id, "abc@example.org");
        assert_eq!(with.subject.as_deref(), Some("Ärger"));
        let without = identity(b"Subject: hi\r\n\r\n");
        assert!(without.message_id.starts_with("sha256:"), "{without:?}");
        assert_eq!(identity(b"Subject: hi\r\n\r\n"), without);
        assert_ne!(
            identity(b"Subject: ho\r\n\r\n").message_id,
            without.message_id
        );
    }

    #[test]
    fn attachments_get_decoded_names_and_verdicts() {
        let raw = mail(
            "From: a@example.org\nSubject: s\nMessage-ID: <1@x>\nMIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nhello\n\
--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment;\n filename*=UTF-8''R%C3%A9sum%C3%A9%20%E2%82%AC.pdf\n\
Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n\
--b\nContent-Type: application/zip; name=\"bomb.zip\"\nContent-Disposition: attachment; filename=\"bomb.zip\"\n\
Content-Transfer-Encoding: base64\n\nUEsDBA==\n\
--b\nContent-Type: text/csv; name=\"=?UTF-8?Q?Gr=C3=BC=C3=9Fe.csv?=\"\nContent-Disposition: attachment\n\na,b\n--b--\n",
        );
        let got = parts(read(&raw, 100, false));
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].filename, "Résumé €.pdf");
        assert_eq!(got[0].bytes, b"%PDF-1.4\n");
        assert!(
            matches!(got[0].verdict, Verdict::Import(t) if t.content_type == "application/pdf")
        );
        assert_eq!(got[1].filename, "bomb.zip");
        assert!(
            matches!(&got[1].verdict, Verdict::Skip(why) if why.starts_with("application/zip is not an accepted type")),
            "{:?}",
            got[1].verdict
        );
        assert_eq!(got[2].filename, "Grüße.csv");
        assert!(matches!(got[2].verdict, Verdict::Import(t) if t.content_type == "text/csv"));
        // The body is not a candidate unless asked for.
        let with_body = parts(read(&raw, 100, true));
        let body = with_body.last().unwrap();
        assert_eq!(body.part_hash, BODY_PART);
        assert_eq!(body.filename, "s.txt");
        assert_eq!(String::from_utf8_lossy(&body.bytes).trim(), "hello");
    }

    #[test]
    fn too_many_parts_refuse_the_message() {
        let mut raw = String::from(
            "Subject: many\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n",
        );
        for i in 0..20 {
            raw.push_str(&format!("--b\nContent-Type: text/plain\n\npart {i}\n"));
        }
        raw.push_str("--b--\n");
        let got = read(&mail(&raw), 10, false);
        assert!(
            matches!(&got, Reading::Refused(why) if why.starts_with("too many MIME parts")),
            "{got:?}"
        );
        assert!(matches!(read(&mail(&raw), 100, false), Reading::Parts(_)));
    }
}
