//! `plddt.png` (pLDDT per residue, with AlphaFold's confidence bands) and `pae.png` (predicted
//! aligned error matrix), drawn with plotters. Text uses the bundled DejaVu Sans Mono (see
//! `assets/DejaVuSansMono-LICENSE`), so no system font is needed.

use std::path::Path;
use std::sync::Once;

use ndarray::Array2;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::{InferenceError, Result};

const FONT: &str = "sans-serif";

fn register_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            include_bytes!("../assets/DejaVuSansMono.ttf"),
        )
        .unwrap_or_else(|_| panic!("the bundled font is a valid TrueType file"));
    });
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> InferenceError {
    InferenceError::Input { origin: path.display().to_string(), message: format!("plot: {e}") }
}

/// Draws into a temporary PNG beside `path`, then renames it over `path`.
fn draw_atomically(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(
        DrawingArea<BitMapBackend, plotters::coord::Shift>,
    ) -> std::result::Result<(), String>,
) -> Result<()> {
    register_font();
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("plot.png");
    // Unique, so that two runs writing the same plot never share a temporary file; removed
    // when dropped unless it was renamed.
    let temporary = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial.png")
        .tempfile_in(dir)
        .map_err(|e| InferenceError::io(dir, e))?
        .into_temp_path();
    {
        let root = BitMapBackend::new(&temporary, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
        draw(root.clone()).map_err(|e| plot_error(path, e))?;
        root.present().map_err(|e| plot_error(path, e))?;
    }
    temporary.persist(path).map_err(|e| InferenceError::io(path, e.error))
}

/// pLDDT against residue number, over AlphaFold's bands (>90 very high, 70–90 confident,
/// 50–70 low, <50 very low).
pub fn plddt_png(path: &Path, plddt: &[f64], model: &str) -> Result<()> {
    let residues = plddt.len().max(1) as f64;
    draw_atomically(path, (900, 450), |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("pLDDT — {model}"), (FONT, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(1f64..residues.max(2.0), 0f64..100f64)
            .map_err(|e| e.to_string())?;
        let bands = [
            (90.0, 100.0, RGBColor(0, 83, 214)),
            (70.0, 90.0, RGBColor(101, 203, 243)),
            (50.0, 70.0, RGBColor(255, 219, 19)),
            (0.0, 50.0, RGBColor(255, 125, 69)),
        ];
        for (low, high, color) in bands {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(1.0, low), (residues.max(2.0), high)],
                    color.mix(0.25).filled(),
                )))
                .map_err(|e| e.to_string())?;
        }
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .x_desc("residue")
            .y_desc("pLDDT")
            .label_style((FONT, 14))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(
                plddt.iter().enumerate().map(|(i, &v)| (i as f64 + 1.0, v)),
                BLACK.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// The predicted aligned error matrix: row = aligned residue, column = scored residue; dark
/// green = low error, white = `max_error` or more.
pub fn pae_png(path: &Path, pae: &Array2<f64>, max_error: f64) -> Result<()> {
    let n = pae.nrows().max(1);
    draw_atomically(path, (640, 600), |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption("Predicted aligned error (Å)", (FONT, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0usize..n, n..0usize)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("scored residue")
            .y_desc("aligned residue")
            .label_style((FONT, 14))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(pae.indexed_iter().map(|((i, j), &v)| {
                let t = (v / max_error.max(1e-6)).clamp(0.0, 1.0);
                // From AlphaFold DB's dark green (low error) to white.
                let color = RGBColor(
                    (t * 255.0 + (1.0 - t) * 15.0) as u8,
                    (t * 255.0 + (1.0 - t) * 80.0) as u8,
                    (t * 255.0 + (1.0 - t) * 15.0) as u8,
                );
                Rectangle::new([(j, i), (j + 1, i + 1)], color.filled())
            }))
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// Training loss per step (light) and its moving average over `window` steps (dark), on a
/// logarithmic axis.
pub fn loss_png(path: &Path, steps: &[(usize, f64)], window: usize) -> Result<()> {
    let finite: Vec<(f64, f64)> = steps
        .iter()
        .filter(|(_, l)| l.is_finite() && *l > 0.0)
        .map(|&(s, l)| (s as f64, l))
        .collect();
    let average = moving_average(&finite, window.max(1));
    let (low, high) =
        finite.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &(_, l)| (lo.min(l), hi.max(l)));
    let (low, high) = if finite.is_empty() { (0.1, 1.0) } else { (low * 0.9, high * 1.1) };
    let last = finite.last().map_or(1.0, |&(s, _)| s.max(1.0));
    draw_atomically(path, (900, 450), |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption("training loss", (FONT, 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..last, (low..high).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("loss")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.2}"))
            .label_style((FONT, 14))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(finite.iter().copied(), RGBColor(150, 180, 230)))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(average, RGBColor(0, 60, 160).stroke_width(2)))
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

/// Trailing mean over the last `window` points.
pub fn moving_average(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let mut sum = 0.0;
    points
        .iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            sum += y;
            if i >= window {
                sum -= points[i - window].1;
            }
            (x, sum / (i + 1).min(window) as f64)
        })
        .collect()
}
