//! The batch analysis: the recordings read to their end, analysed (and compared with
//! `--baseline`), the figure, page and analysis document written when asked, then the verdict.

use anyhow::Context;
use soak_core::exit::usage;
use soak_core::report::Report;

use super::ending;
use crate::analysis::analyze;
use crate::cli::Cli;
use crate::inputs::read_inputs;
use crate::report::AnalysisBody;
use crate::{baseline, html, plot};

/// Analyses `cli.inputs` (stdin when none); returns the verdict's report.
pub(crate) fn run(cli: &Cli) -> anyhow::Result<Report> {
    let html = cli
        .html
        .as_deref()
        .map(|p| html::preflight(p, &cli.inputs))
        .transpose()?;
    let acc = read_inputs(&cli.inputs, cli.stream_config(), cli.max_line_bytes())?;
    let mut doc = analyze(&acc, &cli.analysis_config());
    if !cli.baseline.is_empty() {
        let old = read_inputs(&cli.baseline, cli.stream_config(), cli.max_line_bytes())
            .context("reading the --baseline run")?;
        baseline::apply(
            &mut doc,
            &analyze(&old, &cli.analysis_config()),
            cli.regression,
        );
    }
    if let Some(path) = &cli.plot {
        plot::plot(&acc, &doc, path).map_err(|e| match e {
            plot::PlotError::Extension(_) => usage(e),
            plot::PlotError::Draw { .. } => soak_core::exit::environment(e),
        })?;
    }
    if let (Some(path), Some(files)) = (&cli.html, &html) {
        html::write(path, files, &doc)?;
    }
    if let Some(path) = &cli.write_analysis {
        let text = serde_json::to_string_pretty(&doc)?;
        soak_core::outfile::write(path, (text + "\n").as_bytes())
            .map_err(|e| soak_core::exit::environment(e.to_string()))?;
    }
    Ok(ending(doc, AnalysisBody::new, None))
}
