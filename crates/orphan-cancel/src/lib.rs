//! `orphan-cancel`: reconciles a trading bot's orders with the exchange and cancels what was
//! left behind, safely: dry-run unless `--execute`, mainnet only with `--live`, filtered to the
//! bot's own orders, limited in blast radius, verified by a final listing.
//!
//! - [`reconcile`]: orphans, ghosts, stale and quarantined orders;
//! - [`cancel`]: filter, re-check, batch cancel with retry rounds, verify;
//! - [`exchange`]: Bybit v5 and Kraken REST clients, and file snapshots;
//! - [`local_state`]: the bot's orders from JSON, JSONL or SQLite;
//! - [`signing`] and [`credentials`]: request signatures, and keys that never reach output.

pub mod cancel;
pub mod credentials;
pub mod exchange;
pub mod local_state;
pub mod order;
pub mod reconcile;
pub mod signing;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use soak_core::cli::OutputArgs;
use soak_core::exit::{ExitCode, environment, usage};
use soak_core::input::InputSource;
use soak_core::record::{Record, RecordType};
use soak_core::report::{RecordBody, Report};
use soak_core::signals::Termination;
use soak_core::units::{Rate, clap_count_rate, clap_duration};

use credentials::Credentials;
use exchange::http::{Backoff, Http};
use exchange::nonce::NonceUnit;
use exchange::{Exchange, ExchangeError, Scope};
use local_state::{FieldMap, StateFormat};
use order::Order;
use reconcile::{FindingKind, Thresholds};

const TOOL: &str = "orphan-cancel";

/// Command line of `orphan-cancel`.
#[derive(Debug, Parser)]
#[command(
    name = "orphan-cancel",
    version,
    about = "Reconcile a bot's orders with the exchange and cancel what was left behind, safely",
    after_help = "Examples:
  # what differs between the bot's state and Bybit testnet (exit 1 on orphans or ghosts)
  orphan-cancel reconcile --exchange bybit-testnet --state-file active_orders.json
  # the same, offline, against a saved listing, with a Markdown step summary
  orphan-cancel reconcile --exchange file:open_orders.json --state-file active_orders.json --summary-md summary.md
  # dry-run, then cancel only the bot's own orphans, at most 50
  orphan-cancel reconcile --exchange bybit-testnet --state-file s.json | orphan-cancel cancel --exchange bybit-testnet --client-id-prefix BOT_ --max-orders 50
  orphan-cancel cancel --exchange bybit-testnet --state-file s.json --client-id-prefix BOT_ --execute -o cancelled.jsonl
  # the emergency stop, mainnet
  orphan-cancel cancel-all --exchange bybit --category linear --settle-coin USDT --execute --live
  # keep Kraken's dead-man switch armed while the bot (PID 4242) lives
  orphan-cancel dead-man --exchange kraken --timeout 60s --every 20s --pid 4242

Credentials come from BYBIT_API_KEY/BYBIT_API_SECRET or KRAKEN_API_KEY/KRAKEN_API_SECRET, or
--credentials-file (mode 0600, lines key=... and secret=...), never from the command line.

Exit status: 0 clean; 1 orphans/ghosts found, or an order still open after cancelling;
2 bad usage, state file or credentials; 3 exchange unreachable or refused; 130 dead-man
stopped by SIGINT (SIGTERM: 0)."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// Where the exchange's orders come from, and how to reach it.
#[derive(Debug, Clone, Args)]
pub struct ExchangeArgs {
    /// `bybit`, `bybit-testnet`, `kraken`, or `file:PATH` (a saved listing; read-only).
    #[arg(long, value_name = "EXCHANGE")]
    pub exchange: String,
    /// Override the exchange's REST base URL (a simulator, a regional mirror). Formerly
    /// `--base-url` (still accepted).
    #[arg(long, alias = "base-url", value_name = "URL")]
    pub exchange_url: Option<String>,
    /// Read the key and secret from this file (mode 0600) instead of the environment.
    #[arg(long, value_name = "FILE")]
    pub credentials_file: Option<PathBuf>,
    /// Bybit category: linear, inverse, spot, option.
    #[arg(long, default_value = "linear")]
    pub category: String,
    /// Only this instrument.
    #[arg(long)]
    pub symbol: Option<String>,
    /// Bybit settle coin for linear/inverse listings without --symbol.
    #[arg(long, value_name = "COIN")]
    pub settle_coin: Option<String>,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_parser = clap_duration)]
    pub request_timeout: Duration,
    /// Attempts per request (transient failures: network, 5xx, rate limits, clock skew).
    #[arg(long, default_value_t = 6)]
    pub attempts: u32,
    /// Client-side request rate cap (e.g. `10/s`), on top of the exchange's own headers.
    #[arg(long, value_parser = clap_count_rate, value_name = "RATE")]
    pub max_rate: Option<Rate>,
    /// Unit of the Kraken nonce (Unix time): use the bot's own when it shares this API key, or
    /// the key's counter runs ahead of the bot and Kraken refuses the bot's requests.
    /// `krakenex` and ccxt use ms; python-kraken-sdk uses a larger one (pass ns).
    #[arg(long, value_enum, default_value = "ms", value_name = "UNIT")]
    pub kraken_nonce_unit: NonceUnit,
}

