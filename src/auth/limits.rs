//! The attempt limits of the auth endpoints, from settings, and how a denial is
//! answered (429 + `Retry-After`) and audited (once per window, not once per request).

use std::time::Duration;

use crate::audit::{AuditEntry, AuditEvent, Outcome};
use crate::auth::sessions::ClientInfo;
use crate::error::ApiError;
use crate::security::rate_limit::Rule;
use crate::settings::LimitSetting;
use crate::state::AppState;

/// Which limit applies.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// Login attempts per client IP.
    LoginPerIp,
    /// Login attempts per account identifier.
    LoginPerAccount,
    /// Registrations per client IP.
    RegisterPerIp,
    /// Refreshes per client IP.
    RefreshPerIp,
    /// TOTP / backup-code checks per account.
    SecondFactorPerAccount,
    /// Password re-authentication per account.
    PasswordPerAccount,
    /// "Forgot password" requests per client IP.
    PasswordResetPerIp,
    /// "Forgot password" requests per e-mail address.
    PasswordResetPerEmail,
    /// Public-link password attempts per client IP.
    LinkPasswordPerIp,
    /// Public-link password attempts per link.
    LinkPasswordPerLink,
}

impl Limit {
    fn rule(self, state: &AppState) -> Rule {
        let r = &state.settings.rate_limit;
        let (name, setting): (&'static str, &LimitSetting) = match self {
            Limit::LoginPerIp => ("login_ip", &r.login_per_ip),
            Limit::LoginPerAccount => ("login_account", &r.login_per_account),
            Limit::RegisterPerIp => ("register_ip", &r.register_per_ip),
            Limit::RefreshPerIp => ("refresh_ip", &r.refresh_per_ip),
            Limit::SecondFactorPerAccount => ("second_factor", &r.second_factor_per_account),
            Limit::PasswordPerAccount => ("password", &r.password_per_account),
            Limit::PasswordResetPerIp => ("password_reset_ip", &r.password_reset_per_ip),
            Limit::PasswordResetPerEmail => ("password_reset_email", &r.password_reset_per_email),
            Limit::LinkPasswordPerIp => ("link_password_ip", &r.link_password_per_ip),
            Limit::LinkPasswordPerLink => ("link_password_link", &r.link_password_per_link),
        };
        Rule {
            name,
            limit: setting.limit,
            window: Duration::from_secs(setting.window_secs),
        }
    }
}

/// Counts one attempt against `limit` for `key`; 429 once exceeded.
pub async fn check(
    state: &AppState,
    limit: Limit,
    key: &str,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    if !state.settings.rate_limit.enabled {
        return Ok(());
    }
    let rule = limit.rule(state);
    let Err(denied) = state.limiter.hit(&rule, key).await else {
        return Ok(());
    };
    // Audit the first denial of each window only: a flood must not become a flood of rows.
    let audit_rule = Rule {
        name: "audit_rate_limited",
        limit: 1,
        window: rule.window,
    };
    if state
        .limiter
        .hit(&audit_rule, &format!("{}:{key}", rule.name))
        .await
        .is_ok()
    {
        let entry = AuditEntry::new(
            AuditEvent::RateLimited,
            Outcome::Failure,
            None,
            Some(&client.ip),
        )
        .detail("limit", rule.name);
        if let Err(e) = entry.record(&state.db).await {
            tracing::warn!(error = %e, "could not audit a rate-limit trip");
        }
    }
    Err(ApiError::TooManyRequests {
        retry_after_secs: denied.retry_after_secs.max(1),
    })
}

/// Forgets the attempts of `key` under `limit` (after a success).
pub async fn reset(state: &AppState, limit: Limit, key: &str) {
    state.limiter.reset(&limit.rule(state), key).await;
}
