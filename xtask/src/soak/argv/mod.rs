//! One argv builder per tool: every process the soak starts is built here from typed values,
//! as an argv vector (never a shell string), its output routed into the run directory.

pub mod logrotate;
pub mod logscan;
pub mod orphan_cancel;
pub mod resanalyze;
pub mod resmon;
pub mod seccheck;
pub mod zombiereap;

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::process::Command;

    use clap::Parser;

    use super::super::SoakArgs;
    use super::super::args::Settings;
    use super::super::plan::Plan;
    use super::{logscan, resanalyze, zombiereap};

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
        let plan = Plan {
            settings: Settings::check(&args).expect("valid"),
            bin: dir.path().join("bin"),
            dir: dir.path().to_path_buf(),
        };
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
}
