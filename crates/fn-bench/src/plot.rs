//! The plot of docs/performance.md: each workload's latency distribution (one thread) in
//! the three embeddings, as a PNG.
//!
//! Why a distribution and not bars of medians: the targets bound the tail (p99) as well
//! as the median, and a tail shows only on the whole curve.

use std::path::Path;

use anyhow::{Context as _, Result, anyhow};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::{Kind, Measured};

/// Where the plot's font is looked for (Debian's fonts-dejavu-core).
const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

fn colour(kind: Kind) -> RGBColor {
    match kind {
        Kind::Naive => RGBColor(200, 80, 40),
        Kind::Bare => RGBColor(60, 120, 200),
        Kind::Engine => RGBColor(30, 150, 60),
    }
}

/// Draws `measured`'s one-thread distributions to `out` (PNG): a panel per workload,
/// latency (logarithmic, µs) across, the share of calls at most that fast up.
///
/// # Errors
///
/// When no font is found (install fonts-dejavu-core), or the PNG cannot be written.
pub fn latency_distributions(measured: &[Measured], out: &Path) -> Result<()> {
    let font = FONTS
        .iter()
        .find_map(|path| std::fs::read(path).ok())
        .context("no DejaVuSans.ttf for the plot's text (apt-get install fonts-dejavu-core)")?;
    let font: &'static [u8] = Box::leak(font.into_boxed_slice());
    register_font("sans-serif", FontStyle::Normal, font)
        .map_err(|_| anyhow!("the font cannot be read"))?;
    let mut workloads: Vec<&str> = Vec::new();
    for m in measured {
        if !workloads.contains(&m.workload.as_str()) {
            workloads.push(&m.workload);
        }
    }
    let columns = 2;
    let rows = workloads.len().div_ceil(columns).max(1);
    let height = u32::try_from(rows * 320 + 40)?;
    let root = BitMapBackend::new(out, (1200, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let (title, body) = root.split_vertically(40);
    title
        .titled(
            "Latency of one call, one thread: share of calls at most x µs (naive, bare wasmtime, fn-engine)",
            ("sans-serif", 20),
        )
        .map_err(|e| anyhow!("{e}"))?;
    let panels = body.split_evenly((rows, columns));
    for (panel, workload) in panels.iter().zip(&workloads) {
        let lines: Vec<&Measured> = measured
            .iter()
            .filter(|m| m.workload == *workload && m.threads == 1)
            .collect();
        let (mut low, mut high) = (f64::MAX, 0.0f64);
        for m in &lines {
            let q = &m.summary.quantiles_ns;
            low = low.min(q[2] as f64 / 1e3);
            high = high.max(q[q.len() - 2] as f64 / 1e3);
        }
        if lines.is_empty() {
            continue;
        }
        let mut chart = ChartBuilder::on(panel)
            .caption(*workload, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(45)
            .build_cartesian_2d((low * 0.9..high * 1.1).log_scale(), 0.0..100.0)
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("µs (log)")
            .y_desc("% of calls")
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for m in lines {
            let q = &m.summary.quantiles_ns;
            // The extremes (0 and 100 %) are single calls: left out, as the axis is.
            let points = (2..q.len() - 1).map(|i| (q[i] as f64 / 1e3, i as f64 / 2.0));
            let style = colour(m.kind).stroke_width(2);
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(|e| anyhow!("{e}"))?
                .label(m.kind.name())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
    }
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
