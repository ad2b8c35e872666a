//! Reaching the exchange: `--exchange` and `--exchange-url` checked before anything is sent,
//! the credentials, the client for the venue, and the mainnet guard.

use std::path::PathBuf;

use soak_core::exit::{environment, usage};

use crate::cli::ExchangeArgs;
use crate::credentials::{self, Credentials};
use crate::exchange::http::{Backoff, Http};
use crate::exchange::{self, Exchange, ExchangeError, Scope};

/// The exchange kinds `--exchange` accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Venue {
    /// Bybit mainnet (`bybit`) or testnet (`bybit-testnet`).
    Bybit {
        /// True for testnet.
        testnet: bool,
    },
    /// Kraken spot.
    Kraken,
    /// A saved listing.
    File(PathBuf),
}

impl Venue {
    /// Parses `--exchange` (clap's value parser for it: clap names the flag and the value in
    /// front of the error).
    pub fn parse(s: &str) -> Result<Venue, String> {
        match s {
            "bybit" => Ok(Venue::Bybit { testnet: false }),
            "bybit-testnet" => Ok(Venue::Bybit { testnet: true }),
            "kraken" => Ok(Venue::Kraken),
            _ => match s.strip_prefix("file:") {
                Some(p) if !p.is_empty() => Ok(Venue::File(PathBuf::from(p))),
                _ => Err("expected bybit, bybit-testnet, kraken or file:PATH".to_string()),
            },
        }
    }

    /// The venue's name in records (`bybit`, `kraken`, `file`).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Venue::Bybit { .. } => "bybit",
            Venue::Kraken => "kraken",
            Venue::File(_) => "file",
        }
    }
}

/// True when the base URL's host is this machine (a simulator), so no real money is at stake.
pub fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A client for the venue, with the credentials its errors are redacted with.
pub(crate) struct Connection {
    pub(crate) exchange: Box<dyn Exchange>,
    pub(crate) creds: Option<Credentials>,
    pub(crate) mainnet: bool,
    pub(crate) venue: Venue,
}

impl Connection {
    fn redact(&self, text: &str) -> String {
        self.creds
            .as_ref()
            .map_or(text.to_string(), |c| c.redact(text))
    }

    /// An exchange error as the tool's error, redacted: a refused operation is exit 2, the
    /// rest the environment's (3).
    pub(crate) fn fail(&self, e: ExchangeError) -> anyhow::Error {
        let msg = self.redact(&e.to_string());
        match e {
            ExchangeError::Unsupported(_) => usage(msg),
            _ => environment(msg),
        }
    }
}

fn load_credentials(
    args: &ExchangeArgs,
    key_var: &str,
    secret_var: &str,
    secret_is_base64: bool,
) -> anyhow::Result<Credentials> {
    let (creds, secret_name) = match &args.credentials_file {
        Some(p) => (
            credentials::from_file(p),
            format!("{}: secret", p.display()),
        ),
        None => (
            credentials::from_env(key_var, secret_var),
            secret_var.to_string(),
        ),
    };
    let creds = creds.map_err(usage)?;
    if secret_is_base64 {
        credentials::check_base64(&secret_name, creds.secret.expose()).map_err(usage)?;
    }
    Ok(creds)
}

/// Checks `--exchange-url` before anything is sent: `http` or `https`, a host, and nothing but a
/// path after it (no credentials, query or fragment).
pub fn check_exchange_url(url: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("--exchange-url {url:?}: {why}"));
    let Ok(uri) = url.parse::<ureq::http::Uri>() else {
        return bad("not a URL (expected e.g. http://127.0.0.1:8080 or https://api.bybit.com)");
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return bad("the scheme must be http:// or https://");
    }
    let Some(authority) = uri.authority() else {
        return bad("no host");
    };
    if authority.as_str().contains('@') {
        return bad(
            "credentials do not belong in the URL (use the environment or --credentials-file)",
        );
    }
    if authority.host().is_empty() {
        return bad("no host");
    }
    if uri.query().is_some() || url.contains('#') {
        return bad("a base URL has no query or fragment");
    }
    Ok(())
}

