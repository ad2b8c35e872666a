//! `--plot FILE.svg|.png`: one figure with four panels (judged memory with the fitted trend and
//! the judged window shaded, CPU with the spike threshold and spike windows, disk used, network
//! receive rate). Drawn with plotters without any font: shapes come from plotters, and in SVG
//! the panel titles are plain `<text>` elements added afterwards, so no system font or library
//! is needed at any point. PNG files carry no text.

use std::path::Path;

use crate::model::Analysis;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::accumulate::Accumulator;
use crate::analysis::judged_memory;
use crate::timeline::{Channel, Point};

/// Plot errors.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Unknown extension.
    #[error("--plot {0}: use a .svg or .png file name")]
    Extension(String),
    /// Drawing or writing failed.
    #[error("--plot {path}: {message}")]
    Draw {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
}

const W: u32 = 1200;
const PANEL_H: u32 = 240;
const TOP: u32 = 28;
const LEFT: u32 = 70;

struct Panel {
    title: String,
    points: Vec<Point>,
    color: RGBColor,
    /// Fitted line: (t0_s, y0, t1_s, y1).
    fit: Option<(f64, f64, f64, f64)>,
    /// Shaded windows in s.
    windows: Vec<(f64, f64)>,
    /// Horizontal reference line.
    hline: Option<f64>,
}

/// A figure as the JSON shows it (`12.5`, `3.0`, `null`).
fn json(x: Option<f64>) -> String {
    serde_json::to_string(&x).unwrap_or_default()
}

fn panels(acc: &Accumulator, doc: &Analysis) -> Vec<Panel> {
    let tl = &acc.timeline;
    let (ch, name) = judged_memory(acc);
    let leak = &doc.leak.trend;
    let mut fit = None;
    let mut windows = Vec::new();
    if let (Some(a), Some(b), Some(slope)) =
        (leak.window_start_s, leak.window_end_s, leak.slope_per_hour)
    {
        windows.push((a, b));
        let pts: Vec<Point> = tl
            .points(ch)
            .into_iter()
            .filter(|p| p.t >= a && p.t <= b)
            .collect();
        // Theil-Sen intercept: the median of y - slope * t; on cycle floors, the line is drawn
        // along the floors (the 5 % quantile of the bucket minima), not through the cycles.
        let on_floors = leak.basis == "cycle_floor";
        let mut icpt: Vec<f64> = pts
            .iter()
            .map(|p| if on_floors { p.min } else { p.y } - slope / 3600.0 * p.t)
            .collect();
        icpt.sort_by(f64::total_cmp);
        let rank = if on_floors {
            icpt.len() / 20
        } else {
            icpt.len() / 2
        };
        if let Some(m) = icpt.get(rank) {
            fit = Some((a, m + slope / 3600.0 * a, b, m + slope / 3600.0 * b));
        }
    }
    let spikes: Vec<(f64, f64)> = doc
        .cpu
        .sustained_spikes
        .episodes
        .iter()
        .filter_map(|e| Some((e.start_s?, e.start_s? + e.duration_s?)))
        .collect();
    vec![
        Panel {
            title: format!(
                "{name} (MB): {} {} MB/h{}, judged window shaded",
                leak.verdict,
                json(leak.slope_per_hour),
                if leak.basis == "cycle_floor" {
                    " on the cycle floors"
                } else {
                    ""
                }
            ),
            points: tl.points(ch),
            color: RGBColor(31, 119, 180),
            fit,
            windows,
            hline: None,
        },
        Panel {
            title: format!(
                "cpu_percent: {} sustained spikes shaded",
                doc.cpu.sustained_spikes.count
            ),
            points: tl.points(Channel::Cpu),
            color: RGBColor(214, 39, 40),
            fit: None,
            windows: spikes,
            hline: Some(doc.cpu.spike_threshold_percent),
        },
        Panel {
            title: format!("disk_used_gb: {} GB/h", json(doc.disk.growth_gb_per_hour)),
            points: tl.points(Channel::DiskUsed),
            color: RGBColor(44, 160, 44),
            fit: None,
            windows: Vec::new(),
            hline: None,
        },
        Panel {
            title: "network_recv_bytes_per_s".to_string(),
            points: tl.points(Channel::NetRecv),
            color: RGBColor(148, 103, 189),
            fit: None,
            windows: Vec::new(),
            hline: None,
        },
    ]
}

