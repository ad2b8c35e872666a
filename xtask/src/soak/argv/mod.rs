//! One argv builder per tool: every process the soak starts is built here from typed values,
//! as an argv vector (never a shell string), its output routed into the run directory.

pub mod logrotate;
pub mod logscan;
pub mod orphan_cancel;
pub mod resanalyze;
pub mod resmon;
pub mod seccheck;
pub mod zombiereap;

use std::time::Duration;

use soak_core::units::{format_duration, parse_duration};

/// A duration as every tool's duration flags read it (`soak_core::units`), exactly: the way
/// people write it (`10s`, `1m30s`, `7d`) when that is exact, else whole milliseconds
/// (`1500ms`), else seconds with their fraction.
pub fn duration(d: Duration) -> String {
    let human = format_duration(d);
    if parse_duration(&human) == Ok(d) {
        human
    } else if d.subsec_nanos() % 1_000_000 == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// A list of a tool's named values (`leak,hang`) as its comma-separated flags read it.
pub fn values<T: clap::ValueEnum>(list: &[T]) -> String {
    let names: Vec<String> = list
        .iter()
        .filter_map(|v| v.to_possible_value())
        .map(|v| v.get_name().to_string())
        .collect();
    names.join(",")
}

/// A size as every tool's size flags read it: bytes, without a unit.
pub fn size(bytes: u64) -> String {
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::process::Command;

    use clap::Parser;

    use super::super::SoakArgs;
    use super::super::args::Settings;
    use super::super::demo::service_command;
    use super::super::exchange::Exchange;
    use super::super::plan::Plan;
    use super::{logrotate, logscan, orphan_cancel, resanalyze, resmon, seccheck, zombiereap};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        soak: SoakArgs,
    }

    fn words(c: &Command) -> Vec<String> {
        c.get_args()
            .map(OsStr::to_string_lossy)
            .map(String::from)
            .collect()
    }

    /// A plan whose run directory is `dir`, the binaries beside it.
    fn plan_in(dir: &std::path::Path, args: &SoakArgs) -> Plan {
        Plan {
            settings: Settings::check(args).expect("valid"),
            bin: dir.join("bin"),
            dir: dir.to_path_buf(),
        }
    }

    /// The flags that follow `flag` in `argv`, each time it appears.
    fn after<'a>(argv: &'a [String], flag: &str) -> Vec<&'a str> {
        argv.windows(2)
            .filter(|w| w[0] == flag)
            .map(|w| w[1].as_str())
            .collect()
    }

    #[test]
    fn both_log_passes_judge_by_one_heartbeat_rule_and_the_final_one_reads_every_part_in_order() {
        let dir = tempfile::tempdir().expect("tmp");
        let args = Cli::parse_from([
            "soak",
            "--demo",
            "--max-heartbeat-gap",
            "1m",
            "--shutdown-timeout",
            "2s",
            "--heartbeat-regex",
            "Bot heartbeat",
            "--log-pack",
            "freqtrade",
        ])
        .soak;
        let plan = plan_in(dir.path(), &args);
        // Two rotated parts, written in this order, and one that is not a part.
        for f in ["service.log.200", "service.log.100.gz", "service.log.x"] {
            std::fs::write(dir.path().join(f), "").expect("part");
        }
        let live = logscan::watchdog(&plan, &args, &plan.file("service.log")).expect("argv");
        let last = logscan::final_pass(&plan, &args, 12.5).expect("argv");
        let (live, last) = (words(&live), words(&last));
        for argv in [&live, &last] {
            assert_eq!(after(argv, "--max-heartbeat-gap"), ["60000ms"]);
            assert_eq!(after(argv, "--heartbeat-regex"), ["Bot heartbeat"]);
            assert_eq!(after(argv, "--pack"), ["freqtrade"]);
            assert!(argv.iter().any(|w| w == "--heartbeat-optional"));
        }
        let part = |n: &str| dir.path().join(n).display().to_string();
        assert_eq!(
            last[..3],
            [
                part("service.log.100.gz"),
                part("service.log.200"),
                part("service.log")
            ]
        );
        assert_eq!(after(&last, "--end-time"), ["12.500"]);
        assert_eq!(after(&last, "--max-errors-per-hour"), ["60"]);

        // A demo's trends need 10 samples over 10 s, in both resanalyze passes.
        for c in [
            resanalyze::early(&plan, &args).expect("argv"),
            resanalyze::final_pass(&plan, &args).expect("argv"),
        ] {
            let argv = words(&c);
            assert_eq!(after(&argv, "--min-samples"), ["10"]);
            assert_eq!(after(&argv, "--min-span"), ["10s"]);
        }
        let log = std::fs::File::create(plan.file("service.log")).expect("log");
        let run = words(&zombiereap::run(&plan, &["bot".into(), "--x".into()], log).expect("argv"));
        assert_eq!(after(&run, "--grace"), ["2000ms"]);
        assert_eq!(run[run.len() - 3..], ["--", "bot", "--x"]);
    }

    #[test]
    fn typed_options_reach_the_tools_in_their_own_syntax() {
        let dir = tempfile::tempdir().expect("tmp");
        let args = Cli::parse_from([
            "soak",
            "--demo",
            "--demo-faults",
            "leak,reconnect-storm",
            "--fault-after",
            "1.5s",
            "--interval",
            "250ms",
            "--max-total",
            "5GB",
            "--max-log-size",
            "1.5k",
            "--logrotate-every",
            "1m30s",
            "--max-db-age",
            "2d",
            "--exchange",
            "kraken",
            "--kraken-nonce-unit",
            "us",
            "--dead-man-timeout",
            "90s",
        ])
        .soak;
        let plan = plan_in(dir.path(), &args);
        let watch = words(&logrotate::watch(&plan, &args).expect("argv"));
        assert_eq!(after(&watch, "--watch"), ["1m30s"]);
        assert_eq!(after(&watch, "--max-total"), ["5368709120"]);
        assert_eq!(after(&watch, "--max-size"), ["1536"]);
        let last = words(&logrotate::final_pass(&plan, &args).expect("argv"));
        assert_eq!(after(&last, "--max-total"), ["5368709120"]);
        let rec =
            words(&resmon::follow(&plan, &args, &["--pid".into(), "1".into()]).expect("argv"));
        assert_eq!(after(&rec, "--interval"), ["250ms"]);
        let deps = words(&seccheck::deps(&plan, &args, &[], dir.path()).expect("argv"));
        assert_eq!(after(&deps, "--max-db-age"), ["2d"]);

        let exchange = Exchange::from_args(&args).expect("--exchange");
        let dead_man = words(
            &orphan_cancel::dead_man(&plan, &args, &exchange, plan.settings.dead_man_timeout, 42)
                .expect("argv"),
        );
        assert_eq!(after(&dead_man, "--exchange"), ["kraken"]);
        assert_eq!(after(&dead_man, "--kraken-nonce-unit"), ["us"]);
        assert_eq!(after(&dead_man, "--timeout"), ["90s"]);
        assert_eq!(after(&dead_man, "--every"), ["30000ms"]);

        let demo = service_command(&plan, &args, "http://127.0.0.1:1");
        assert_eq!(after(&demo, "--faults"), ["leak,reconnect-storm"]);
        assert_eq!(after(&demo, "--fault-after"), ["1500ms"]);

        // The defaults, as typed values: a week for seccheck's cache, 10 s for a demo's
        // logrotate, nothing but the tools' defaults otherwise.
        let plain = Cli::parse_from(["soak", "--demo"]).soak;
        let watch = words(&logrotate::watch(&plan, &plain).expect("argv"));
        assert_eq!(after(&watch, "--watch"), ["10s"]);
        assert_eq!(after(&watch, "--max-size"), ["104857600"]);
        let deps = words(&seccheck::deps(&plan, &plain, &[], dir.path()).expect("argv"));
        assert_eq!(after(&deps, "--max-db-age"), ["7d"]);
        assert!(after(&service_command(&plan, &plain, "u"), "--faults").is_empty());
    }

    #[test]
    fn a_duration_below_a_millisecond_keeps_its_fraction() {
        use std::time::Duration;
        assert_eq!(super::duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(super::duration(Duration::from_secs(3600)), "1h");
        assert_eq!(super::duration(Duration::ZERO), "0ms");
        let d = soak_core::units::parse_duration(&super::duration(Duration::from_micros(2500)))
            .expect("parses back");
        assert_eq!(d, Duration::from_micros(2500));
    }
}
