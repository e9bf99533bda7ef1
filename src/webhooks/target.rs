//! Where a webhook may send: only `http`/`https` URLs whose host resolves to public
//! addresses. Loopback, private (RFC 1918, fc00::/7), link-local, cloud metadata,
//! unspecified, multicast, CGNAT (100.64.0.0/10) and reserved addresses are refused, also
//! when written as IPv4-mapped (or NAT64 / 6to4) IPv6 addresses, unless the host is
//! listed in `webhooks.allowed_hosts`.
//!
//! Checked when a webhook is created or its URL changed ([`check_url`], [`check_now`])
//! and again before every delivery ([`resolve`]): the delivery then connects to exactly
//! the addresses checked, so a name that resolves differently the second time (DNS
//! rebinding) cannot reach an inner address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

use crate::settings::WebhookSettings;

/// Longest accepted webhook URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// Why a target is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not an absolute `http(s)` URL with a host.
    #[error("{0}")]
    Invalid(String),
    /// The host is (or resolves to) an address of a forbidden kind.
    #[error("{host} is {kind} address ({ip}); only public addresses are allowed")]
    Forbidden {
        /// The host as written.
        host: String,
        /// The offending address.
        ip: IpAddr,
        /// `a loopback`, `a private`, … (with the article).
        kind: &'static str,
    },
    /// The host name did not resolve (at delivery: tried again later).
    #[error("{host} could not be resolved: {reason}")]
    Unresolved {
        /// The host.
        host: String,
        /// The resolver's message.
        reason: String,
    },
}

/// The kind of a forbidden address (with its article), or `None` for a public one.
pub fn forbidden_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => "a cloud metadata",
        (0, _, _) => "an unspecified",
        (127, _, _) => "a loopback",
        (10, _, _) | (192, 168, _) => "a private",
        (172, 16..=31, _) => "a private",
        (169, 254, _) => "a link-local",
        (100, 64..=127, _) => "a shared (CGNAT)",
        (224..=239, _, _) => "a multicast",
        (240..=255, _, _) => "a reserved",
        (192, 0, 0) => "a reserved",
        (198, 18..=19, _) => "a reserved",
        _ => return None,
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    // IPv4 addresses carried in IPv6 are judged as the IPv4 address: mapped
    // (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_kind(v4);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., a, b, c, d] = ip.octets();
        return v4_kind(Ipv4Addr::new(a, b, c, d));
    }
    if segments[0] == 0x2002 {
        let [_, _, a, b, c, d, ..] = ip.octets();
        return v4_kind(Ipv4Addr::new(a, b, c, d));
    }
    Some(match segments[0] {
        _ if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) => "a cloud metadata",
        _ if ip.is_unspecified() => "an unspecified",
        _ if ip.is_loopback() => "a loopback",
        // Deprecated IPv4-compatible addresses (::a.b.c.d).
        _ if segments[..6] == [0; 6] => "a reserved",
        s if s & 0xfe00 == 0xfc00 => "a private (unique local)",
        s if s & 0xffc0 == 0xfe80 => "a link-local",
        s if s & 0xffc0 == 0xfec0 => "a private (site-local)",
        s if s & 0xff00 == 0xff00 => "a multicast",
        _ => return None,
    })
}

/// A parsed webhook URL that passed the static checks: scheme, host, length.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as it will be requested.
    pub url: Url,
    /// Its host as written (no brackets around IPv6 addresses).
    pub host: String,
    /// Its port (or the scheme's default).
    pub port: u16,
    /// The host is an IP address (nothing to resolve).
    pub ip: Option<IpAddr>,
    /// Listed in `webhooks.allowed_hosts`.
    pub allowed: bool,
}

/// Parses `raw` and applies the checks that need no resolver: an absolute `http` or
/// `https` URL with a host, no fragment, at most [`MAX_URL_LEN`] bytes, and (unless
/// allowed) not an IP address of a forbidden kind.
pub fn check_url(raw: &str, settings: &WebhookSettings) -> Result<Target, Refusal> {
    let raw = raw.trim();
    if raw.len() > MAX_URL_LEN {
        return Err(Refusal::Invalid(format!(
            "The URL is longer than {MAX_URL_LEN} bytes"
        )));
    }
    let url = Url::parse(raw).map_err(|e| Refusal::Invalid(format!("Not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refusal::Invalid(format!(
            "Only http and https URLs are allowed, not {}:",
            url.scheme()
        )));
    }
    if url.fragment().is_some() {
        return Err(Refusal::Invalid("The URL must not have a #fragment".into()));
    }
    let (host, ip) = match url.host() {
        Some(Host::Domain(d)) => (d.trim_end_matches('.').to_ascii_lowercase(), None),
        Some(Host::Ipv4(v4)) => (v4.to_string(), Some(IpAddr::V4(v4))),
        Some(Host::Ipv6(v6)) => (v6.to_string(), Some(IpAddr::V6(v6))),
        None => return Err(Refusal::Invalid("The URL has no host".into())),
    };
    if host.is_empty() {
        return Err(Refusal::Invalid("The URL has no host".into()));
    }
    let port = url
        .port_or_known_default()
        .ok_or_else(|| Refusal::Invalid("The URL has no port".into()))?;
    let allowed = settings.allows(&host);
    if !allowed
        && let Some(ip) = ip
        && let Some(kind) = forbidden_kind(ip)
    {
        return Err(Refusal::Forbidden { host, ip, kind });
    }
    Ok(Target {
        url,
        host,
        port,
        ip,
        allowed,
    })
}

