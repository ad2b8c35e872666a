//! The timeline: one inline SVG whose charts (memory, CPU, disk, fds/threads, health latency,
//! availability, log events) are stacked on the same time axis, so a memory jump lines up
//! with what the log said then. Each chart is a `<g class="chart" id="chart-NAME">`.

use std::fmt::Write as _;

use crate::axis::{TimeAxis, ValueAxis, utc};
use crate::envelope::Envelope;
use crate::events::{Lane, RULED_LANES};
use crate::html::{esc, px};
use crate::run::{Metric, PLOT_LEFT, PLOT_WIDTH, Run, View};
use crate::strips;

/// The SVG's width, px.
pub const WIDTH: f64 = PLOT_LEFT + PLOT_WIDTH + 50.0;
const AXIS_BAND: f64 = 36.0;
pub(crate) const TITLE_BAND: f64 = 24.0;
const PLOT_HEIGHT: f64 = 100.0;
const GAP: f64 = 14.0;
pub(crate) const LANE_HEIGHT: f64 = 16.0;
pub(crate) const STRIP_HEIGHT: f64 = 18.0;

/// One line of a chart.
struct Line<'a> {
    class: &'static str,
    label: String,
    color: &'static str,
    dashed: bool,
    env: &'a Envelope,
}

/// A shaded time window with its label.
struct Band {
    start: f64,
    end: f64,
    label: String,
}

/// A straight line from (t0, v0) to (t1, v1) with its label.
struct TrendLine {
    from: (f64, f64),
    to: (f64, f64),
    label: String,
    failing: bool,
}

/// A line chart.
struct LineChart<'a> {
    id: &'static str,
    title: String,
    unit: &'static str,
    floor_zero: bool,
    lines: Vec<Line<'a>>,
    band: Option<Band>,
    trend: Option<TrendLine>,
    /// Times of failures drawn as red ticks on the bottom edge, with their reason.
    failures: Vec<(f64, String)>,
    /// Said instead of a chart when nothing was measured.
    empty_note: &'static str,
}

impl<'a> LineChart<'a> {
    /// A chart of plain lines: no window, trend or failure ticks.
    fn plain(
        id: &'static str,
        title: &str,
        unit: &'static str,
        floor_zero: bool,
        lines: Vec<Line<'a>>,
        empty_note: &'static str,
    ) -> LineChart<'a> {
        LineChart {
            id,
            title: title.to_string(),
            unit,
            floor_zero,
            lines,
            band: None,
            trend: None,
            failures: Vec::new(),
            empty_note,
        }
    }
}

/// A solid line of `env`, when the series was measured.
fn solid<'a>(
    env: Option<&'a Envelope>,
    class: &'static str,
    label: &str,
    color: &'static str,
) -> Vec<Line<'a>> {
    env.map(|env| Line {
        class,
        label: label.to_string(),
        color,
        dashed: false,
        env,
    })
    .into_iter()
    .collect()
}

/// Renders the timeline of `run`, or `None` when nothing in the run has a time.
pub fn timeline(run: &Run) -> Option<String> {
    let axis = run.axis?;
    let mut body = String::new();
    let mut y = AXIS_BAND;
    let rules = ruled_times(&run.lanes);
    let mut chart = |svg: &mut String, height: f64, draw: &dyn Fn(&mut String, f64)| {
        draw(svg, y);
        y += height + GAP;
    };
    // One tool's page draws only what that tool read: no empty resource charts on a log's
    // page, no empty event lane on a recording's.
    let tool = run.view != View::RunDir;
    let charts = if tool && run.series.is_empty() {
        Vec::new()
    } else {
        line_charts(run)
    };
    for c in charts {
        chart(&mut body, TITLE_BAND + PLOT_HEIGHT, &|s, top| {
            line_chart(s, &axis, &c, top, run.max_gap_s, &rules);
        });
    }
    if let Some(h) = &run.health {
        chart(&mut body, TITLE_BAND + STRIP_HEIGHT, &|s, top| {
            strips::availability(s, &axis, h, top);
        });
    }
    if !(tool && run.lanes.is_empty() && run.info.events_outside == 0) {
        let lanes_height = LANE_HEIGHT * run.lanes.len().max(1) as f64;
        chart(&mut body, TITLE_BAND + lanes_height, &|s, top| {
            strips::events(s, &axis, &run.lanes, run.info.events_outside, top);
        });
    }
    let height = y - GAP + AXIS_BAND;
    let mut svg = String::with_capacity(body.len() + 4096);
    let _ = write!(
        svg,
        r#"<svg id="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="The run over time: resources, health and log events on one time axis" font-family="system-ui, sans-serif" font-size="11">"#,
        w = px(WIDTH),
        h = px(height)
    );
    time_axis(&mut svg, &axis, AXIS_BAND - 20.0, "top");
    svg.push_str(&body);
    time_axis(&mut svg, &axis, y - GAP + 14.0, "bottom");
    svg.push_str("</svg>");
    Some(svg)
}

