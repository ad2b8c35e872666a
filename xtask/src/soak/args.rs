//! The options of `cargo xtask soak`, and the checks every value passes before anything starts.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use orphan_cancel::exchange::nonce::NonceUnit;
use soak_core::cli::{clap_duration, clap_interval, clap_percent, clap_size};
use soak_demo::Fault;

use super::service::Attach;

/// The exchanges whose orders the soak can check (`--exchange`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Venue {
    /// Bybit's v5 API.
    Bybit,
    /// Bybit's testnet.
    BybitTestnet,
    /// Kraken's spot API (with its cancel-all-after dead-man switch).
    Kraken,
}

impl Venue {
    /// The name orphan-cancel's `--exchange` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Venue::Bybit => "bybit",
            Venue::BybitTestnet => "bybit-testnet",
            Venue::Kraken => "kraken",
        }
    }
}

/// Options of `cargo xtask soak`.
#[derive(Debug, Clone, clap::Args)]
pub struct SoakArgs {
    /// Soak the bundled demo service against the bundled exchange simulator.
    #[arg(long)]
    pub demo: bool,
    /// Faults for the demo service (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "FAULT",
        requires = "demo"
    )]
    pub demo_faults: Vec<Fault>,
    /// When the demo's faults start.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = clap_duration)]
    pub fault_after: Duration,
    /// How long the service runs (default: 3m with --demo, else 24h).
    #[arg(long, value_name = "DURATION", value_parser = clap_duration)]
    pub duration: Option<Duration>,
    /// Where run directories are created.
    #[arg(long, default_value = "artifacts/soak")]
    pub out: PathBuf,
    /// Use the tools' binaries from this directory instead of building them.
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
    /// resmon's sampling interval.
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = clap_interval)]
    pub interval: Duration,
    /// Heartbeat silence that counts as a hang and stops the run (default: 10s with --demo,
    /// else 5m). The watchdog arms once the log has shown a heartbeat (the built-in patterns or
    /// --heartbeat-regex); with --health-url, the endpoint giving no answer this long after it
    /// first answered is a hang too.
    #[arg(long, value_name = "DURATION", value_parser = clap_duration)]
    pub max_heartbeat_gap: Option<Duration>,
    /// A line the service logs periodically, as a heartbeat for the hang watchdog (Rust regex
    /// syntax; repeatable), e.g. 'Bot heartbeat' or 'Background saving'.
    #[arg(long, value_name = "REGEX")]
    pub heartbeat_regex: Vec<String>,
    /// A built-in log pack for a popular bot's lines (heartbeat, retries, rate limits, order
    /// and auth errors): freqtrade, hummingbot (`logscan --list-packs`); repeatable.
    #[arg(long, value_name = "NAME")]
    pub log_pack: Vec<String>,
    /// Time the service gets to stop after SIGTERM before its tree is killed (`--grace`, as in
    /// zombiereap; `--shutdown-timeout` is its former name).
    #[arg(
        long = "grace",
        alias = "shutdown-timeout",
        value_name = "DURATION",
        default_value = "10s",
        value_parser = clap_duration
    )]
    pub shutdown_timeout: Duration,
    /// Poll this URL (e.g. http://127.0.0.1:8080/health/live) for availability.
    #[arg(long)]
    pub health_url: Option<String>,
    /// How often the health URL is polled.
    #[arg(long, default_value = "2s", value_name = "DURATION", value_parser = clap_interval)]
    pub health_every: Duration,
    /// How long one health poll may take before it counts as no answer.
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = clap_interval)]
    pub health_timeout: Duration,
    /// The service may take this long to answer its health URL for the first time; the
    /// availability counts from that first healthy answer.
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = clap_duration)]
    pub startup_grace: Duration,
    /// Availability needed, percent (`99.5` or `99.5%`).
    #[arg(long, default_value = "99.5", value_name = "PERCENT", value_parser = clap_percent)]
    pub min_availability: f64,
    /// Disk budget for the run's artifacts.
    #[arg(long, default_value = "5GB", value_name = "SIZE", value_parser = clap_size)]
    pub max_total: u64,
    /// The live service log is rotated (copytruncate, loss-free) and its old parts compressed
    /// once it grows past this, so a chatty service stays within --max-total.
    #[arg(long, default_value = "100MB", value_name = "SIZE", value_parser = clap_size)]
    pub max_log_size: u64,
    /// How often logrotate --watch holds the run directory to --max-total (default: 10s with
    /// --demo, else 5m).
    #[arg(long, value_name = "DURATION", value_parser = clap_interval)]
    pub logrotate_every: Option<Duration>,
    /// Average CPU of the service's process tree allowed, percent of one core (`80` or `80%`).
    #[arg(long, default_value = "80", value_name = "PERCENT", value_parser = clap_percent)]
    pub max_cpu: f64,
    /// WebSocket reconnections allowed in any hour.
    #[arg(long, default_value_t = 10)]
    pub max_reconnects_per_hour: u64,
    /// Errors the service logs and survives (tracebacks, exceptions, error lines) allowed in
    /// any hour.
    #[arg(long, default_value_t = 60)]
    pub max_errors_per_hour: u64,
    /// The exchange the service trades on, for the orphan check.
    #[arg(long, value_enum, value_name = "EXCHANGE")]
    pub exchange: Option<Venue>,
    /// The exchange's base URL (override).
    #[arg(long)]
    pub exchange_url: Option<String>,
    /// The service's order state file (its active_orders.json), for the orphan check
    /// (`--state-file`, as in orphan-cancel and the demo bot; `--state` is its former name).
    #[arg(long = "state-file", alias = "state", value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Only the service's own orders (client-id prefix) are cancelled with --cancel-orphans.
    #[arg(long, default_value = "BOT_")]
    pub client_id_prefix: String,
    /// After the run, cancel the orphans the reconciliation found (`cancel --execute`).
    #[arg(long)]
    pub cancel_orphans: bool,
    /// With a Kraken exchange: the unit of the nonces orphan-cancel signs with. Use the bot's
    /// own unit when they share an API key (a larger one would lock the bot out), or better a
    /// dedicated key for orphan-cancel.
    #[arg(long, value_enum, default_value = "ms", value_name = "UNIT")]
    pub kraken_nonce_unit: NonceUnit,
    /// With a Kraken exchange: the exchange cancels every order this long after the service
    /// stops re-arming its dead-man switch (`orphan-cancel dead-man`, re-armed every third).
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = clap_duration)]
    pub dead_man_timeout: Duration,
    /// Advisory database for the preflight dependency audit (`seccheck deps --db`): a RustSec
    /// advisory-db or OSV checkout; repeatable. The demo uses the repository's fixture extract.
    #[arg(long, value_name = "DIR")]
    pub advisory_db: Vec<PathBuf>,
    /// The project whose lockfiles are audited (Cargo.lock, requirements*.txt, poetry.lock,
    /// uv.lock, found by walking it).
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    /// Fail the audit when an advisory database is older than this (e.g. 7d). Without
    /// --advisory-db, seccheck's cache older than this (default 7d) is updated first.
    #[arg(long, value_name = "DURATION", value_parser = clap_duration)]
    pub max_db_age: Option<Duration>,
    /// Without --advisory-db: seccheck's cache of the RustSec and OSV PyPI databases (default
    /// $XDG_CACHE_HOME/soakkit, filled by `seccheck db update`).
    #[arg(long, value_name = "DIR")]
    pub advisory_cache: Option<PathBuf>,
    /// Without --advisory-db: audit from the cache as it is, never updating it over the
    /// network (a missing or stale cache then fails the security row).
    #[arg(long)]
    pub offline: bool,
    /// Skip the dependency audit (the security row says so instead of failing).
    #[arg(long, conflicts_with = "advisory_db")]
    pub no_deps_audit: bool,
    /// POST the verdict (JSON with a Slack/Telegram-compatible `text`) to this URL.
    #[arg(long)]
    pub notify: Option<String>,
    /// resanalyze's minimum samples for a trend (default: 10 with --demo).
    #[arg(long)]
    pub min_samples: Option<u32>,
    /// resanalyze's minimum span for a trend (default: 10s with --demo).
    #[arg(long, value_name = "DURATION", value_parser = clap_duration)]
    pub min_span: Option<Duration>,
    /// Soak a process that is already running (and its tree) instead of launching one.
    #[arg(long, value_name = "PID", conflicts_with_all = ["demo", "attach_container", "attach_unit"])]
    pub attach_pid: Option<i32>,
    /// Soak a running Docker/Podman container (resmon reads its cgroup: memory against its
    /// limit, OOM kills, restarts); its log from `docker logs -f` unless --log-file/--log-cmd.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["demo", "attach_unit"])]
    pub attach_container: Option<String>,
    /// Soak a running systemd unit (its cgroup); its log from `journalctl -u NAME -f` unless
    /// --log-file/--log-cmd.
    #[arg(long, value_name = "NAME", conflicts_with = "demo")]
    pub attach_unit: Option<String>,
    /// With --attach-*: the service's log file, followed where it is.
    #[arg(long, value_name = "PATH", conflicts_with = "log_cmd")]
    pub log_file: Option<PathBuf>,
    /// With --attach-*: a command whose output is the service's log (e.g. 'docker logs -f
    /// --since 0s novapulse'), split on whitespace; its output becomes service.log.
    #[arg(long, value_name = "COMMAND")]
    pub log_cmd: Option<String>,
    /// With --attach-*: stop the service at the end (by default it is left running: the soak
    /// never stops what it did not start).
    #[arg(long)]
    pub stop: bool,
    /// The service's command and arguments.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// The options checked and typed: what the soak needs to know about them after it starts.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The already running service, with `--attach-*`.
    pub attach: Option<Attach>,
    /// How long the service runs.
    pub duration: Duration,
    /// Longest silence allowed.
    pub gap: Duration,
    /// Time the service gets to stop.
    pub shutdown: Duration,
    /// Health poll period.
    pub health_every: Duration,
    /// One health poll's limit.
    pub health_timeout: Duration,
    /// Health answers may start this late.
    pub startup_grace: Duration,
    /// Kraken's cancel-all-after timeout.
    pub dead_man_timeout: Duration,
    /// Disk budget.
    pub max_total: u64,
}