/// The addresses `target` may be reached at now: its IP address, or every address its
/// name resolves to, each checked (one forbidden address refuses the whole name, so a
/// name cannot mix a public address with an inner one).
pub async fn resolve(target: &Target) -> Result<Vec<SocketAddr>, Refusal> {
    resolve_host(&target.host, target.port, target.allowed).await
}

/// The addresses `host` (a name or an IP address, IPv6 with or without brackets) may be
/// reached at on `port` now, as [`resolve`] checks them; `allowed`: listed by the
/// operator, so inner addresses pass. The caller connects to exactly these (no second
/// lookup that could answer differently).
pub async fn resolve_host(
    host: &str,
    port: u16,
    allowed: bool,
) -> Result<Vec<SocketAddr>, Refusal> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| Refusal::Unresolved {
                host: bare.to_owned(),
                reason: e.to_string(),
            })?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(Refusal::Unresolved {
            host: bare.to_owned(),
            reason: "no addresses".into(),
        });
    }
    if !allowed {
        for addr in &addrs {
            let ip = canonical(addr.ip());
            if let Some(kind) = forbidden_kind(ip) {
                return Err(Refusal::Forbidden {
                    host: bare.to_owned(),
                    ip,
                    kind,
                });
            }
        }
    }
    Ok(addrs)
}

/// The check of a host when it is saved: refused when it is, or resolves now to, a
/// forbidden address (a name that does not resolve yet passes; every connection checks
/// again).
pub async fn check_host_now(host: &str, port: u16, allowed: bool) -> Result<(), Refusal> {
    match resolve_host(host, port, allowed).await {
        Ok(_) | Err(Refusal::Unresolved { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The check at creation: [`check_url`], then the resolved addresses when the name
/// resolves now (a name that does not resolve yet is accepted; every delivery checks
/// again).
pub async fn check_now(raw: &str, settings: &WebhookSettings) -> Result<Target, Refusal> {
    let target = check_url(raw, settings)?;
    check_host_now(&target.host, target.port, target.allowed).await?;
    Ok(target)
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is (for messages).
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings(allowed: &[&str]) -> WebhookSettings {
        WebhookSettings {
            allowed_hosts: allowed.iter().map(|s| (*s).to_owned()).collect(),
            max_attempts: 8,
            timeout_secs: 10,
            retry_base_secs: 5,
        }
    }

    #[test]
    fn forbidden_kinds() {
        for (ip, kind) in [
            ("127.0.0.1", "a loopback"),
            ("127.8.9.10", "a loopback"),
            ("10.0.0.1", "a private"),
            ("172.16.0.1", "a private"),
            ("172.31.255.255", "a private"),
            ("192.168.1.1", "a private"),
            ("169.254.169.254", "a cloud metadata"),
            ("169.254.1.1", "a link-local"),
            ("100.64.0.1", "a shared (CGNAT)"),
            ("100.127.255.254", "a shared (CGNAT)"),
            ("0.0.0.0", "an unspecified"),
            ("224.0.0.1", "a multicast"),
            ("255.255.255.255", "a reserved"),
            ("::1", "a loopback"),
            ("::", "an unspecified"),
            ("fc00::1", "a private (unique local)"),
            ("fd12:3456::1", "a private (unique local)"),
            ("fd00:ec2::254", "a cloud metadata"),
            ("fe80::1", "a link-local"),
            ("ff02::1", "a multicast"),
            ("::ffff:127.0.0.1", "a loopback"),
            ("::ffff:10.1.2.3", "a private"),
            ("::ffff:169.254.169.254", "a cloud metadata"),
            ("64:ff9b::a9fe:a9fe", "a cloud metadata"),
            ("2002:7f00:1::", "a loopback"),
            ("::127.0.0.1", "a reserved"),
        ] {
            assert_eq!(forbidden_kind(ip.parse().unwrap()), Some(kind), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "169.255.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert_eq!(forbidden_kind(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[test]
    fn urls_are_checked_before_any_lookup() {
        let s = settings(&[]);
        for bad in [
            "ftp://example.com/x",
            "file:///etc/passwd",
            "example.com/hook",
            "http://127.0.0.1/hook",
            "http://[::1]:8080/hook",
            "http://[::ffff:7f00:1]/",
            "http://169.254.169.254/latest/meta-data",
            "http://2130706433/",
            "http://0x7f.1/",
            "https://example.com/a#frag",
        ] {
            assert!(check_url(bad, &s).is_err(), "{bad} accepted");
        }
        let t = check_url("https://Example.COM./hook?x=1", &s).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.allowed),
            ("example.com", 443, false)
        );
        assert!(check_url("http://93.184.215.14:8080/", &s).is_ok());
    }

    #[test]
    fn allowed_hosts_let_inner_addresses_through() {
        let s = settings(&["127.0.0.1", "localhost", "::1"]);
        assert!(check_url("http://127.0.0.1:9000/hook", &s).unwrap().allowed);
        assert!(check_url("http://LOCALHOST:9000/hook", &s).unwrap().allowed);
        assert!(check_url("http://[::1]:9000/hook", &s).unwrap().allowed);
        assert!(check_url("http://10.0.0.1/hook", &s).is_err());
    }

    #[tokio::test]
    async fn names_resolving_to_inner_addresses_are_refused() {
        let s = settings(&[]);
        let err = check_now("http://localhost:9/hook", &s).await.unwrap_err();
        assert!(
            matches!(
                err,
                Refusal::Forbidden {
                    kind: "a loopback",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
