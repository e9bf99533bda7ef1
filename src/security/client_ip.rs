//! Which address a request came from, for rate limits, sessions and the audit log.
//!
//! `X-Forwarded-For` is written by whoever sent the request, so it is only believed when
//! the TCP peer is a configured trusted proxy, and then only as far as the chain of
//! trusted proxies reaches: the header is read from the right (the entry the nearest
//! proxy appended) and the first address that is not itself a trusted proxy is the
//! client. Anything further left was supplied by that client and is ignored.
//!
//! The same rule holds for the scheme and host a request was addressed to
//! ([`request_origin`]): `Forwarded`, `X-Forwarded-Host` and `X-Forwarded-Proto` count only
//! when a trusted proxy sent them.

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;
use ipnet::IpNet;

/// The client address of a request.
///
/// * No peer (not a TCP connection): `None`; the header alone is never believed.
/// * The peer is not a trusted proxy: the peer. `X-Forwarded-For` is ignored.
/// * The peer is a trusted proxy: walk `X-Forwarded-For` from the right, skipping trusted
///   proxies, and return the first untrusted address.
///   - If every entry is a trusted proxy, the left-most entry (the whole chain is ours,
///     e.g. an internal health check).
///   - If the header is missing or empty, the peer.
///   - If the walk meets an entry that is not an IP address before finding an untrusted
///     one, the last trusted hop reached (the proxy that forwarded the garbage, or the
///     peer): nothing left of garbage can be attributed, and falling back to a proxy's
///     address fails closed (its clients share one rate-limit bucket) instead of letting
///     the sender choose its own address.
///
/// Entries may carry a port (`1.2.3.4:5678`, `[2001:db8::1]:443`) or brackets; IPv4-mapped
/// IPv6 addresses (`::ffff:10.0.0.1`, what a dual-stack listener reports) are compared
/// and returned as IPv4.
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted_proxies: &[IpNet],
) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    if !is_trusted(peer, trusted_proxies) {
        return Some(peer);
    }
    let Some(header) = forwarded_for else {
        return Some(peer);
    };
    if header.trim().is_empty() {
        return Some(peer);
    }
    // The address of the last hop known to be a trusted proxy.
    let mut last_trusted = peer;
    for entry in header.rsplit(',') {
        let Some(ip) = parse_entry(entry) else {
            return Some(last_trusted);
        };
        if !is_trusted(ip, trusted_proxies) {
            return Some(ip);
        }
        last_trusted = ip;
    }
    Some(last_trusted)
}

/// All `X-Forwarded-For` header lines of a request, joined in order with commas.
///
/// A proxy may append its own header line instead of extending the client's (HAProxy's
/// `option forwardfor` does), so reading only the first line would hand the client's
/// own claim to [`client_ip`]. A line that is not valid text becomes an unparsable entry,
/// so the walk stops there rather than skipping it. `None` when there is no such header.
pub fn forwarded_for(headers: &HeaderMap) -> Option<String> {
    let mut joined: Option<String> = None;
    for value in headers.get_all("x-forwarded-for") {
        let text = value.to_str().unwrap_or("?");
        match joined.as_mut() {
            None => joined = Some(text.to_owned()),
            Some(s) => {
                s.push(',');
                s.push_str(text);
            }
        }
    }
    joined
}

/// `scheme://host[:port]` the request was addressed to, for absolute URLs when
/// `server.public_url` is not set. See [`request_origin`].
pub fn request_base_url(req: &HttpRequest, trusted_proxies: &[IpNet]) -> String {
    request_origin(
        req.peer_addr().map(|a| a.ip()),
        req.headers(),
        req.uri().authority().map(|a| a.as_str()),
        req.app_config().local_addr(),
        trusted_proxies,
    )
}

/// The base of absolute URLs handed to the caller of `req`: `server.public_url` (given
/// as `public_url`, without a trailing `/`) when set, else the request's own origin
/// ([`request_base_url`]).
pub fn public_base_url(req: &HttpRequest, public_url: &str, trusted_proxies: &[IpNet]) -> String {
    if public_url.is_empty() {
        request_base_url(req, trusted_proxies)
    } else {
        public_url.trim_end_matches('/').to_owned()
    }
}