fn ruled_times(lanes: &[Lane]) -> Vec<(f64, &'static str)> {
    lanes
        .iter()
        .filter(|l| RULED_LANES.contains(&l.name))
        .flat_map(|l| l.cells.values().map(move |c| (c.t, l.name)))
        .collect()
}

fn line_charts(run: &Run) -> Vec<LineChart<'_>> {
    let s = |m: Metric| run.series.get(&m);
    let leak = run.analysis.as_ref().and_then(|a| a.leak.as_ref());
    let memory_failing = run.summary.as_ref().is_some_and(|s| {
        s.rows
            .iter()
            .any(|r| r.metric.to_ascii_lowercase().starts_with("memory") && r.status == "fail")
    }) || leak.is_some_and(|l| l.verdict == "leak");

    // Memory: the judged series (tree RSS by default), and the cgroup with its limit.
    let judged = run.trend.as_ref().map_or(Metric::TreeMemory, |t| t.metric);
    let main = [judged, Metric::TreeMemory, Metric::ProcessMemory]
        .into_iter()
        .find_map(|m| s(m).map(|e| (m, e)));
    let mut memory = Vec::new();
    if let Some((m, env)) = main {
        memory.push(Line {
            class: "series memory",
            label: match m {
                Metric::TreeMemory => "tree RSS".into(),
                Metric::ProcessMemory => "main process RSS".into(),
                Metric::MemoryUsed => "machine memory used".into(),
                _ => "cgroup memory".into(),
            },
            color: "#2563eb",
            dashed: false,
            env,
        });
    }
    if judged != Metric::CgroupMemory {
        if let Some(e) = s(Metric::CgroupMemory) {
            memory.push(Line {
                class: "series cgroup",
                label: "cgroup memory".into(),
                color: "#7c3aed",
                dashed: false,
                env: e,
            });
        }
    }
    if let Some(e) = s(Metric::CgroupLimit) {
        memory.push(Line {
            class: "series limit",
            label: "cgroup limit".into(),
            color: "#dc2626",
            dashed: true,
            env: e,
        });
    }
    let band = run.trend.as_ref().map(|t| Band {
        start: t.start,
        end: t.end,
        label: format!(
            "judged window ({})",
            leak.and_then(|l| l.window_reason.as_deref())
                .unwrap_or("window")
                .replace('_', " ")
        ),
    });
    let trend = run.trend.as_ref().and_then(|t| {
        let (a, b) = t.line?;
        let l = leak?;
        let ci = match (l.ci_low_mb_per_hour, l.ci_high_mb_per_hour) {
            (Some(lo), Some(hi)) => format!(" (CI {lo:.1}..{hi:.1})"),
            _ => String::new(),
        };
        Some(TrendLine {
            from: (t.start, a),
            to: (t.end, b),
            label: format!(
                "trend {:+.1} MB/h{ci}, {}; allowed {} MB/h",
                l.slope_mb_per_hour.unwrap_or(0.0),
                l.verdict.replace('_', " "),
                l.threshold_mb_per_hour
                    .map_or_else(|| "?".to_string(), |v| format!("{v}"))
            ),
            failing: memory_failing,
        })
    });
    vec![
        LineChart {
            id: "chart-memory",
            title: format!(
                "Memory{}",
                if memory_failing {
                    " — FAIL: growing"
                } else {
                    ""
                }
            ),
            unit: "MB",
            floor_zero: false,
            lines: memory,
            band,
            trend,
            failures: Vec::new(),
            empty_note: "no memory samples in resources.jsonl",
        },
        LineChart::plain(
            "chart-cpu",
            "CPU of the service's process tree (% of one core)",
            "%",
            true,
            solid(
                s(Metric::ServiceCpu),
                "series cpu",
                "service CPU",
                "#ea580c",
            ),
            "the service's CPU was not measured (no target process)",
        ),
        LineChart::plain(
            "chart-disk",
            "Disk used on the run directory's filesystem",
            "GB",
            false,
            solid(s(Metric::DiskUsed), "series disk", "disk used", "#0d9488"),
            "disk use was not measured",
        ),
        LineChart::plain(
            "chart-fds",
            "Open file descriptors and threads of the service",
            "count",
            true,
            solid(s(Metric::Fds), "series fds", "open fds", "#2563eb")
                .into_iter()
                .chain(solid(
                    s(Metric::Threads),
                    "series threads",
                    "threads",
                    "#db2777",
                ))
                .collect(),
            "fds and threads were not measured",
        ),
    ]
    .into_iter()
    .chain(run.health.as_ref().map(|h| LineChart {
        failures: h.failures.clone(),
        ..LineChart::plain(
            "chart-health-latency",
            &format!(
                "Health endpoint latency ({} polls, {} failed: red ticks)",
                h.polls, h.failed
            ),
            "ms",
            true,
            solid(
                Some(&h.latency),
                "series latency",
                "latency of answered polls",
                "#059669",
            ),
            "no poll was answered",
        )
    }))
    .collect()
}

