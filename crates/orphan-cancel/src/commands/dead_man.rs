//! `orphan-cancel dead-man`: the exchange's dead-man switch, re-armed while the bot lives.

use std::time::Duration;

use anyhow::Context;
use soak_core::exit::{ExitCode, usage};
use soak_core::record::{Record, RecordType};
use soak_core::signals::Termination;

use crate::TOOL;
use crate::cli::ExchangeArgs;
use crate::connect::connect;

fn dead_man_event(name: &str, event: &str, trigger: Option<&str>) -> Record {
    Record::new(RecordType::Event, TOOL)
        .with("event", event)
        .with("exchange", name)
        .with("trigger_time", trigger.map(str::to_string))
}

/// `orphan-cancel dead-man`: keeps the exchange's cancel-all-after switch armed, streaming its
/// events; disarms on SIGINT (exit 130) or SIGTERM (0).
pub fn dead_man(
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
