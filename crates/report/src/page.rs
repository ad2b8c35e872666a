//! The page: verdict, timeline, findings, configuration and artifacts, in one HTML file with
//! inline CSS and SVG, no script, and a Content-Security-Policy that lets nothing load.

use std::fmt::Write as _;

use crate::axis::{duration_words, utc};
use crate::chart;
use crate::html::esc;
use crate::inputs::VerdictRow;
use crate::run::{Run, View};
use soak_core::units::format_bytes as bytes;

/// The page's Content-Security-Policy: no request of any kind may leave it.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827; margin: 0; background: #f3f4f6; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 20px 40px; }
header { display: flex; align-items: baseline; gap: 16px; flex-wrap: wrap; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 14px 0 8px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 999px; font-weight: 700; color: #fff; }
.verdict-pass, .status-pass { background: #15803d; }
.verdict-fail, .status-fail { background: #b91c1c; }
.verdict-none, .status-skip { background: #6b7280; }
.meta { color: #4b5563; margin: 0; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 4px 16px 14px; margin-top: 16px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
th { background: #f9fafb; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.row-fail td { background: #fef2f2; }
tr.row-fail td.detail { color: #7f1d1d; font-weight: 500; }
.status { font-size: 12px; padding: 1px 8px; }
.evidence { font-size: 11.5px; color: #4b5563; }
.evidence a { margin-right: 6px; }
a { color: #1d4ed8; }
.timeline-wrap { overflow-x: auto; }
svg .mark:hover { stroke: #111827; stroke-width: 1; }
.note { color: #4b5563; font-size: 13px; }
.none { color: #15803d; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 8px 0; }
dt { color: #4b5563; }
dd { margin: 0; word-break: break-all; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
ul.artifacts { columns: 3; padding-left: 18px; }
"#;

/// The whole page.
pub fn render(run: &Run) -> String {
    let mut p = String::with_capacity(64 * 1024);
    let (word, class) = match &run.summary {
        Some(s) if s.ok => ("PASS", "verdict-pass"),
        Some(_) => ("FAIL", "verdict-fail"),
        None => ("NO VERDICT", "verdict-none"),
    };
    let _ = write!(
        p,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{heading}: {word} — {dir}</title>
<style>{STYLE}</style></head><body><main>
<header><h1>{heading} <span id="verdict-badge" class="badge {class}">{word}</span></h1></header>
"#,
        csp = esc(CSP),
        dir = esc(&dir_name(run)),
        heading = esc(&heading(run)),
    );
    header_meta(&mut p, run);
    verdict(&mut p, run);
    timeline(&mut p, run);
    if run.view == View::RunDir {
        findings(&mut p, run);
    }
    config(&mut p, run);
    if run.view == View::RunDir {
        artifacts(&mut p, run);
    }
    p.push_str("</main></body></html>\n");
    p
}

/// The page's heading: "Soak report", or the tool whose view it is.
fn heading(run: &Run) -> String {
    match &run.view {
        View::RunDir => "Soak report".to_string(),
        View::Tool { tool, .. } => format!("{tool} report"),
    }
}

fn dir_name(run: &Run) -> String {
    if let View::Tool { inputs, .. } = &run.view {
        return inputs.join(", ");
    }
    run.dir.file_name().map_or_else(
        || run.dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn header_meta(p: &mut String, run: &Run) {
    let mut parts = Vec::new();
    if let Some(s) = run
        .summary
        .as_ref()
        .filter(|s| !s.stopped_because.is_empty())
    {
        parts.push(format!("stopped because: {}", esc(&s.stopped_because)));
    }
    if let Some(a) = run.axis {
        parts.push(format!(
            "{} to {} ({})",
            esc(&utc(a.start)),
            esc(&utc(a.end)),
            duration_words(a.span())
        ));
    }
    match &run.view {
        View::RunDir => parts.push(format!(
            "run directory <code>{}</code>",
            esc(&run.dir.display().to_string())
        )),
        View::Tool { inputs, .. } => {
            parts.push(format!("input <code>{}</code>", esc(&inputs.join(" "))))
        }
    }
    let _ = writeln!(p, r#"<p class="meta">{}</p>"#, parts.join(" · "));
}

/// Where a row's figure comes from: artifacts, and the chart or findings table showing it.
fn evidence_for(metric: &str) -> (&'static [&'static str], Option<&'static str>) {
    let m = metric.to_ascii_lowercase();
    let table: [(&str, &[&str], Option<&str>); 14] = [
        (
            "memory",
            &[
                "resources.analysis.json",
                "resources.jsonl",
                "resources.svg",
            ],
            Some("chart-memory"),
        ),
        (
            "cpu",
            &["resources.jsonl", "resources.analysis.json"],
            Some("chart-cpu"),
        ),
        (
            "disk",
            &["logrotate-final.jsonl", "logrotate.jsonl"],
            Some("chart-disk"),
        ),
        (
            "reconnect",
            &["logscan.jsonl", "service.log"],
            Some("chart-events"),
        ),
        (
            "orphan",
            &["orders.jsonl", "cancel.jsonl"],
            Some("findings-orders"),
        ),
        (
            "zombie",
            &["zombies.jsonl", "resources.jsonl"],
            Some("findings-zombies"),
        ),
        (
            "crash",
            &["logscan.jsonl", "zombiereap.jsonl", "service.log"],
            Some("chart-events"),
        ),
        (
            "error",
            &["logscan.jsonl", "service.log"],
            Some("chart-events"),
        ),
        (
            "heartbeat",
            &["logscan-follow.jsonl", "service.log"],
            Some("chart-events"),
        ),
        (
            "hang",
            &["logscan-follow.jsonl", "service.log"],
            Some("chart-events"),
        ),
        ("security", &["deps.jsonl"], Some("findings-deps")),
        ("secret", &["secrets.jsonl"], Some("findings-secrets")),
        (
            "availability",
            &["health.jsonl"],
            Some("chart-availability"),
        ),
        ("fd", &["resources.jsonl"], Some("chart-fds")),
    ];
    table
        .iter()
        .find(|(key, ..)| m.contains(key))
        .map_or((&[], None), |(_, files, chart)| (*files, *chart))
}

fn evidence_links(run: &Run, row: &VerdictRow) -> String {
    let (files, anchor) = evidence_for(&row.metric);
    let mut names: Vec<&str> = Vec::new();
    for f in files {
        if let Some(a) = run
            .artifacts
            .iter()
            .find(|a| a.name == *f || a.name == format!("{f}.gz"))
        {
            names.push(&a.name);
        }
    }
    // Any artifact the row's detail names.
    for a in &run.artifacts {
        let stem = a.name.strip_suffix(".gz").unwrap_or(&a.name);
        if row.detail.contains(stem) && !names.contains(&a.name.as_str()) {
            names.push(&a.name);
        }
    }
    let mut s = String::new();
    if let Some(id) = anchor {
        let shown = match id {
            "chart-availability" | "chart-health-latency" => run.health.is_some(),
            _ => true,
        };
        if shown {
            let _ = write!(s, r##"<a href="#{id}">{}</a>"##, id.replace('-', " "));
        }
    }
    for n in names {
        let _ = write!(s, r#"<a href="./{n}">{n}</a>"#, n = esc(n));
    }
    s
}

fn verdict(p: &mut String, run: &Run) {
    let title = match run.view {
        View::RunDir => "Verdict",
        View::Tool { .. } => "Checks",
    };
    let _ = write!(p, r#"<section id="verdict"><h2>{title}</h2>"#);
    let Some(s) = &run.summary else {
        p.push_str(r#"<p class="note">No <code>summary.json</code> in this run directory: the soak did not get to its verdict. The charts below show what was recorded.</p></section>"#);
        return;
    };
    p.push_str(r#"<table id="verdict-table"><thead><tr><th>Metric</th><th>Threshold</th><th>Measured</th><th>Status</th><th>Why / evidence</th></tr></thead><tbody>"#);
    for r in &s.rows {
        let status = r.status.to_ascii_lowercase();
        let cls = match status.as_str() {
            "pass" => "pass",
            "fail" => "fail",
            _ => "skip",
        };
        let _ = write!(
            p,
            r#"<tr class="row row-{cls}" data-metric="{m}"><td>{m}</td><td>{t}</td><td class="num">{v}</td><td><span class="badge status status-{cls}">{st}</span></td><td class="detail">{d}<div class="evidence">{e}</div></td></tr>"#,
            m = esc(&r.metric),
            t = esc(&r.threshold),
            v = esc(&r.value),
            st = if cls == "fail" {
                "FAIL".to_string()
            } else {
                esc(&status)
            },
            d = esc(&r.detail),
            e = evidence_links(run, r),
        );
    }
    p.push_str("</tbody></table>");
    if !s.early_warnings.is_empty() {
        p.push_str(r#"<h3>Early warnings during the run</h3><ul id="early-warnings">"#);
        for w in &s.early_warnings {
            let _ = write!(p, "<li>{}</li>", esc(w));
        }
        p.push_str("</ul>");
    }
    p.push_str("</section>");
}

fn timeline(p: &mut String, run: &Run) {
    p.push_str(r#"<section id="charts"><h2>Over time</h2>"#);
    match chart::timeline(run) {
        Some(svg) => {
            let _ = write!(
                p,
                r#"<p class="note">Every chart shares one time axis (UTC above, time since the start below). Lines are drawn from the minimum and maximum of each pixel column, so short spikes keep their height. Hover a mark for its log line.</p><div class="timeline-wrap">{svg}</div>"#
            );
        }
        None => p.push_str(r#"<p class="note">Nothing in this run has a time: no samples, health polls or log events.</p>"#),
    }
    p.push_str("</section>");
}

fn table(
    p: &mut String,
    id: &str,
    heading: &str,
    head: &[&str],
    rows: Vec<Vec<String>>,
    none: &str,
) {
    let _ = write!(p, r#"<h3 id="{id}">{} ({})</h3>"#, esc(heading), rows.len());
    if rows.is_empty() {
        let _ = write!(p, r#"<p class="none">{}</p>"#, esc(none));
        return;
    }
    p.push_str("<table><thead><tr>");
    for h in head {
        let _ = write!(p, "<th>{}</th>", esc(h));
    }
    p.push_str("</tr></thead><tbody>");
    for r in rows {
        p.push_str("<tr>");
        for c in r {
            let _ = write!(p, "<td>{}</td>", esc(&c));
        }
        p.push_str("</tr>");
    }
    p.push_str("</tbody></table>");
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), ToString::to_string)
}

fn findings(p: &mut String, run: &Run) {
    let f = &run.findings;
    p.push_str(r#"<section id="findings"><h2>Findings</h2>"#);
    table(
        p,
        "findings-orders",
        "Orders left on the exchange",
        &[
            "finding",
            "exchange",
            "symbol",
            "side",
            "qty",
            "price",
            "order id",
            "client id",
            "age s",
            "reason",
        ],
        f.orders
            .iter()
            .map(|o| {
                vec![
                    o.finding.clone(),
                    o.exchange.clone(),
                    o.symbol.clone(),
                    opt(&o.side),
                    opt(&o.qty),
                    opt(&o.price),
                    o.order_id.clone(),
                    opt(&o.client_id),
                    opt(&o.age_s),
                    o.reason.clone(),
                ]
            })
            .collect(),
        "No orphan or ghost orders (orphan-cancel reconcile).",
    );
    table(
        p,
        "findings-zombies",
        "Zombie processes on the machine after the run (zombiereap scan; the verdict row counts the service's tree)",
        &["pid", "name", "parent pid", "parent", "age s"],
        f.zombies
            .iter()
            .map(|z| {
                vec![
                    z.pid.to_string(),
                    z.name.clone(),
                    z.ppid.to_string(),
                    opt(&z.parent_name),
                    opt(&z.age_s),
                ]
            })
            .collect(),
        "No zombies on the machine after the run (zombiereap scan).",
    );
    table(
        p,
        "findings-deps",
        "Vulnerable dependencies",
        &[
            "severity", "score", "advisory", "package", "version", "fixed in", "title", "lockfile",
            "gate",
        ],
        f.deps
            .iter()
            .map(|d| {
                vec![
                    d.severity.clone(),
                    opt(&d.score),
                    d.id.clone(),
                    d.package.clone(),
                    d.version.clone(),
                    d.fixed.join(", "),
                    d.title.clone(),
                    d.lockfile.clone(),
                    if d.ignored {
                        "ignored".into()
                    } else if d.fails_gate {
                        "fails".into()
                    } else {
                        "below the gate".into()
                    },
                ]
            })
            .collect(),
        "No vulnerable dependencies found (seccheck deps), or the audit did not run: see the Security row.",
    );
    table(
        p,
        "findings-secrets",
        "Leaked secrets (masked)",
        &["kind", "file", "line", "column", "masked value"],
        f.secrets
            .iter()
            .map(|s| {
                vec![
                    s.shape.clone(),
                    s.file.clone(),
                    opt(&s.line),
                    opt(&s.column),
                    s.masked.clone(),
                ]
            })
            .collect(),
        "No secrets in the artifacts (seccheck secrets).",
    );
    p.push_str("</section>");
}

fn config(p: &mut String, run: &Run) {
    let i = &run.info;
    let title = match run.view {
        View::RunDir => "Run configuration and versions",
        View::Tool { .. } => "Figures and recording",
    };
    let _ = write!(p, r#"<section id="config"><h2>{title}</h2><dl>"#);
    let mut item = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            let _ = write!(p, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
        }
    };
    for (name, value) in &run.figures {
        item(name, Some(value.clone()));
    }
    item("service command", i.command.clone());
    item("health URL", i.health_url.clone());
    item("host", i.hostname.clone());
    item("platform", i.platform.clone());
    item("resmon version", i.monitor_version.clone());
    item("sampling interval", i.interval_s.map(|s| format!("{s} s")));
    item(
        "samples",
        Some(match i.sampled {
            Some((a, b)) => format!("{} from {} to {}", i.samples, utc(a), utc(b)),
            None => "none".into(),
        }),
    );
    if let Some(a) = &run.analysis {
        item("resanalyze time axis", a.time_axis.clone());
        if let Some(l) = &a.leak {
            item(
                "leak verdict",
                Some(format!("{} on {}: {}", l.verdict, l.series, l.reason)),
            );
        }
        // On a tool's page the checks are the table above.
        let checks = if run.view == View::RunDir {
            &a.checks[..]
        } else {
            &[]
        };
        for c in checks {
            item(
                &format!("resanalyze check {}", c.name),
                Some(format!(
                    "{}: {}",
                    if c.ok { "pass" } else { "FAIL" },
                    c.detail
                )),
            );
        }
    }
    if let Some(s) = run
        .summary
        .as_ref()
        .filter(|s| !s.stopped_because.is_empty())
    {
        item("stopped because", Some(s.stopped_because.clone()));
    }
    item(
        "report",
        Some(format!("soak-report {}", env!("CARGO_PKG_VERSION"))),
    );
    p.push_str("</dl></section>");
}

fn artifacts(p: &mut String, run: &Run) {
    p.push_str(r#"<section id="artifacts"><h2>Raw artifacts</h2><p class="note">Relative links: they open when this page sits in its run directory (as uploaded). <code>.gz</code> files were compressed at the end of the run.</p><ul class="artifacts">"#);
    for a in &run.artifacts {
        let _ = write!(
            p,
            r#"<li><a href="./{n}">{n}</a> <span class="note">{b}</span></li>"#,
            n = esc(&a.name),
            b = bytes(a.bytes)
        );
    }
    p.push_str("</ul>");
    if !run.skipped.is_empty() {
        p.push_str(r#"<p class="note" id="skipped-lines">Lines not read: "#);
        let parts: Vec<String> = run
            .skipped
            .iter()
            .map(|(f, c)| {
                format!(
                    "{} ({} lines: {})",
                    esc(f),
                    c.total(),
                    esc(&serde_json::to_string(c).unwrap_or_default())
                )
            })
            .collect();
        p.push_str(&parts.join("; "));
        p.push_str("</p>");
    }
    p.push_str("</section>");
}