fn time_axis(svg: &mut String, axis: &TimeAxis, baseline: f64, which: &str) {
    let ticks = axis.ticks();
    let _ = write!(
        svg,
        r##"<g class="time-axis time-axis-{which}" fill="#374151">"##
    );
    let last = ticks.len().saturating_sub(1);
    for (i, t) in ticks.iter().enumerate() {
        let anchor = match i {
            0 => "start",
            _ if i == last && t.x > axis.left + axis.width - 30.0 => "end",
            _ => "middle",
        };
        let _ = write!(
            svg,
            r##"<text class="tick-wall" x="{x}" y="{y}" text-anchor="{anchor}">{w}</text><text class="tick-elapsed" x="{x}" y="{y2}" text-anchor="{anchor}" fill="#6b7280">{e}</text>"##,
            x = px(t.x),
            y = px(baseline),
            y2 = px(baseline + 12.0),
            w = esc(&t.wall),
            e = esc(&t.elapsed),
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{x}" y="{y}" text-anchor="end" fill="#6b7280">UTC</text><text x="{x}" y="{y2}" text-anchor="end" fill="#6b7280">elapsed</text></g>"##,
        x = px(axis.left - 8.0),
        y = px(baseline),
        y2 = px(baseline + 12.0)
    );
}

fn vertical_grid(svg: &mut String, axis: &TimeAxis, top: f64, height: f64) {
    for t in axis.ticks() {
        let _ = write!(
            svg,
            r##"<line class="grid-x" x1="{x}" x2="{x}" y1="{y1}" y2="{y2}" stroke="#e5e7eb"/>"##,
            x = px(t.x),
            y1 = px(top),
            y2 = px(top + height)
        );
    }
}

fn rules(svg: &mut String, axis: &TimeAxis, rules: &[(f64, &str)], top: f64, height: f64) {
    for (t, lane) in rules {
        let _ = write!(
            svg,
            r##"<line class="rule rule-{cls}" x1="{x}" x2="{x}" y1="{y1}" y2="{y2}" stroke="{c}" stroke-dasharray="2 3"/>"##,
            cls = lane.replace(' ', "-"),
            x = px(axis.x(*t)),
            y1 = px(top),
            y2 = px(top + height),
            c = strips::lane_color(lane)
        );
    }
}

pub(crate) fn title(svg: &mut String, text: &str, top: f64, legend: &[(&str, &str, bool)]) {
    let _ = write!(
        svg,
        r##"<text class="chart-title" x="{x}" y="{y}" font-size="13" font-weight="600" fill="#111827">{t}</text>"##,
        x = px(PLOT_LEFT),
        y = px(top + 15.0),
        t = esc(text)
    );
    // The legend, right-aligned on the title's line.
    let mut x = PLOT_LEFT + PLOT_WIDTH;
    for (label, color, dashed) in legend.iter().rev() {
        let w = 6.2 * label.chars().count() as f64;
        x -= w;
        let _ = write!(
            svg,
            r##"<text class="legend" x="{tx}" y="{y}" fill="#374151">{l}</text><line x1="{a}" x2="{b}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="2.5"{d}/>"##,
            tx = px(x),
            y = px(top + 15.0),
            l = esc(label),
            a = px(x - 22.0),
            b = px(x - 6.0),
            ly = px(top + 11.0),
            d = if *dashed {
                r#" stroke-dasharray="5 3""#
            } else {
                ""
            }
        );
        x -= 34.0;
    }
}

pub(crate) fn plot_frame(svg: &mut String, axis: &TimeAxis, top: f64, height: f64) {
    let _ = write!(
        svg,
        r##"<rect class="plot" x="{x}" y="{y}" width="{w}" height="{h}" fill="#ffffff" stroke="#d1d5db"/>"##,
        x = px(axis.left),
        y = px(top),
        w = px(axis.width),
        h = px(height)
    );
    vertical_grid(svg, axis, top, height);
}

fn line_chart(
    svg: &mut String,
    axis: &TimeAxis,
    c: &LineChart<'_>,
    top: f64,
    max_gap_s: f64,
    ruled: &[(f64, &str)],
) {
    let _ = write!(svg, r#"<g class="chart" id="{}">"#, c.id);
    let mut legend: Vec<(&str, &str, bool)> = c
        .lines
        .iter()
        .map(|l| (l.label.as_str(), l.color, l.dashed))
        .collect();
    if let Some(b) = &c.band {
        legend.push((b.label.as_str(), "#fde68a", false));
    }
    if let Some(t) = &c.trend {
        legend.push((
            "fitted trend",
            if t.failing { "#b91c1c" } else { "#374151" },
            true,
        ));
    }
    title(svg, &c.title, top, &legend);
    let ptop = top + TITLE_BAND;
    plot_frame(svg, axis, ptop, PLOT_HEIGHT);
    let range = c
        .lines
        .iter()
        .filter_map(|l| l.env.range())
        .chain(
            c.trend
                .iter()
                .map(|t| (t.from.1.min(t.to.1), t.from.1.max(t.to.1))),
        )
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
    let Some((lo, hi)) = range else {
        let _ = write!(
            svg,
            r##"<text class="no-data" x="{x}" y="{y}" text-anchor="middle" fill="#6b7280">{n}</text></g>"##,
            x = px(axis.left + axis.width / 2.0),
            y = px(ptop + PLOT_HEIGHT / 2.0),
            n = esc(c.empty_note)
        );
        return;
    };
    let va = ValueAxis::fit(lo, hi, c.floor_zero);
    let y_of = |v: f64| ptop + PLOT_HEIGHT - (v - va.lo) / (va.hi - va.lo) * PLOT_HEIGHT;
    for v in va.ticks() {
        let _ = write!(
            svg,
            r##"<line class="grid-y" x1="{x1}" x2="{x2}" y1="{y}" y2="{y}" stroke="#e5e7eb"/><text class="tick-y" x="{lx}" y="{ty}" text-anchor="end" fill="#374151">{l}</text>"##,
            x1 = px(axis.left),
            x2 = px(axis.left + axis.width),
            y = px(y_of(v)),
            lx = px(axis.left - 6.0),
            ty = px(y_of(v) + 4.0),
            l = esc(&va.label(v))
        );
    }
    let (ux, uy) = (axis.left - 62.0, ptop + PLOT_HEIGHT / 2.0);
    let _ = write!(
        svg,
        r##"<text class="unit" x="{x}" y="{y}" transform="rotate(-90 {x} {y})" text-anchor="middle" fill="#4b5563">{u}</text>"##,
        x = px(ux),
        y = px(uy),
        u = esc(c.unit)
    );
    if let Some(b) = &c.band {
        let (x0, x1) = (axis.x(b.start), axis.x(b.end));
        let _ = write!(
            svg,
            r##"<rect class="judged-window" x="{x}" y="{y}" width="{w}" height="{h}" fill="#fde68a" fill-opacity="0.45"><title>{t}: {a} to {z}</title></rect>"##,
            x = px(x0),
            y = px(ptop),
            w = px((x1 - x0).max(1.0)),
            h = px(PLOT_HEIGHT),
            t = esc(&b.label),
            a = esc(&utc(b.start)),
            z = esc(&utc(b.end)),
        );
    }
    rules(svg, axis, ruled, ptop, PLOT_HEIGHT);
    for l in &c.lines {
        for seg in l.env.segments(max_gap_s) {
            if seg.len() == 1 {
                let (col, v) = seg[0];
                let _ = write!(
                    svg,
                    r#"<circle class="{cls}" cx="{x}" cy="{y}" r="2" fill="{c}"/>"#,
                    cls = l.class,
                    x = px(axis.column_x(col)),
                    y = px(y_of(v)),
                    c = l.color
                );
                continue;
            }
            let mut d = String::with_capacity(seg.len() * 12);
            for (i, (col, v)) in seg.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{} {}",
                    if i == 0 { "M" } else { "L" },
                    px(axis.column_x(*col)),
                    px(y_of(*v))
                );
            }
            let _ = write!(
                svg,
                r#"<path class="{cls}" d="{d}" fill="none" stroke="{c}" stroke-width="1.6" stroke-linejoin="round"{dash}/>"#,
                cls = l.class,
                c = l.color,
                dash = if l.dashed {
                    r#" stroke-dasharray="6 4""#
                } else {
                    ""
                }
            );
        }
    }
    if let Some(t) = &c.trend {
        let color = if t.failing { "#b91c1c" } else { "#374151" };
        let (x1, y1, x2, y2) = (
            axis.x(t.from.0),
            y_of(t.from.1),
            axis.x(t.to.0),
            y_of(t.to.1),
        );
        let _ = write!(
            svg,
            r#"<line class="trend" x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{color}" stroke-width="2" stroke-dasharray="7 4"><title>{l}</title></line><text class="trend-label" x="{tx}" y="{ty}" text-anchor="end" fill="{color}" font-weight="600">{l}</text>"#,
            x1 = px(x1),
            y1 = px(y1),
            x2 = px(x2),
            y2 = px(y2),
            l = esc(&t.label),
            tx = px(axis.left + axis.width - 6.0),
            ty = px(ptop + PLOT_HEIGHT - 8.0),
        );
    }
    for (t, why) in &c.failures {
        let x = axis.x(*t);
        let _ = write!(
            svg,
            r##"<line class="failed-poll" x1="{x}" x2="{x}" y1="{y1}" y2="{y2}" stroke="#dc2626" stroke-width="2"><title>{w}: {m}</title></line>"##,
            x = px(x),
            y1 = px(ptop + PLOT_HEIGHT - 10.0),
            y2 = px(ptop + PLOT_HEIGHT),
            w = esc(&utc(*t)),
            m = esc(why)
        );
    }
    svg.push_str("</g>");
}