/// The scheme and host a request was addressed to, as `scheme://host[:port]`.
///
/// * The peer is a trusted proxy: the last `Forwarded` element's `proto=`/`host=` (RFC
///   7239), else the right-most `X-Forwarded-Proto` / `X-Forwarded-Host` value (what the
///   nearest proxy wrote), else as below.
/// * Anyone else: forwarded headers are ignored. Scheme `http` (this server does not
///   terminate TLS); host from the `Host` header, or the URI's authority (HTTP/2).
/// * A host that is not a plain `name[:port]` or `[v6]:port` is never used: the local
///   socket address stands in. A scheme other than http/https counts as absent.
pub fn request_origin(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    authority: Option<&str>,
    local: SocketAddr,
    trusted_proxies: &[IpNet],
) -> String {
    let trusted = peer.is_some_and(|p| is_trusted(p.to_canonical(), trusted_proxies));
    let (mut proto, mut host) = (None, None);
    if trusted {
        if let Some(element) = last_value(headers, "forwarded") {
            for pair in element.split(';') {
                let Some((key, value)) = pair.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"');
                match key.trim().to_ascii_lowercase().as_str() {
                    "proto" => proto = valid_scheme(value),
                    "host" => host = valid_host(value),
                    _ => {}
                }
            }
        }
        if proto.is_none() {
            proto = last_value(headers, "x-forwarded-proto").and_then(|v| valid_scheme(&v));
        }
        if host.is_none() {
            host = last_value(headers, "x-forwarded-host").and_then(|v| valid_host(&v));
        }
    }
    let host = host
        .or_else(|| {
            headers
                .get("host")
                .and_then(|v| v.to_str().ok())
                .and_then(valid_host)
        })
        .or_else(|| authority.and_then(valid_host))
        .unwrap_or_else(|| local.to_string());
    format!("{}://{host}", proto.unwrap_or("http"))
}

/// The right-most comma-separated value over every line of header `name`.
fn last_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let line = headers.get_all(name).last()?.to_str().ok()?;
    let value = line.rsplit(',').next()?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn valid_scheme(value: &str) -> Option<&'static str> {
    match value.trim().to_ascii_lowercase().as_str() {
        "http" => Some("http"),
        "https" => Some("https"),
        _ => None,
    }
}

/// `name[:port]` or `[v6][:port]`, lower-cased, with nothing that could change the URL's
/// meaning (no `/`, `@`, `?`, `#`, spaces or control characters).
fn valid_host(value: &str) -> Option<String> {
    let value = value.trim();
    let (name, port) = if let Some(rest) = value.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        v6.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        };
        (format!("[{v6}]"), port)
    } else {
        match value.rsplit_once(':') {
            Some((name, port)) => (name.to_owned(), Some(port)),
            None => (value.to_owned(), None),
        }
    };
    let name_ok = name.starts_with('[')
        || (!name.is_empty()
            && name.len() <= 253
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok());
    (name_ok && port_ok).then(|| match port {
        Some(p) => format!("{}:{p}", name.to_ascii_lowercase()),
        None => name.to_ascii_lowercase(),
    })
}

/// The rate-limit bucket of an address: IPv4 as is, IPv6 as its /64.
///
/// One IPv6 subscriber usually holds a whole /64, so limiting single IPv6 addresses
/// would let one client rotate through billions of fresh buckets.
pub fn rate_limit_bucket(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => ipnet::Ipv6Net::new(v6, 64)
            .map(|n| n.trunc().to_string())
            .unwrap_or_else(|_| v6.to_string()),
    }
}

fn is_trusted(ip: IpAddr, trusted_proxies: &[IpNet]) -> bool {
    trusted_proxies.iter().any(|net| net.contains(&ip))
}

