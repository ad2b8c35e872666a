//! The timeline's strips: health availability (up/down per poll) and the event lanes (one row
//! of marks per kind of event), on the same time axis as the line charts.

use std::fmt::Write as _;

use crate::axis::{TimeAxis, utc};
use crate::chart::{LANE_HEIGHT, STRIP_HEIGHT, TITLE_BAND, plot_frame, title};
use crate::events::Lane;
use crate::health::Health;
use crate::html::{esc, px};

/// The availability strip: each poll's state held until the next poll.
pub(crate) fn availability(svg: &mut String, axis: &TimeAxis, h: &Health, top: f64) {
    let up = if h.polls > 0 {
        100.0 * (h.polls - h.failed) as f64 / h.polls as f64
    } else {
        0.0
    };
    svg.push_str(r#"<g class="chart" id="chart-availability">"#);
    title(
        svg,
        &format!("Availability: {up:.2} % of {} polls answered 2xx", h.polls),
        top,
        &[("up", "#16a34a", false), ("down", "#dc2626", false)],
    );
    let ptop = top + TITLE_BAND;
    plot_frame(svg, axis, ptop, STRIP_HEIGHT);
    // Each poll's state holds until the next poll, unless polling stopped for longer than
    // three of its usual gaps; runs in the same state are drawn as one rectangle.
    let polled: Vec<(usize, bool, u32)> = h
        .cells
        .iter()
        .enumerate()
        .filter(|(_, c)| c.ok + c.failed > 0)
        .map(|(col, c)| (col, c.failed > 0, c.failed))
        .collect();
    let mut gaps: Vec<usize> = polled.windows(2).map(|w| w[1].0 - w[0].0).collect();
    gaps.sort_unstable();
    let max_gap = gaps.get(gaps.len() / 2).map_or(3, |g| (3 * g).max(3));
    let mut spans: Vec<(usize, usize, bool, u32)> = Vec::new();
    for (i, &(col, down, failed)) in polled.iter().enumerate() {
        let end = polled
            .get(i + 1)
            .map(|n| n.0)
            .filter(|next| next - col <= max_gap)
            .unwrap_or(col + 2);
        match spans.last_mut() {
            Some(last) if last.2 == down && last.1 >= col => {
                last.1 = end;
                last.3 += failed;
            }
            _ => spans.push((col, end, down, failed)),
        }
    }
    for (a, b, down, failed) in spans {
        let _ = write!(
            svg,
            r#"<rect class="{cls}" x="{x}" y="{y}" width="{w}" height="{h}" fill="{c}"><title>{title}</title></rect>"#,
            cls = if down { "avail down" } else { "avail up" },
            x = px(axis.left + a as f64),
            y = px(ptop + 1.0),
            w = px((b.min(axis.columns()) - a).max(2) as f64),
            h = px(STRIP_HEIGHT - 2.0),
            c = if down { "#dc2626" } else { "#86efac" },
            title = if down {
                format!(
                    "{failed} failed poll(s) from {}",
                    utc(axis.start + a as f64 * axis.seconds_per_column())
                )
            } else {
                "answered".to_string()
            }
        );
    }
    svg.push_str("</g>");
}

/// The colour of a lane's marks.
pub fn lane_color(lane: &str) -> &'static str {
    match lane {
        "service" => "#4b5563",
        "shutdown" => "#6b7280",
        "reconnect" => "#d97706",
        "timeout" => "#c2410c",
        "error" => "#dc2626",
        "crash" => "#7f1d1d",
        "hang" => "#9333ea",
        "orders" => "#0891b2",
        "early warning" => "#b45309",
        _ => "#64748b",
    }
}

/// The event lanes with their marks.
pub(crate) fn events(svg: &mut String, axis: &TimeAxis, lanes: &[Lane], outside: usize, top: f64) {
    let total: u64 = lanes.iter().map(|l| l.count).sum();
    svg.push_str(r#"<g class="chart" id="chart-events">"#);
    let outside = match outside {
        0 => String::new(),
        n => format!("; {n} dated far outside the run not drawn"),
    };
    title(
        svg,
        &format!(
            "Log and service events ({total}{outside}; heartbeats and latency lines not drawn; crashes, hangs and early warnings dotted across every chart)"
        ),
        top,
        &[],
    );
    let ptop = top + TITLE_BAND;
    let height = LANE_HEIGHT * lanes.len().max(1) as f64;
    plot_frame(svg, axis, ptop, height);
    if lanes.is_empty() {
        let _ = write!(
            svg,
            r##"<text class="no-data" x="{x}" y="{y}" text-anchor="middle" fill="#6b7280">no notable events</text>"##,
            x = px(axis.left + axis.width / 2.0),
            y = px(ptop + 12.0)
        );
    }
    for (i, lane) in lanes.iter().enumerate() {
        let y = ptop + i as f64 * LANE_HEIGHT;
        let color = lane_color(lane.name);
        let cls = lane.name.replace(' ', "-");
        let _ = write!(
            svg,
            r##"<g class="lane" data-lane="{n}"><text class="lane-name" x="{lx}" y="{ty}" text-anchor="end" fill="{color}">{n}</text><text class="lane-count" x="{cx}" y="{ty}" fill="#374151">{count}</text>"##,
            n = esc(lane.name),
            lx = px(axis.left - 6.0),
            cx = px(axis.left + axis.width + 6.0),
            ty = px(y + 12.0),
            count = lane.count,
        );
        for (col, cell) in &lane.cells {
            let more = if cell.count > 1 {
                format!(" (+{} more in this pixel)", cell.count - 1)
            } else {
                String::new()
            };
            let _ = write!(
                svg,
                r#"<rect class="mark mark-{cls}" x="{x}" y="{y}" width="3" height="{h}" fill="{color}"><title>{t}{more}: {text}</title></rect>"#,
                x = px(axis.left + *col as f64 - 1.0),
                y = px(y + 3.0),
                h = px(LANE_HEIGHT - 6.0),
                t = esc(&utc(cell.t)),
                text = esc(&cell.text),
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</g>");
}
