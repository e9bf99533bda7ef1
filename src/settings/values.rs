//! Setting values that check themselves while the settings are deserialised, so a bad
//! value fails loading with the key named and nothing downstream parses it again.

use std::net::IpAddr;

use croner::Cron;
use croner::parser::{CronParser, Seconds};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

/// `auth.trusted_proxies`: the proxies whose forwarded headers are believed, as CIDR
/// ranges (`10.0.0.0/8`, `fd00::/8`) or bare addresses (`127.0.0.1`, `::1`), from a list
/// or a comma-separated string. Parsed once, here; `security::client_ip` reads the ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses the configured items. Blank items are skipped; host bits are cleared, and
    /// IPv4-mapped IPv6 ranges (`::ffff:10.0.0.0/104`) become the IPv4 range they mean.
    ///
    /// # Errors
    ///
    /// The first item that is neither an address nor a range, named in the message.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Self, String> {
        let mut nets = Vec::with_capacity(items.len());
        for item in items {
            let item = item.as_ref().trim();
            if item.is_empty() {
                continue;
            }
            let net = if let Ok(net) = item.parse::<IpNet>() {
                canonical_net(net)
            } else if let Ok(ip) = item.parse::<IpAddr>() {
                IpNet::from(ip.to_canonical())
            } else {
                return Err(format!(
                    "{item:?} is neither an IP address nor a CIDR range (like 10.0.0.0/8 or fd00::/8)"
                ));
            };
            nets.push(net);
        }
        Ok(Self(nets))
    }
}

impl std::ops::Deref for TrustedProxies {
    type Target = [IpNet];

    fn deref(&self) -> &[IpNet] {
        &self.0
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&list_or_csv(d)?).map_err(serde::de::Error::custom)
    }
}

/// `::ffff:a.b.c.d/n` (n ≥ 96) as the IPv4 range it means, host bits cleared.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && v6.prefix_len() >= 96
        && let Ok(mapped) = ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(mapped.trunc());
    }
    net.trunc()
}

/// Tesseract languages, `+`-joined (`eng`, `deu+eng`, `chi_sim`): `ocr.languages` and an
/// account's `ocr_languages`. Only the syntax is checked here (each name 1–32 letters,
/// digits or `_`, at most 8 of them, no repeats, 200 characters in all; the column's
/// width), since the name becomes a command-line
/// argument; whether they are installed is known only at start (`ocr_status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcrLanguages(String);

impl OcrLanguages {
    /// Parses a `+`-joined list (surrounding blanks ignored).
    ///
    /// # Errors
    ///
    /// A value that is not such a list, with the expected syntax in the message.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        let names: Vec<&str> = value.split('+').collect();
        let well_formed = value.len() <= 200
            && names.len() <= 8
            && names.iter().all(|l| {
                (1..=32).contains(&l.len())
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
            && names
                .iter()
                .enumerate()
                .all(|(i, l)| !names[..i].contains(l));
        if well_formed {
            Ok(Self(value.to_owned()))
        } else {
            Err(format!(
                "{value:?} is not a list of Tesseract languages: use up to 8 distinct names of \
                 letters, digits or _, joined by +, at most 200 characters (e.g. \"eng\" or \
                 \"deu+eng\")"
            ))
        }
    }

    /// The list as Tesseract takes it (`deu+eng`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The single languages.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.split('+')
    }
}

impl std::fmt::Display for OcrLanguages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OcrLanguages {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// `cleanup.schedule`: a cron expression with seconds, accepted only if the job
/// scheduler (tokio-cron-scheduler) takes it and parsed with the options it fires by,
/// so `jobs::scheduler` names ticks exactly as they fire.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expr: String,
    cron: Cron,
}

/// What a valid schedule looks like, for error messages.
const SCHEDULE_SYNTAX: &str = "not a valid cron expression; use six fields with seconds: sec min hour day month weekday \
     (e.g. \"0 */30 * * * *\")";

impl CronSchedule {
    /// Parses `expr` as the scheduler will (seconds required, day of month and day of
    /// week both required to match).
    ///
    /// # Errors
    ///
    /// An expression either parser refuses, with the expected syntax in the message.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(expr)
            .ok()
            .filter(|_| {
                tokio_cron_scheduler::Job::new_async(expr, |_, _| Box::pin(async {})).is_ok()
            })
            .ok_or_else(|| format!("{expr:?} is {SCHEDULE_SYNTAX}"))?;
        Ok(Self {
            expr: expr.to_owned(),
            cron,
        })
    }

    /// The expression as configured (what the scheduler is given).
    pub fn as_str(&self) -> &str {
        &self.expr
    }

    /// The parsed schedule, for naming ticks.
    pub fn cron(&self) -> &Cron {
        &self.cron
    }
}

impl std::fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.expr)
    }
}

impl<'de> Deserialize<'de> for CronSchedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Accepts a list (files) or a comma-separated string (environment variables).
pub(super) fn list_or_csv<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCsv {
        List(Vec<String>),
        Csv(String),
    }
    Ok(match ListOrCsv::deserialize(d)? {
        ListOrCsv::List(items) => items,
        ListOrCsv::Csv(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn ocr_languages_are_plus_joined_names() {
        assert_eq!(
            OcrLanguages::parse(" deu+eng ").unwrap().as_str(),
            "deu+eng"
        );
        assert_eq!(
            OcrLanguages::parse("chi_sim+eng")
                .unwrap()
                .names()
                .collect::<Vec<_>>(),
            ["chi_sim", "eng"]
        );
        // Seven distinct 32-letter names: well formed but wider than the column.
        let long = (0..7)
            .map(|i| format!("{}{i}", "a".repeat(31)))
            .collect::<Vec<_>>()
            .join("+");
        assert!(long.len() > 200);
        for bad in ["", "+", "deu+", "eng+eng", "eng;ls", "d e", long.as_str()] {
            assert!(OcrLanguages::parse(bad).is_err(), "{bad:?}");
        }
        let nine = "a+b+c+d+e+f+g+h+i";
        assert!(OcrLanguages::parse(nine).is_err());
    }

    #[test]
    fn trusted_proxies_parse_cidrs_and_bare_addresses() {
        let nets = TrustedProxies::parse(&[
            "10.0.0.0/8",
            " 192.168.1.7 ",
            "fd00::/8",
            "::1",
            "",
            "10.1.2.3/16",
            "::ffff:10.9.0.0/112",
        ])
        .unwrap();
        let shown: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
        assert_eq!(
            shown,
            [
                "10.0.0.0/8",
                "192.168.1.7/32",
                "fd00::/8",
                "::1/128",
                "10.1.0.0/16",
                "10.9.0.0/16"
            ]
        );
    }

    #[test]
    fn trusted_proxies_reject_garbage() {
        for bad in [
            "localhost",
            "10.0.0.0/33",
            "10.0.0/8",
            "fd00::/129",
            "*",
            "1.2.3.4:80",
        ] {
            let err = TrustedProxies::parse(&[bad]).unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn schedules_are_checked_with_the_scheduler_s_own_rules() {
        assert!(CronSchedule::parse("*/2 * * * * *").is_ok());
        assert_eq!(
            CronSchedule::parse("0 */30 * * * *").unwrap().as_str(),
            "0 */30 * * * *"
        );
        let err = CronSchedule::parse("*/30 * * * *").unwrap_err();
        assert!(err.contains("seconds"), "seconds are required: {err}");
        assert!(CronSchedule::parse("nonsense").is_err());
        assert!(CronSchedule::parse("0 61 * * * *").is_err());
    }
}