/// One `X-Forwarded-For` entry: an address, optionally bracketed, optionally with a port.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sock) = entry.parse::<SocketAddr>() {
        return Some(sock.ip().to_canonical());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(items: &[&str]) -> Vec<IpNet> {
        crate::settings::TrustedProxies::parse(items)
            .unwrap()
            .to_vec()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_the_header_says() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(Some(ip("203.0.113.7")), Some("1.2.3.4"), &trusted),
            Some(ip("203.0.113.7"))
        );
        // No trusted proxies configured at all: the header is never read.
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), Some("1.2.3.4"), &[]),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn without_a_peer_the_header_alone_is_not_believed() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(client_ip(None, Some("1.2.3.4"), &trusted), None);
    }

    #[test]
    fn a_trusted_proxy_passes_on_the_address_it_saw() {
        let trusted = proxies(&["10.0.0.1"]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), Some("198.51.100.9"), &trusted),
            Some(ip("198.51.100.9"))
        );
    }

    #[test]
    fn a_spoofed_header_sent_through_a_trusted_proxy_loses_to_what_the_proxy_appended() {
        let trusted = proxies(&["10.0.0.0/8"]);
        // The client sent "X-Forwarded-For: 127.0.0.1, 10.0.0.5"; the proxy appended the
        // client's real address.
        assert_eq!(
            client_ip(
                Some(ip("10.0.0.1")),
                Some("127.0.0.1, 10.0.0.5, 198.51.100.9"),
                &trusted
            ),
            Some(ip("198.51.100.9"))
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_is_walked_from_the_right() {
        let trusted = proxies(&["10.0.0.0/8", "192.168.1.1"]);
        assert_eq!(
            client_ip(
                Some(ip("10.0.0.1")),
                Some("6.6.6.6, 198.51.100.9, 192.168.1.1, 10.1.2.3"),
                &trusted
            ),
            Some(ip("198.51.100.9"))
        );
    }

    #[test]
    fn all_trusted_returns_the_left_most_entry() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), Some("10.9.9.9, 10.0.0.2"), &trusted),
            Some(ip("10.9.9.9"))
        );
    }

    #[test]
    fn a_missing_or_empty_header_from_a_trusted_proxy_means_the_peer() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), None, &trusted),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), Some("  "), &trusted),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), Some("not-an-ip"), &trusted),
            Some(ip("10.0.0.1"))
        );
        // An attacker-chosen address left of the garbage is never used.
        assert_eq!(
            client_ip(
                Some(ip("10.0.0.1")),
                Some("198.51.100.9, unknown, 10.0.0.7"),
                &trusted
            ),
            Some(ip("10.0.0.7"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), Some("1.2.3.4,,"), &trusted),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), Some("999.1.1.1"), &trusted),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), Some("\u{0}\u{7f}ü"), &trusted),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn ipv6_peers_proxies_and_clients() {
        let trusted = proxies(&["fd00::/8", "::1"]);
        assert_eq!(
            client_ip(Some(ip("::1")), Some("2001:db8::42"), &trusted),
            Some(ip("2001:db8::42"))
        );
        assert_eq!(
            client_ip(
                Some(ip("fd00::1")),
                Some("2001:db8::bad, [2001:db8::42]:4711, fd12::3"),
                &trusted
            ),
            Some(ip("2001:db8::42"))
        );
        assert_eq!(
            client_ip(Some(ip("2001:db8::1")), Some("198.51.100.9"), &trusted),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            client_ip(Some(ip("::1")), Some("[2001:db8::7]"), &trusted),
            Some(ip("2001:db8::7"))
        );
    }

    #[test]
    fn ports_on_ipv4_entries_are_ignored() {
        let trusted = proxies(&["10.0.0.1"]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), Some("198.51.100.9:51234"), &trusted),
            Some(ip("198.51.100.9"))
        );
    }

    #[test]
    fn ipv4_mapped_addresses_match_ipv4_proxies_and_come_back_as_ipv4() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(
                Some(ip("::ffff:10.0.0.1")),
                Some("::ffff:198.51.100.9"),
                &trusted
            ),
            Some(ip("198.51.100.9"))
        );
        assert_eq!(
            client_ip(Some(ip("::ffff:203.0.113.7")), None, &trusted),
            Some(ip("203.0.113.7"))
        );
        let mapped = proxies(&["::ffff:10.0.0.0/104"]);
        assert_eq!(mapped, proxies(&["10.0.0.0/8"]));
    }

    #[test]
    fn every_forwarded_for_line_is_read_in_order() {
        let mut headers = HeaderMap::new();
        assert_eq!(forwarded_for(&headers), None);
        let name = HeaderName::from_static("x-forwarded-for");
        headers.append(name.clone(), HeaderValue::from_static("6.6.6.6"));
        headers.append(name.clone(), HeaderValue::from_bytes(b"\xff").unwrap());
        headers.append(name, HeaderValue::from_static("198.51.100.9"));
        let joined = forwarded_for(&headers).unwrap();
        assert_eq!(joined, "6.6.6.6,?,198.51.100.9");
        let trusted = proxies(&["10.0.0.1"]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), Some(&joined), &trusted),
            Some(ip("198.51.100.9"))
        );
    }

    fn origin(peer: &str, headers: &[(&str, &str)], trusted: &[&str]) -> String {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        request_origin(
            Some(ip(peer)),
            &map,
            None,
            "127.0.0.1:8080".parse().unwrap(),
            &proxies(trusted),
        )
    }

    #[test]
    fn forwarded_host_and_proto_are_ignored_from_untrusted_peers() {
        let spoof = [
            ("host", "vault.local:8080"),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
            ("forwarded", "proto=https;host=evil2.example"),
        ];
        assert_eq!(
            origin("203.0.113.7", &spoof, &[]),
            "http://vault.local:8080"
        );
        assert_eq!(
            origin("203.0.113.7", &spoof, &["10.0.0.0/8"]),
            "http://vault.local:8080"
        );
    }

    #[test]
    fn a_trusted_proxy_says_which_host_and_scheme_the_client_used() {
        let trusted = ["10.0.0.0/8"];
        assert_eq!(
            origin(
                "10.0.0.1",
                &[
                    ("host", "app:8080"),
                    ("x-forwarded-host", "vault.example.com"),
                    ("x-forwarded-proto", "https")
                ],
                &trusted
            ),
            "https://vault.example.com"
        );
        // Forwarded wins; its last element is the nearest proxy's.
        assert_eq!(
            origin(
                "10.0.0.1",
                &[
                    ("host", "app:8080"),
                    ("x-forwarded-host", "other.example"),
                    (
                        "forwarded",
                        "for=1.2.3.4;host=evil.example;proto=http, for=5.6.7.8;host=\"Vault.Example.com:8443\";proto=https"
                    )
                ],
                &trusted
            ),
            "https://vault.example.com:8443"
        );
        // The right-most X-Forwarded-Host, over every header line.
        assert_eq!(
            origin(
                "10.0.0.1",
                &[
                    ("x-forwarded-host", "evil.example"),
                    ("x-forwarded-host", "evil2.example, vault.example.com")
                ],
                &trusted
            ),
            "http://vault.example.com"
        );
    }

    #[test]
    fn hosts_that_could_change_a_url_are_never_used() {
        for bad in [
            "evil.example/path",
            "user@evil.example",
            "evil.example:99999",
            "evil.example:80x",
            "[::1",
            "[zz::1]:80",
            "a b",
            "evil.example?x",
            "",
        ] {
            assert_eq!(
                origin("203.0.113.7", &[("host", bad)], &[]),
                "http://127.0.0.1:8080",
                "{bad}"
            );
            assert_eq!(
                origin(
                    "10.0.0.1",
                    &[("host", "vault.local"), ("x-forwarded-host", bad)],
                    &["10.0.0.1"]
                ),
                "http://vault.local",
                "{bad}"
            );
        }
        assert_eq!(
            origin("203.0.113.7", &[("host", "[2001:db8::1]:8080")], &[]),
            "http://[2001:db8::1]:8080"
        );
        assert_eq!(
            origin(
                "10.0.0.1",
                &[("host", "vault.local"), ("x-forwarded-proto", "javascript")],
                &["10.0.0.1"]
            ),
            "http://vault.local"
        );
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        assert_eq!(rate_limit_bucket(ip("198.51.100.9")), "198.51.100.9");
        assert_eq!(rate_limit_bucket(ip("::ffff:198.51.100.9")), "198.51.100.9");
        assert_eq!(
            rate_limit_bucket(ip("2001:db8:1:2:aaaa::1")),
            rate_limit_bucket(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_eq!(
            rate_limit_bucket(ip("2001:db8:1:2::1")),
            "2001:db8:1:2::/64"
        );
        assert_ne!(
            rate_limit_bucket(ip("2001:db8:1:2::1")),
            rate_limit_bucket(ip("2001:db8:1:3::1"))
        );
    }
}
