//! Short-lived access tokens: HS256 JWTs with a pinned algorithm, checked issuer,
//! audience and type, signed with a key derived from `SECRET_KEY`.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `iss` of every token this server issues.
pub const ISSUER: &str = "docuvault";
/// `aud` of access tokens.
pub const AUDIENCE: &str = "docuvault-api";
/// `typ` claim of access tokens (refresh tokens are opaque, never JWTs).
pub const ACCESS_TYPE: &str = "access";
/// Clock skew tolerated on `exp`/`nbf`, in seconds.
const LEEWAY_SECS: u64 = 5;

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// User id.
    pub sub: Uuid,
    /// Session (refresh-token family) the token belongs to.
    pub sid: Uuid,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Token type, always `access`.
    pub typ: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Issued at in microseconds, compared with `users.tokens_valid_after` (same precision).
    pub iat_us: i64,
    /// Not before (seconds).
    pub nbf: i64,
    /// Expiry (seconds).
    pub exp: i64,
    /// Unique token id.
    pub jti: Uuid,
}

/// Signs and checks access tokens.
#[derive(Clone)]
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_secs: i64,
}

impl TokenIssuer {
    /// An issuer signing with `secret` (from [`crate::crypto::Keys::jwt_secret`]); an
    /// empty secret is refused.
    pub fn new(secret: &[u8], ttl_secs: u64) -> anyhow::Result<Self> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "sub", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret)?,
            decoding: DecodingKey::from_secret(secret)?,
            validation,
            ttl_secs: i64::try_from(ttl_secs).unwrap_or(900),
        })
    }

    /// Lifetime of issued tokens in seconds.
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// A signed access token for `user` in session `sid`, issued at `now`.
    pub fn issue(&self, user: Uuid, sid: Uuid, now: DateTime<Utc>) -> anyhow::Result<String> {
        let iat = now.timestamp();
        let claims = AccessClaims {
            sub: user,
            sid,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            typ: ACCESS_TYPE.into(),
            iat,
            iat_us: now.timestamp_micros(),
            nbf: iat,
            exp: iat + self.ttl_secs,
            jti: Uuid::new_v4(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The claims of a valid access token, or `None` for anything else (bad signature,
    /// other algorithm, expired, not yet valid, wrong issuer/audience/type).
    pub fn verify(&self, token: &str) -> Option<AccessClaims> {
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).ok()?;
        (data.claims.typ == ACCESS_TYPE).then_some(data.claims)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn issued_tokens_verify_and_carry_the_session() {
        let issuer = TokenIssuer::new(b"0123456789abcdef0123456789abcdef", 900).unwrap();
        let (user, sid) = (Uuid::new_v4(), Uuid::new_v4());
        let token = issuer.issue(user, sid, Utc::now()).unwrap();
        let claims = issuer.verify(&token).unwrap();
        assert_eq!((claims.sub, claims.sid), (user, sid));
        let other = TokenIssuer::new(b"another-key-another-key-another-k", 900).unwrap();
        assert!(other.verify(&token).is_none());
    }

    #[test]
    fn expired_tokens_fail() {
        let issuer = TokenIssuer::new(b"0123456789abcdef0123456789abcdef", 900).unwrap();
        let then = Utc::now() - chrono::Duration::seconds(900 + 60);
        let token = issuer.issue(Uuid::new_v4(), Uuid::new_v4(), then).unwrap();
        assert!(issuer.verify(&token).is_none());
    }
}
