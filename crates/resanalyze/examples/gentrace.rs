//! Writes a synthetic resmon trace to stdout:
//! `cargo run --example gentrace -- SHAPE HOURS INTERVAL_S [--no-event]`
//! (shapes: flat linear sawtooth warmup_plateau spikes staircase released late_leak).

use std::io::{BufWriter, Write};

use resanalyze::tracegen::{Shape, TraceSpec, write_trace};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let shape = Shape::ALL
        .into_iter()
        .find(|s| args.first().is_some_and(|a| a == s.name()))
        .unwrap_or(Shape::LateLeak);
    let hours = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(24.0);
    let interval = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(60.0);
    let mut spec = TraceSpec::new(shape, hours, interval);
    spec.start_event = !args.iter().any(|a| a == "--no-event");
    let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    write_trace(&mut out, &spec)?;
    out.flush()
}