impl Settings {
    /// Checks what clap cannot before anything is built or started: one mode, flags that go
    /// together, the regexes as logscan will read them; and fills in the defaults that depend
    /// on the mode. Durations, sizes and names are typed by clap already (a bad one is a usage
    /// error, exit 2, before this runs).
    pub fn check(args: &SoakArgs) -> Result<Settings> {
        let attach = match (&args.attach_pid, &args.attach_container, &args.attach_unit) {
            (Some(pid), _, _) => Some(Attach::Pid(*pid)),
            (_, Some(name), _) => Some(Attach::Container(name.clone())),
            (_, _, Some(name)) => Some(Attach::Unit(name.clone())),
            _ => None,
        };
        let modes = usize::from(args.demo)
            + usize::from(!args.command.is_empty())
            + usize::from(attach.is_some());
        if modes != 1 {
            bail!(
                "give one of --demo, a command after `--` (cargo xtask soak -- python3 bot.py), or \
                 --attach-pid/--attach-container/--attach-unit"
            );
        }
        if attach.is_none() && (args.log_file.is_some() || args.log_cmd.is_some() || args.stop) {
            bail!(
                "--log-file, --log-cmd and --stop go with --attach-pid/--attach-container/--attach-unit"
            );
        }
        if let Some(a) = &attach {
            a.check()?;
        }
        let duration = args.duration.unwrap_or(if args.demo {
            Duration::from_secs(3 * 60)
        } else {
            Duration::from_secs(24 * 3600)
        });
        let gap = args.max_heartbeat_gap.unwrap_or(if args.demo {
            Duration::from_secs(10)
        } else {
            Duration::from_secs(5 * 60)
        });
        for re in &args.heartbeat_regex {
            regex_check(re)?;
        }
        Ok(Settings {
            attach,
            duration,
            gap,
            shutdown: args.shutdown_timeout,
            health_every: args.health_every,
            health_timeout: args.health_timeout,
            startup_grace: args.startup_grace,
            dead_man_timeout: args.dead_man_timeout,
            max_total: args.max_total,
        })
    }
}

/// A `--heartbeat-regex` that logscan would refuse, refused before the run starts.
pub fn regex_check(re: &str) -> Result<()> {
    regex::Regex::new(re).map_err(|e| anyhow::anyhow!("--heartbeat-regex {re:?}: {e}"))?;
    Ok(())
}