fn range(points: &[Point]) -> (f64, f64) {
    let lo = points.iter().map(|p| p.min).fold(f64::INFINITY, f64::min);
    let hi = points
        .iter()
        .map(|p| p.max)
        .fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-6);
    (lo - pad, hi + pad)
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &Panel,
    t_max: f64,
) -> Result<(f64, f64), String> {
    let (lo, hi) = range(&p.points);
    let mut chart = ChartBuilder::on(area)
        .margin_top(TOP)
        .margin_left(LEFT)
        .margin_right(20)
        .margin_bottom(10)
        .build_cartesian_2d(0.0..t_max.max(1.0) / 3600.0, lo..hi)
        .map_err(|e| e.to_string())?;
    let plot_area = chart.plotting_area();
    for (a, b) in &p.windows {
        plot_area
            .draw(&Rectangle::new(
                [(a / 3600.0, lo), (b / 3600.0, hi)],
                RGBAColor(255, 165, 0, 0.18).filled(),
            ))
            .map_err(|e| e.to_string())?;
    }
    plot_area
        .draw(&Rectangle::new(
            [(0.0, lo), (t_max / 3600.0, hi)],
            BLACK.stroke_width(1),
        ))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(LineSeries::new(
            p.points.iter().map(|q| (q.t / 3600.0, q.y)),
            &p.color,
        ))
        .map_err(|e| e.to_string())?;
    if let Some((t0, y0, t1, y1)) = p.fit {
        chart
            .draw_series(LineSeries::new(
                [(t0 / 3600.0, y0), (t1 / 3600.0, y1)],
                BLACK.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
    }
    if let Some(h) = p.hline {
        chart
            .draw_series(LineSeries::new([(0.0, h), (t_max / 3600.0, h)], &RED))
            .map_err(|e| e.to_string())?;
    }
    Ok((lo, hi))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes the figure to `path` (`.svg` or `.png`).
pub fn plot(acc: &Accumulator, doc: &Analysis, path: &Path) -> Result<(), PlotError> {
    let name = path.display().to_string();
    let err = |message: String| PlotError::Draw {
        path: name.clone(),
        message,
    };
    let ps = panels(acc, doc);
    let t_max = acc.span_s();
    let height = PANEL_H * ps.len() as u32;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "svg" => {
            let mut svg = String::new();
            let mut ranges = Vec::new();
            {
                let root = SVGBackend::with_string(&mut svg, (W, height)).into_drawing_area();
                root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
                for (area, p) in root.split_evenly((ps.len(), 1)).iter().zip(&ps) {
                    ranges.push(draw_panel(area, p, t_max).map_err(&err)?);
                }
                root.present().map_err(|e| err(e.to_string()))?;
            }
            let mut text = String::new();
            for (i, (p, (lo, hi))) in ps.iter().zip(&ranges).enumerate() {
                let y0 = i as u32 * PANEL_H;
                text.push_str(&format!(
                    "<text x=\"{LEFT}\" y=\"{}\" font-family=\"sans-serif\" font-size=\"14\">{}</text>\n",
                    y0 + 18,
                    xml_escape(&p.title)
                ));
                text.push_str(&format!(
                    "<text x=\"4\" y=\"{}\" font-family=\"sans-serif\" font-size=\"11\">{hi:.1}</text>\n<text x=\"4\" y=\"{}\" font-family=\"sans-serif\" font-size=\"11\">{lo:.1}</text>\n",
                    y0 + TOP + 10,
                    y0 + PANEL_H - 12
                ));
            }
            text.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" font-family=\"sans-serif\" font-size=\"11\">{:.2} h</text>\n",
                W - 80,
                height - 2,
                t_max / 3600.0
            ));
            let at = svg.rfind("</svg>").unwrap_or(svg.len());
            svg.insert_str(at, &text);
            soak_core::outfile::write(path, svg.as_bytes()).map_err(|e| err(e.source.to_string()))
        }
        "png" => soak_core::outfile::replace_with(path, |tmp| {
            let root = BitMapBackend::new(tmp, (W, height)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
            for (area, p) in root.split_evenly((ps.len(), 1)).iter().zip(&ps) {
                draw_panel(area, p, t_max).map_err(&err)?;
            }
            root.present().map_err(|e| err(e.to_string()))
        })
        .map_err(|e| err(e.source.to_string())),
        _ => Err(PlotError::Extension(name)),
    }
}
