//! Writes a synthetic resmon trace to stdout:
//! `cargo run --example gentrace -- SHAPE HOURS INTERVAL_S [--no-event]`
//! (shapes: flat linear sawtooth warmup_plateau spikes staircase released late_leak), or
//! `cargo run --example gentrace -- gc_sawtooth HOURS INTERVAL_S PERIOD_S END FLOOR_MB_PER_H`
//! (END: trough, mid_rise or peak) for a garbage collector's cycles over a floor.

use std::io::{BufWriter, Write};

use resanalyze::tracegen::{CyclePhase, GcCycles, Shape, TraceSpec, write_trace};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let hours = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(24.0);
    let interval = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(60.0);
    let mut spec = if args.first().is_some_and(|a| a == Shape::GcSawtooth.name()) {
        let cycles = GcCycles {
            period_s: args.get(3).and_then(|a| a.parse().ok()).unwrap_or(2700.0),
            end: CyclePhase::ALL
                .into_iter()
                .find(|p| args.get(4).is_some_and(|a| a == p.name()))
                .unwrap_or(CyclePhase::Peak),
            ..GcCycles::default()
        };
        let floor = args.get(5).and_then(|a| a.parse().ok()).unwrap_or(0.0);
        TraceSpec::gc(hours, interval, cycles, floor)
    } else {
        let shape = Shape::ALL
            .into_iter()
            .find(|s| args.first().is_some_and(|a| a == s.name()))
            .unwrap_or(Shape::LateLeak);
        TraceSpec::new(shape, hours, interval)
    };
    spec.start_event = !args.iter().any(|a| a == "--no-event");
    let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    write_trace(&mut out, &spec)?;
    out.flush()
}