/// The bot's own state.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// The bot's orders: JSON, JSONL or SQLite (by extension, or --state-format). Formerly
    /// `--state` (still accepted).
    #[arg(long, alias = "state", value_name = "FILE")]
    pub state_file: Option<PathBuf>,
    /// Format of --state-file.
    #[arg(long, value_enum)]
    pub state_format: Option<StateFormat>,
    /// SQL for a SQLite --state-file (read-only).
    #[arg(long, default_value = "SELECT * FROM orders")]
    pub query: String,
    /// Map an order field to the state's own name: FIELD=NAME, FIELD one of id, client_id,
    /// symbol, side, qty, price, status, created, category (repeatable).
    #[arg(long = "field", value_name = "FIELD=NAME")]
    pub fields: Vec<String>,
    /// A local order pending longer than this while open on the exchange is `stale`.
    #[arg(long, default_value = "15m", value_parser = clap_duration)]
    pub stale_after: Duration,
    /// A local order missing on the exchange and older than this is to be quarantined.
    #[arg(long, default_value = "24h", value_parser = clap_duration)]
    pub quarantine_after: Duration,
}

/// The switches of a command that cancels.
#[derive(Debug, Clone, Args)]
pub struct ActArgs {
    /// Really cancel (otherwise: print the plan and change nothing).
    #[arg(long)]
    pub execute: bool,
    /// Required with --execute on a mainnet exchange.
    #[arg(long)]
    pub live: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Compare the bot's orders with the exchange's open orders: a finding per difference.
    Reconcile {
        /// The exchange.
        #[command(flatten)]
        exchange: ExchangeArgs,
        /// The bot's state (--state-file is required here).
        #[command(flatten)]
        state: StateArgs,
        /// Output options.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Cancel orphans: from `reconcile`'s JSONL on stdin (or --findings), or computed from
    /// --state-file. Dry-run unless --execute.
    Cancel {
        /// The exchange.
        #[command(flatten)]
        exchange: ExchangeArgs,
        /// Compute the orphans from this state instead of reading findings.
        #[command(flatten)]
        state: StateArgs,
        /// Read findings from this file instead of stdin.
        #[arg(long, value_name = "FILE")]
        findings: Option<PathBuf>,
        /// Only orders whose client id starts with this (the bot's tag); others are left alone.
        #[arg(long, value_name = "PREFIX")]
        client_id_prefix: Option<String>,
        /// Refuse to act when more orders than this match (blast-radius limit).
        #[arg(long, value_name = "N")]
        max_orders: Option<usize>,
        /// Execution switches.
        #[command(flatten)]
        act: ActArgs,
        /// Output options.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Emergency stop: the exchange's cancel-all for the scope, then verify nothing is open.
    CancelAll {
        /// The exchange.
        #[command(flatten)]
        exchange: ExchangeArgs,
        /// Execution switches.
        #[command(flatten)]
        act: ActArgs,
        /// Output options.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Keep the exchange's cancel-all-after switch armed; disarm on SIGINT/SIGTERM.
    DeadMan {
        /// The exchange.
        #[command(flatten)]
        exchange: ExchangeArgs,
        /// The exchange cancels everything this long after the last re-arm.
        #[arg(long, default_value = "60s", value_parser = clap_duration)]
        timeout: Duration,
        /// Re-arm this often (well under --timeout).
        #[arg(long, default_value = "20s", value_parser = clap_duration)]
        every: Duration,
        /// Re-arm only while this process lives; when it dies, stop re-arming so the switch
        /// fires.
        #[arg(long)]
        pid: Option<i32>,
    },
}

/// Runs orphan-cancel.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Reconcile {
            exchange,
            state,
            output,
        } => reconcile_cmd(&exchange, &state)?.finish(&output),
        Cmd::Cancel {
            exchange,
            state,
            findings,
            client_id_prefix,
            max_orders,
            act,
            output,
        } => {
            let filters = cancel::Filters {
                symbol: exchange.symbol.clone(),
                category: Some(exchange.category.clone()),
                client_id_prefix,
            };
            cancel_cmd(&exchange, &state, findings, &filters, max_orders, &act)?.finish(&output)
        }
        Cmd::CancelAll {
            exchange,
            act,
            output,
        } => cancel_all_cmd(&exchange, &act)?.finish(&output),
        Cmd::DeadMan {
            exchange,
            timeout,
            every,
            pid,
        } => dead_man_cmd(&exchange, timeout, every, pid),
    }
}

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
    /// Parses `--exchange`.
    pub fn parse(s: &str) -> Result<Venue, String> {
        match s {
            "bybit" => Ok(Venue::Bybit { testnet: false }),
            "bybit-testnet" => Ok(Venue::Bybit { testnet: true }),
            "kraken" => Ok(Venue::Kraken),
            _ => match s.strip_prefix("file:") {
                Some(p) if !p.is_empty() => Ok(Venue::File(PathBuf::from(p))),
                _ => Err(format!(
                    "--exchange {s}: expected bybit, bybit-testnet, kraken or file:PATH"
                )),
            },
        }
    }

    fn name(&self) -> &'static str {
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

