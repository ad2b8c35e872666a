//! `--list-packs` and `--list-patterns`: what the pattern flags select, printed, then exit 0.

use std::io::Write;

use soak_core::exit::{ExitCode, usage};

use crate::pattern::{self, Pack};

/// One line per pack `--pack` selects: its name, pattern count and what it is for.
pub(crate) fn packs() -> anyhow::Result<ExitCode> {
    let mut stdout = soak_core::stdout::stdout();
    for p in pattern::NAMED_PACKS {
        let count = pattern::named_pack_specs(p.name).map_err(usage)?.len();
        writeln!(stdout, "{}\t{count} patterns\t{}", p.name, p.about)?;
    }
    Ok(ExitCode::Success)
}

/// The active pack as TOML.
pub(crate) fn patterns(pack: &Pack) -> anyhow::Result<ExitCode> {
    print!("{}", pack.to_toml());
    Ok(ExitCode::Success)
}
