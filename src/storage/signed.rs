//! Signed URLs for the local object store: docuvault itself plays the part S3's
//! presigned URLs play. A token binds key, method, content type, length (uploads), file
//! name and disposition (downloads) and expiry under a server key; anything else in the
//! request cannot change what it allows.

use serde::{Deserialize, Serialize};

use crate::crypto::Keys;
use crate::storage::Disposition;

/// Purpose string of the signatures of object URLs.
const PURPOSE: &str = "storage-url:";

/// Path prefix of signed object URLs.
pub const PATH_PREFIX: &str = "/storage/";

/// What a signed URL allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Object key.
    pub key: String,
    /// `PUT` or `GET`.
    pub method: String,
    /// Content type the upload must declare / the download is served as.
    pub content_type: String,
    /// Exact upload length (PUT only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Download file name (GET only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// How the download is presented (GET only); absent for an attachment, so download
    /// tokens read the same as before views existed.
    #[serde(default, skip_serializing_if = "Disposition::is_attachment")]
    pub disposition: Disposition,
    /// Expiry, Unix seconds.
    pub expires: i64,
}

/// Signs and checks [`Grant`]s.
#[derive(Clone)]
pub struct UrlSigner {
    keys: Keys,
}

impl UrlSigner {
    /// A signer under the server keys.
    pub fn new(keys: &Keys) -> Self {
        Self { keys: keys.clone() }
    }

    /// The URL path for `grant`.
    pub fn sign(&self, grant: &Grant) -> String {
        format!("{PATH_PREFIX}{}", self.keys.sign_payload(PURPOSE, grant))
    }

    /// The grant in `token` if the signature is right and it has not expired at `now`.
    pub fn verify(&self, token: &str, now: i64) -> Option<Grant> {
        let grant: Grant = self.keys.verify_payload(PURPOSE, token)?;
        (grant.expires > now).then_some(grant)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn grant() -> Grant {
        Grant {
            key: "u/d/x.pdf".into(),
            method: "PUT".into(),
            content_type: "application/pdf".into(),
            length: Some(10),
            filename: None,
            disposition: Disposition::Attachment,
            expires: 2_000,
        }
    }

    #[test]
    fn signed_grants_verify_until_they_expire() {
        let signer = UrlSigner::new(&Keys::derive("k"));
        let path = signer.sign(&grant());
        let token = path.strip_prefix(PATH_PREFIX).unwrap();
        assert_eq!(signer.verify(token, 1_999), Some(grant()));
        assert_eq!(signer.verify(token, 2_000), None);
        assert_eq!(
            UrlSigner::new(&Keys::derive("other")).verify(token, 0),
            None
        );
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let signer = UrlSigner::new(&Keys::derive("k"));
        let path = signer.sign(&grant());
        let token = path.strip_prefix(PATH_PREFIX).unwrap();
        let (payload, mac) = token.split_once('.').unwrap();
        let mut longer = grant();
        longer.length = Some(10_000);
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&longer).unwrap());
        assert_eq!(signer.verify(&format!("{forged_payload}.{mac}"), 0), None);
        assert_eq!(
            signer.verify(&format!("{payload}.{}", "0".repeat(64)), 0),
            None
        );
        assert_eq!(signer.verify("garbage", 0), None);
    }

    #[test]
    fn the_disposition_is_signed_and_attachment_tokens_omit_it() {
        let signer = UrlSigner::new(&Keys::derive("k"));
        let mut download = grant();
        download.method = "GET".into();
        download.length = None;
        download.filename = Some("a.pdf".into());
        let json = serde_json::to_string(&download).unwrap();
        assert!(!json.contains("disposition"), "{json}");
        let path = signer.sign(&download);
        let (_, mac) = path
            .strip_prefix(PATH_PREFIX)
            .unwrap()
            .split_once('.')
            .unwrap();
        // Turning an attachment into an inline view breaks the signature.
        let mut inline = download.clone();
        inline.disposition = Disposition::Inline;
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&inline).unwrap());
        assert_eq!(signer.verify(&format!("{forged}.{mac}"), 0), None);
        let signed = signer.sign(&inline);
        assert_eq!(
            signer.verify(signed.strip_prefix(PATH_PREFIX).unwrap(), 0),
            Some(inline)
        );
    }
}