struct Connection {
    exchange: Box<dyn Exchange>,
    creds: Option<Credentials>,
    mainnet: bool,
    venue: Venue,
}

impl Connection {
    fn redact(&self, text: &str) -> String {
        self.creds
            .as_ref()
            .map_or(text.to_string(), |c| c.redact(text))
    }

    fn fail(&self, e: ExchangeError) -> anyhow::Error {
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
pub fn check_base_url(url: &str) -> Result<(), String> {
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

fn connect(args: &ExchangeArgs) -> anyhow::Result<Connection> {
    let venue = Venue::parse(&args.exchange).map_err(usage)?;
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
        check_base_url(url).map_err(usage)?;
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

fn scope_of(args: &ExchangeArgs) -> Scope {
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

fn load_state(state: &StateArgs) -> anyhow::Result<Vec<Order>> {
    let path = state
        .state_file
        .as_ref()
        .ok_or_else(|| usage("--state-file FILE is required (the bot's own orders)"))?;
    let map = FieldMap::default()
        .with_overrides(&state.fields)
        .map_err(usage)?;
    let format = state
        .state_format
        .unwrap_or_else(|| StateFormat::from_path(path));
    local_state::load(path, format, &state.query, &map).map_err(usage)
}

const FINDING_COLUMNS: [&str; 9] = [
    "finding",
    "symbol",
    "side",
    "qty",
    "order_id",
    "client_id",
    "local_status",
    "age_s",
    "reason",
];
const ACTION_COLUMNS: [&str; 7] = [
    "action",
    "symbol",
    "side",
    "order_id",
    "client_id",
    "result",
    "dry_run",
];

/// Why each kind of finding fails `reconcile`, as its annotation says it.
fn failing_kind(kind: FindingKind) -> Option<&'static str> {
    match kind {
        FindingKind::Orphan => Some("open on the exchange, not in the bot's state"),
        FindingKind::Ghost => Some("open in the bot's state, absent on the exchange"),
        FindingKind::Quarantine => {
            Some("absent on the exchange for longer than --quarantine-after")
        }
        FindingKind::Stale => None,
    }
}

fn reconcile_cmd(args: &ExchangeArgs, state: &StateArgs) -> anyhow::Result<Report> {
    let local = load_state(state)?;
    let mut conn = connect(args)?;
    let scope = scope_of(args);
    let open = conn.exchange.list_open(&scope).map_err(|e| conn.fail(e))?;
    let now = order::now_ms();
    let local: Vec<Order> = local
        .into_iter()
        .filter(|o| args.symbol.as_ref().is_none_or(|s| &o.symbol == s))
        .collect();
    let result = reconcile::reconcile(
        &local,
        &open,
        Thresholds {
            stale_after: state.stale_after,
            quarantine_after: state.quarantine_after,
            now_ms: now,
        },
    );
    let name = conn.venue.name();
    let records = result
        .findings
        .iter()
        .map(|f| reconcile::finding_record(f, name, now))
        .collect();
    let body = RecordBody::new(records, &FINDING_COLUMNS)
        .summary(reconcile::summary_record(&result, name));
    let mut report = Report::new(TOOL, body).heading("reconcile");
    for kind in [
        FindingKind::Orphan,
        FindingKind::Ghost,
        FindingKind::Quarantine,
    ] {
        let n = result.count(kind);
        if let Some(why) = failing_kind(kind).filter(|_| n > 0) {
            report = report.fail(format!("{n} {} order(s) on {name}: {why}", kind.as_str()));
        }
    }
    debug_assert_eq!(report.exit_code(), ExitCode::from_checks(result.ok()));
    Ok(report)
}

/// Longest line `cancel` reads from findings: a finding is a few hundred bytes.
const MAX_FINDING_LINE: u64 = 1 << 20;

/// Reads orphan findings (`reconcile`'s output) from a file or stdin. Anything that is not
/// reconcile's JSONL (a line that is not a JSON object, a field of the wrong type, no record of
/// orphan-cancel at all) is bad input, exit 2 naming the line: it never reads as "no orphans".
fn read_findings(path: Option<&PathBuf>, venue: &str) -> anyhow::Result<Vec<Order>> {
    use std::io::{BufRead, Read};
    let source = path.map_or(InputSource::Stdin, |p| InputSource::File(p.clone()));
    let name = source.display_name();
    let mut reader = source.open().map_err(usage)?;
    // A finding's own field names, over the defaults.
    let finding_fields = FieldMap::default()
        .with_overrides(&["id=order_id".into(), "created=created_ms".into()])
        .map_err(usage)?;
    let mut orders = Vec::new();
    let (mut line, mut ours) = (0u64, 0usize);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_FINDING_LINE + 1)
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("reading {name}"))?;
        if n == 0 {
            break;
        }
        line += 1;
        if buf.len() as u64 > MAX_FINDING_LINE {
            return Err(usage(format!(
                "{name}:{line}: a line longer than {MAX_FINDING_LINE} bytes: not reconcile's JSONL output"
            )));
        }
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let r: Record = serde_json::from_slice(text).map_err(|e| {
            usage(format!(
                "{name}:{line}: not a JSON record ({e}); expected reconcile's JSONL output"
            ))
        })?;
        if r.tool() == Some(TOOL) {
            ours += 1;
        }
        if r.kind() != Some(RecordType::Finding)
            || r.tool() != Some(TOOL)
            || r.get_str("finding") != Some("orphan")
        {
            continue;
        }
        if let Some(ex) = r
            .get_str("exchange")
            .filter(|e| *e != venue && *e != "file")
        {
            return Err(usage(format!(
                "{name}:{line}: finding is for exchange '{ex}', but --exchange is {venue}"
            )));
        }
        finding_fields
            .check_types(r.fields())
            .map_err(|wrong| usage(format!("{name}:{line}: {wrong}")))?;
        let order = finding_fields
            .order_from_object(r.fields(), None)
            .ok_or_else(|| {
                usage(format!(
                    "{name}:{line}: orphan finding has neither order_id nor client_id"
                ))
            })?;
        orders.push(order);
    }
    if ours == 0 {
        return Err(usage(format!(
            "{name}: no orphan-cancel record in it (expected the JSONL of `orphan-cancel reconcile`: findings and a summary); nothing was cancelled"
        )));
    }
    Ok(orders)
}

fn refuse_mainnet(conn: &Connection, execute: bool, live: bool) -> anyhow::Result<()> {
    if execute && conn.mainnet && !live {
        return Err(usage(format!(
            "--execute on {} mainnet also needs --live (real orders, real money); nothing was cancelled",
            conn.venue.name()
        )));
    }
    Ok(())
}

fn cancel_cmd(
    args: &ExchangeArgs,
    state: &StateArgs,
    findings: Option<PathBuf>,
    filters: &cancel::Filters,
    max_orders: Option<usize>,
    act: &ActArgs,
) -> anyhow::Result<Report> {
    let (execute, live) = (act.execute, act.live);
    let venue = Venue::parse(&args.exchange).map_err(usage)?;
    let local = match &state.state_file {
        Some(_) => Some(load_state(state)?),
        None => None,
    };
    let from_findings = match &local {
        Some(_) => None,
        None => Some(read_findings(findings.as_ref(), venue.name())?),
    };
    let mut conn = connect(args)?;
    refuse_mainnet(&conn, execute, live)?;
    let scope = scope_of(args);
    let open_now = conn.exchange.list_open(&scope).map_err(|e| conn.fail(e))?;
    let candidates: Vec<Order> = match (local, from_findings) {
        (Some(local), _) => {
            let t = Thresholds {
                stale_after: state.stale_after,
                quarantine_after: state.quarantine_after,
                now_ms: order::now_ms(),
            };
            reconcile::reconcile(&local, &open_now, t)
                .findings
                .into_iter()
                .filter(|f| f.kind == FindingKind::Orphan)
                .map(|f| f.order)
                .collect()
        }
        (None, Some(f)) => f,
        (None, None) => Vec::new(),
    };
    let targets: Vec<Order> = candidates
        .into_iter()
        .filter(|o| filters.admits(o))
        .collect();
    if let Some(max) = max_orders
        && targets.len() > max
    {
        return Err(usage(format!(
            "{} orders match, more than --max-orders {max}; nothing was cancelled (narrow with --symbol/--client-id-prefix or raise the limit)",
            targets.len()
        )));
    }
    let (live_targets, gone) = cancel::recheck(&targets, &open_now);
    let name = conn.venue.name();
    let mut records: Vec<Record> = gone
        .iter()
        .map(|o| cancel::action_record(name, o, "already_gone", !execute, None))
        .collect();
    if !execute {
        records.extend(
            live_targets
                .iter()
                .map(|o| cancel::action_record(name, o, "would_cancel", true, None)),
        );
        let summary = summary_base("cancel", name, true)
            .with("targeted", live_targets.len())
            .with("already_gone", gone.len())
            .with("ok", true);
        return Ok(actions_report("cancel", records, summary));
    }
    let report = cancel::execute(conn.exchange.as_mut(), &scope, live_targets, &mut |r| {
        records.push(r)
    })
    .map_err(|e| conn.fail(e))?;
    for o in &report.still_open {
        records.push(still_open_record(name, o));
    }
    let ok = report.still_open.is_empty() && report.failed == 0;
    let summary = summary_base("cancel", name, false)
        .with("targeted", report.targeted)
        .with("cancelled", report.cancelled)
        .with("already_gone", report.already_gone + gone.len())
        .with("failed", report.failed)
        .with("still_open", report.still_open.len())
        .with("requests", report.requests)
        .with("elapsed_s", (report.elapsed_s * 1000.0).round() / 1000.0)
        .with("ok", ok);
    let verdict = actions_report("cancel", records, summary);
    Ok(cancel_failures(
        verdict,
        name,
        &report.still_open,
        report.failed,
    ))
}

/// The report of a command that cancels: its `action` (and `still_open`) records and summary.
fn actions_report(command: &str, records: Vec<Record>, summary: Record) -> Report {
    Report::new(
        TOOL,
        RecordBody::new(records, &ACTION_COLUMNS).summary(summary),
    )
    .heading(command)
}

/// Fails `report` for each order still open after cancelling and for cancels that failed.
fn cancel_failures(
    mut report: Report,
    exchange: &str,
    still_open: &[Order],
    failed: usize,
) -> Report {
    for o in still_open {
        report = report.fail(format!(
            "order {} ({}{}) still open on {exchange} after cancelling",
            o.id,
            o.symbol,
            o.client_id
                .as_deref()
                .map_or_else(String::new, |c| format!(", client id {c}"))
        ));
    }
    if failed > 0 {
        report = report.fail(format!("{failed} cancel(s) failed on {exchange}"));
    }
    report
}

fn summary_base(command: &str, exchange: &str, dry_run: bool) -> Record {
    Record::new(RecordType::Summary, TOOL)
        .with("command", command)
        .with("exchange", exchange)
        .with("dry_run", dry_run)
}

fn still_open_record(exchange: &str, o: &Order) -> Record {
    Record::new(RecordType::Finding, TOOL)
        .with("finding", "still_open")
        .with("exchange", exchange)
        .with("symbol", o.symbol.as_str())
        .with("order_id", o.id.as_str())
        .with("client_id", o.client_id.clone())
        .with("reason", "still open on the exchange after cancelling")
}

fn cancel_all_cmd(args: &ExchangeArgs, act: &ActArgs) -> anyhow::Result<Report> {
    let (execute, live) = (act.execute, act.live);
    let mut conn = connect(args)?;
    refuse_mainnet(&conn, execute, live)?;
    let scope = scope_of(args);
    let name = conn.venue.name();
    let open = conn.exchange.list_open(&scope).map_err(|e| conn.fail(e))?;
    let mut records: Vec<Record> = Vec::new();
    if !execute {
        records.extend(
            open.iter()
                .map(|o| cancel::action_record(name, o, "would_cancel", true, None)),
        );
        let summary = summary_base("cancel-all", name, true)
            .with("open", open.len())
            .with("ok", true);
        return Ok(actions_report("cancel-all", records, summary));
    }
    let reported = conn.exchange.cancel_all(&scope).map_err(|e| conn.fail(e))?;
    let (cancelled, failed, still_open) = match reported {
        Some(n) => {
            let after = conn.exchange.list_open(&scope).map_err(|e| conn.fail(e))?;
            for o in &open {
                let left = after.iter().any(|a| a.id == o.id);
                records.push(cancel::action_record(
                    name,
                    o,
                    if left { "failed" } else { "cancelled" },
                    false,
                    None,
                ));
            }
            (n, 0, after)
        }
        None => {
            let report = cancel::execute(conn.exchange.as_mut(), &scope, open.clone(), &mut |r| {
                records.push(r)
            })
            .map_err(|e| conn.fail(e))?;
            (report.cancelled, report.failed, report.still_open)
        }
    };
    for o in &still_open {
        records.push(still_open_record(name, o));
    }
    let ok = still_open.is_empty() && failed == 0;
    let summary = summary_base("cancel-all", name, false)
        .with("open_before", open.len())
        .with("cancelled", cancelled)
        .with("still_open", still_open.len())
        .with("requests", conn.exchange.requests())
        .with("ok", ok);
    let verdict = actions_report("cancel-all", records, summary);
    Ok(cancel_failures(verdict, name, &still_open, failed))
}

fn dead_man_event(name: &str, event: &str, trigger: Option<&str>) -> Record {
    Record::new(RecordType::Event, TOOL)
        .with("event", event)
        .with("exchange", name)
        .with("trigger_time", trigger.map(str::to_string))
}

fn dead_man_cmd(
    args: &ExchangeArgs,
    timeout: Duration,
    every: Duration,
    pid: Option<i32>,
) -> anyhow::Result<ExitCode> {
    if every.is_zero() {
        return Err(usage(
            "--every must be longer than 0s (it is how often the switch is re-armed)",
        ));
    }
    if every >= timeout {
        return Err(usage(format!(
            "--every {}s must be shorter than --timeout {}s, or the switch fires between re-arms",
            every.as_secs_f64(),
            timeout.as_secs_f64()
        )));
    }
    if timeout.as_secs() == 0 {
        return Err(usage("--timeout must be at least 1s (0 disarms)"));
    }
    if let Some(p) = pid
        && !soak_core::alive::is_running(p)
    {
        return Err(usage(format!("--pid {p}: no such process")));
    }
    let mut conn = connect(args)?;
    let term = Termination::install().context("installing signal handlers")?;
    let name = conn.venue.name();
    let mut out = soak_core::jsonl::JsonlWriter::stdout();
    loop {
        if let Some(p) = pid
            && !soak_core::alive::is_running(p)
        {
            out.write(&dead_man_event(name, "target_exited", None))?;
            out.write(
                &Record::new(RecordType::Summary, TOOL)
                    .with("command", "dead-man")
                    .with("exchange", name)
                    .with("armed", true)
                    .with(
                        "reason",
                        format!(
                            "PID {p} exited: re-arming stopped so the exchange cancels everything"
                        ),
                    )
                    .with("ok", true),
            )?;
            return Ok(ExitCode::Success);
        }
        let state = conn
            .exchange
            .dead_man(timeout.as_secs())
            .map_err(|e| conn.fail(e))?;
        out.write(&dead_man_event(
            name,
            "armed",
            state.trigger_time.as_deref(),
        ))?;
        if let Some(sig) = term.sleep(every) {
            let state = conn.exchange.dead_man(0).map_err(|e| conn.fail(e))?;
            out.write(&dead_man_event(
                name,
                "disarmed",
                state.trigger_time.as_deref(),
            ))?;
            out.write(
                &Record::new(RecordType::Summary, TOOL)
                    .with("command", "dead-man")
                    .with("exchange", name)
                    .with("armed", false)
                    .with(
                        "reason",
                        format!("{} received: disarmed", Termination::name(sig)),
                    )
                    .with("ok", true),
            )?;
            return Ok(ExitCode::from_signal(sig));
        }
    }
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
            assert_eq!(check_base_url(ok), Ok(()), "{ok}");
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
            let e = check_base_url(bad).expect_err(bad);
            assert!(e.starts_with("--exchange-url "), "{e}");
        }
    }
}