/// Checks the exchange flags and builds the client (exit 2 on a bad flag or credentials).
pub(crate) fn connect(args: &ExchangeArgs) -> anyhow::Result<Connection> {
    let venue = args.exchange.clone();
    if args
        .max_rate
        .is_some_and(|r| r.as_per_second().is_nan() || r.as_per_second() <= 0.0)
    {
        return Err(usage(
            "--max-rate must be more than 0 requests per second (0 would never send one)",
        ));
    }
    if args.request_timeout.is_zero() {
        return Err(usage(
            "--request-timeout must be longer than 0s (every request would time out)",
        ));
    }
    if let Some(url) = &args.exchange_url {
        check_exchange_url(url).map_err(usage)?;
    }
    let backoff = Backoff {
        attempts: args.attempts.max(1),
        ..Backoff::default()
    };
    let rate = args.max_rate.map(|r| r.as_per_second());
    let conn = match &venue {
        Venue::File(p) => Connection {
            exchange: Box::new(exchange::snapshot::Snapshot::new(p)),
            creds: None,
            mainnet: false,
            venue: venue.clone(),
        },
        Venue::Bybit { testnet } => {
            let default = if *testnet {
                exchange::bybit::TESTNET
            } else {
                exchange::bybit::MAINNET
            };
            let base = args
                .exchange_url
                .clone()
                .unwrap_or_else(|| default.to_string());
            let creds = load_credentials(args, "BYBIT_API_KEY", "BYBIT_API_SECRET", false)?;
            let http = Http::new(&base, args.request_timeout, rate);
            Connection {
                exchange: Box::new(exchange::bybit::Bybit::new(http, creds.clone(), backoff)),
                creds: Some(creds),
                mainnet: !testnet && !is_loopback(&base),
                venue: venue.clone(),
            }
        }
        Venue::Kraken => {
            let base = args
                .exchange_url
                .clone()
                .unwrap_or_else(|| exchange::kraken::MAINNET.to_string());
            let creds = load_credentials(args, "KRAKEN_API_KEY", "KRAKEN_API_SECRET", true)?;
            let http = Http::new(&base, args.request_timeout, rate);
            Connection {
                exchange: Box::new(exchange::kraken::Kraken::new(
                    http,
                    creds.clone(),
                    backoff,
                    args.kraken_nonce_unit,
                )),
                creds: Some(creds),
                mainnet: !is_loopback(&base),
                venue: venue.clone(),
            }
        }
    };
    Ok(conn)
}

/// The listing and cancelling scope of the flags (linear defaults to USDT-settled).
pub(crate) fn scope_of(args: &ExchangeArgs) -> Scope {
    let linear_like = matches!(args.category.as_str(), "linear" | "inverse");
    Scope {
        category: args.category.clone(),
        symbol: args.symbol.clone(),
        settle_coin: args.settle_coin.clone().or_else(|| {
            (linear_like && args.symbol.is_none() && args.category == "linear")
                .then(|| "USDT".to_string())
        }),
    }
}

/// Refuses `--execute` on a mainnet exchange without `--live` (exit 2, nothing cancelled).
pub(crate) fn refuse_mainnet(conn: &Connection, execute: bool, live: bool) -> anyhow::Result<()> {
    if execute && conn.mainnet && !live {
        return Err(usage(format!(
            "--execute on {} mainnet also needs --live (real orders, real money); nothing was cancelled",
            conn.venue.name()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venues_and_loopback() {
        assert_eq!(
            Venue::parse("bybit-testnet"),
            Ok(Venue::Bybit { testnet: true })
        );
        assert_eq!(
            Venue::parse("file:x.json"),
            Ok(Venue::File("x.json".into()))
        );
        assert!(Venue::parse("binance").is_err());
        assert!(is_loopback("http://127.0.0.1:4000"));
        assert!(is_loopback("http://localhost/v5"));
        assert!(is_loopback("http://[::1]:80"));
        assert!(!is_loopback("https://api.bybit.com"));
        assert!(!is_loopback("https://127.0.0.1.evil.example"));
    }

    #[test]
    fn base_urls_are_checked_before_anything_is_sent() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://[::1]:8080/",
            "https://api.bybit.com",
            "http://localhost/prefix",
        ] {
            assert_eq!(check_exchange_url(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "api.bybit.com",
            "ftp://h",
            "http://",
            "http://u:p@h",
            "http://h/?a=b",
            "http://h/#f",
            "http://h :80",
        ] {
            let e = check_exchange_url(bad).expect_err(bad);
            assert!(e.starts_with("--exchange-url "), "{e}");
        }
    }
}
