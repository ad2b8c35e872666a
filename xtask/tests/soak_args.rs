//! `cargo xtask soak`'s options are typed when parsed: a bad duration, size, fault, exchange or
//! nonce unit is a usage error (exit 2, one line naming the flag) before anything is built,
//! started or created.

use soak_testkit::{assert_one_line_error, run};

/// `xtask soak ARGS --out DIR/out`: the status and stderr, and whether the run directory's
/// parent was created.
fn refused(args: &[&str], flag: &str) {
    let tmp = tempfile::tempdir().expect("tmp");
    let out_dir = tmp.path().join("out");
    let mut argv: Vec<String> = vec!["soak".into(), "--out".into()];
    argv.push(out_dir.display().to_string());
    argv.extend(args.iter().map(|a| a.to_string()));
    let out = run(env!("CARGO_BIN_EXE_xtask"), &argv);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    assert_one_line_error(&out, flag);
    let err = soak_testkit::stderr(&out);
    assert!(err.starts_with("xtask: error: "), "{err}");
    assert!(
        !out_dir.exists(),
        "{args:?}: nothing is created before the check"
    );
}

#[test]
fn a_bad_duration_is_one_line_naming_the_flag() {
    refused(&["--demo", "--grace", "5x"], "'--grace <DURATION>'");
    refused(
        &["--demo", "--shutdown-timeout", "5x"],
        "'--grace <DURATION>'",
    );
    refused(
        &["--demo", "--duration", "ten minutes"],
        "'--duration <DURATION>'",
    );
    refused(
        &["--demo", "--dead-man-timeout", "1x"],
        "'--dead-man-timeout <DURATION>'",
    );
    refused(&["--demo", "--min-span", "1h30"], "'--min-span <DURATION>'");
    refused(
        &["--demo", "--max-db-age", "week"],
        "'--max-db-age <DURATION>'",
    );
}

#[test]
fn a_zero_period_is_refused_as_a_busy_loop() {
    for flag in ["--interval", "--health-every", "--logrotate-every"] {
        refused(&["--demo", flag, "0s"], flag);
    }
}

#[test]
fn a_bad_size_is_one_line_naming_the_flag() {
    refused(&["--demo", "--max-total", "5XB"], "'--max-total <SIZE>'");
    refused(
        &["--demo", "--max-log-size", "lots"],
        "'--max-log-size <SIZE>'",
    );
}

#[test]
fn a_bad_percentage_is_one_line_naming_the_flag() {
    refused(&["--demo", "--max-cpu", "lots"], "'--max-cpu <PERCENT>'");
    refused(
        &["--demo", "--min-availability", "99.5%%"],
        "'--min-availability <PERCENT>'",
    );
}

#[test]
fn names_are_checked_against_their_lists() {
    refused(
        &["--demo", "--demo-faults", "leak,nope"],
        "'--demo-faults <FAULT>'",
    );
    refused(
        &["--demo", "--demo-faults", "leak,nope"],
        "[possible values: leak,",
    );
    refused(
        &["--exchange", "ftx", "--", "true"],
        "'--exchange <EXCHANGE>'",
    );
    refused(
        &["--exchange", "ftx", "--", "true"],
        "bybit-testnet, kraken",
    );
    refused(
        &[
            "--exchange",
            "kraken",
            "--kraken-nonce-unit",
            "s",
            "--",
            "true",
        ],
        "'--kraken-nonce-unit <UNIT>'",
    );
}

#[test]
fn demo_faults_need_the_demo() {
    refused(
        &["--demo-faults", "leak", "--", "true"],
        "not provided: --demo",
    );
}
