//! What the interop and hostile-input tests share: an exchange-sim in the test process, the
//! orphan-cancel binary with credentials in its environment, and the Python venv holding the
//! exchanges' own client libraries.

#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::OnceLock;
use std::time::Duration;

use assert_cmd::Command;
use base64::Engine;
use exchange_sim::{KeyPair, Running, SimConfig, start};
use serde_json::Value;

/// The bot's Bybit key.
pub const BYBIT_KEY: &str = "interop-bybit-key-0001";
/// The bot's Bybit secret.
pub const BYBIT_SECRET: &str = "interop-bybit-secret-DO-NOT-PRINT";
/// The bot's Kraken key.
pub const KRAKEN_KEY: &str = "interop-kraken-key-0001";
/// A second key of the same Kraken account, dedicated to orphan-cancel and the dead-man switch.
pub const KRAKEN_DEDICATED_KEY: &str = "interop-kraken-key-deadman";

/// The bot's Kraken secret (base64, as Kraken issues them).
pub fn kraken_secret() -> String {
    base64::engine::general_purpose::STANDARD.encode(b"interop-kraken-secret-DO-NOT-PRINT")
}

/// The dedicated key's secret.
pub fn kraken_dedicated_secret() -> String {
    base64::engine::general_purpose::STANDARD.encode(b"interop-kraken-deadman-DO-NOT-PRINT")
}

/// A simulator with an empty book, the bot's Bybit key, and the Kraken account's keys: the
/// bot's and the dedicated one, each with its own strict nonce counter (or the given window).
pub fn sim(kraken_nonce_window: u64) -> Running {
    start(sim_config(kraken_nonce_window)).expect("simulator starts")
}

/// The configuration [`sim`] starts, for tests that change a part of it.
pub fn sim_config(kraken_nonce_window: u64) -> SimConfig {
    SimConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        orders: Vec::new(),
        rate_limit: 0,
        faults: Vec::new(),
        fault_delay: Duration::from_secs(1),
        skew_ms: 0,
        threads: 4,
        bybit_keys: Some(KeyPair {
            key: BYBIT_KEY.into(),
            secret: BYBIT_SECRET.into(),
        }),
        kraken_keys: vec![
            KeyPair {
                key: KRAKEN_KEY.into(),
                secret: kraken_secret(),
            },
            KeyPair {
                key: KRAKEN_DEDICATED_KEY.into(),
                secret: kraken_dedicated_secret(),
            },
        ],
        kraken_nonce_window,
        read_only_keys: Vec::new(),
    }
}

/// The orphan-cancel binary with the bot's credentials in its environment.
pub fn oc() -> Command {
    oc_with([BYBIT_KEY, BYBIT_SECRET], [KRAKEN_KEY, &kraken_secret()])
}

/// `orphan-cancel SUBCOMMAND --exchange EXCHANGE --base-url URL` with the bot's credentials.
pub fn oc_at(subcommand: &str, exchange: &str, url: &str) -> Command {
    let mut c = oc();
    c.args([subcommand, "--exchange", exchange, "--base-url", url]);
    c
}

/// `--client-id-prefix BOT_ --execute --format jsonl`: cancel the bot's own orders for real.
pub const EXECUTE_BOTS: [&str; 5] = [
    "--client-id-prefix",
    "BOT_",
    "--execute",
    "--format",
    "jsonl",
];

/// The orphan-cancel binary with these Bybit and Kraken `[key, secret]` pairs in its
/// environment.
pub fn oc_with(bybit: [&str; 2], kraken: [&str; 2]) -> Command {
    let mut c = Command::cargo_bin("orphan-cancel").expect("binary");
    c.env("BYBIT_API_KEY", bybit[0])
        .env("BYBIT_API_SECRET", bybit[1])
        .env("KRAKEN_API_KEY", kraken[0])
        .env("KRAKEN_API_SECRET", kraken[1])
        .env_remove("GITHUB_ACTIONS")
        .timeout(Duration::from_secs(120));
    c
}

/// Every stdout line as JSON.
pub fn records(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect()
}

/// The Python client libraries the interop tests drive, pinned to the versions the trial used.
pub const CLIENT_PACKAGES: [&str; 2] = ["pybit==5.17.0", "krakenex==2.2.2"];

/// The venv holding the client libraries: `$SOAKKIT_PYVENV`, or `pyvenv-exchange` in Cargo's
/// test scratch directory.
pub fn venv_dir() -> PathBuf {
    std::env::var_os("SOAKKIT_PYVENV")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("pyvenv-exchange"))
}

fn imports_clients(python: &Path) -> bool {
    StdCommand::new(python)
        .args(["-c", "import pybit.unified_trading, krakenex"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().rev().take(3).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// The venv's python with pybit and krakenex importable, creating the venv and installing them
/// with pip when missing. `None` (after printing why) only when python3, venv or pip cannot
/// provide them; the caller then skips.
pub fn client_python() -> Option<PathBuf> {
    // Tests of one binary run in parallel threads: the first prepares the venv, the others
    // wait for it (test binaries themselves run one after another).
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    let found = PYTHON.get_or_init(prepare_venv).clone();
    if found.is_none() {
        eprintln!("SKIPPED: pybit and krakenex are unavailable (reason printed above)");
    }
    found
}

fn prepare_venv() -> Option<PathBuf> {
    let venv = venv_dir();
    let python = venv.join("bin").join("python");
    if imports_clients(&python) {
        return Some(python);
    }
    if let Some(parent) = venv.parent() {
        std::fs::create_dir_all(parent).expect("venv parent directory");
    }
    if !python.exists() {
        match StdCommand::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .output()
        {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                eprintln!(
                    "SKIPPED: `python3 -m venv {}` failed: {}",
                    venv.display(),
                    tail(&o.stderr)
                );
                return None;
            }
            Err(e) => {
                eprintln!("SKIPPED: python3 is not available ({e}); the interop tests need it");
                return None;
            }
        }
    }
    let pip = StdCommand::new(&python)
        .args(["-m", "pip", "install", "--quiet"])
        .args(CLIENT_PACKAGES)
        .output();
    match pip {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!(
                "SKIPPED: pip could not install {} into {}: {}",
                CLIENT_PACKAGES.join(" "),
                venv.display(),
                tail(&o.stderr)
            );
            return None;
        }
        Err(e) => {
            eprintln!("SKIPPED: pip is not available in {} ({e})", venv.display());
            return None;
        }
    }
    assert!(
        imports_clients(&python),
        "pip installed {} into {} but python cannot import them",
        CLIENT_PACKAGES.join(" "),
        venv.display()
    );
    Some(python)
}

/// The bot driver script (pybit and krakenex, unchanged).
pub fn bot_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/bot.py")
}

/// A `bot.py` command with the bot's credentials in its environment (never in argv).
pub fn bot(python: &Path, command: &str, url: &str) -> StdCommand {
    let mut c = StdCommand::new(python);
    c.arg(bot_script())
        .arg(command)
        .arg(url)
        .env("BYBIT_API_KEY", BYBIT_KEY)
        .env("BYBIT_API_SECRET", BYBIT_SECRET)
        .env("KRAKEN_API_KEY", KRAKEN_KEY)
        .env("KRAKEN_API_SECRET", kraken_secret());
    c
}

/// Runs a `bot.py` command to completion and returns its JSON answer.
pub fn bot_run(python: &Path, command: &str, url: &str, args: &[&str]) -> Value {
    let out = bot(python, command, url)
        .args(args)
        .output()
        .expect("run bot.py");
    assert!(
        out.status.success(),
        "bot.py {command} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("bot.py prints JSON")
}
