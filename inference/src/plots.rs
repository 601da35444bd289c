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
/// green = low error, white = `max_error` or more, with a colour bar in Å beside it.
/// `chain_starts`: the residues where a chain of a complex begins (after the first), marked by
/// black lines.
pub fn pae_png(
    path: &Path,
    pae: &Array2<f64>,
    max_error: f64,
    chain_starts: &[usize],
) -> Result<()> {
    draw_atomically(path, PAE_SIZE, |root| draw_pae(&root, pae, max_error, chain_starts))
}

const PAE_SIZE: (u32, u32) = (720, 600);
/// Width of the matrix's part of the PAE plot; the colour bar takes the rest.
const PAE_MATRIX_WIDTH: u32 = 620;

/// AlphaFold DB's scale: `t` = error / maximum, from dark green (0) to white (1).
fn pae_color(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    RGBColor(
        (t * 255.0 + (1.0 - t) * 15.0) as u8,
        (t * 255.0 + (1.0 - t) * 80.0) as u8,
        (t * 255.0 + (1.0 - t) * 15.0) as u8,
    )
}

fn draw_pae<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    pae: &Array2<f64>,
    max_error: f64,
    chain_starts: &[usize],
) -> std::result::Result<(), String> {
    let n = pae.nrows().max(1);
    let max_error = max_error.max(1e-6);
    let (matrix_area, bar_area) = root.split_horizontally(PAE_MATRIX_WIDTH);
    let mut chart = ChartBuilder::on(&matrix_area)
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
            Rectangle::new([(j, i), (j + 1, i + 1)], pae_color(v / max_error).filled())
        }))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(chain_starts.iter().flat_map(|&k| {
            [
                PathElement::new(vec![(k, 0), (k, n)], BLACK.stroke_width(2)),
                PathElement::new(vec![(0, k), (n, k)], BLACK.stroke_width(2)),
            ]
        }))
        .map_err(|e| e.to_string())?;

    // The colour bar: the same scale from 0 (bottom) to the maximum error (top), in Å.
    let mut bar = ChartBuilder::on(&bar_area)
        .margin_top(46)
        .margin_bottom(52)
        .margin_right(8)
        .y_label_area_size(40)
        .build_cartesian_2d(0f64..1f64, 0f64..max_error)
        .map_err(|e| e.to_string())?;
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(6)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FONT, 14))
        .draw()
        .map_err(|e| e.to_string())?;
    let steps = 100;
    bar.draw_series((0..steps).map(|k| {
        let (low, high) = (k as f64 / steps as f64, (k + 1) as f64 / steps as f64);
        Rectangle::new(
            [(0.0, low * max_error), (1.0, high * max_error)],
            pae_color((low + high) / 2.0).filled(),
        )
    }))
    .map_err(|e| e.to_string())?;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The colour bar beside the matrix runs from dark green at its foot to white at its top.
    #[test]
    fn the_pae_plot_has_a_colour_bar() {
        register_font();
        let (width, height) = PAE_SIZE;
        let mut pixels = vec![0u8; (width * height * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut pixels, PAE_SIZE).into_drawing_area();
            root.fill(&WHITE).unwrap();
            let pae = Array2::from_shape_fn((20, 20), |(i, j)| i.abs_diff(j) as f64);
            draw_pae(&root, &pae, 31.75, &[]).unwrap();
            root.present().unwrap();
        }
        let pixel = |x: u32, y: u32| {
            let at = ((y * width + x) * 3) as usize;
            (pixels[at], pixels[at + 1], pixels[at + 2])
        };
        // The bar's middle column, near its foot and near its top.
        let x = PAE_MATRIX_WIDTH + 40 + (width - PAE_MATRIX_WIDTH - 48) / 2;
        let foot = pixel(x, height - 60);
        let top = pixel(x, 52);
        assert!(foot.1 < 120 && foot.0 < 60, "foot {foot:?}");
        assert!(top.0 > 230 && top.1 > 230, "top {top:?}");
        // Between them the colour lightens steadily.
        let middle = pixel(x, height / 2);
        assert!(foot.0 < middle.0 && middle.0 < top.0, "{foot:?} {middle:?} {top:?}");
    }

    /// Where chains meet, black lines cross the matrix (none for a single chain).
    #[test]
    fn the_pae_plot_marks_where_chains_meet() {
        register_font();
        let black_pixels = |chain_starts: &[usize]| {
            let mut pixels = vec![0u8; (PAE_SIZE.0 * PAE_SIZE.1 * 3) as usize];
            {
                let root = BitMapBackend::with_buffer(&mut pixels, PAE_SIZE).into_drawing_area();
                root.fill(&WHITE).unwrap();
                let pae = Array2::from_shape_fn((20, 20), |(i, j)| i.abs_diff(j) as f64);
                draw_pae(&root, &pae, 31.75, chain_starts).unwrap();
                root.present().unwrap();
            }
            pixels.chunks(3).filter(|p| p == &[0, 0, 0]).count()
        };
        let (single, complex) = (black_pixels(&[]), black_pixels(&[12]));
        // Two lines across a matrix of about 500 pixels, 2 pixels wide.
        assert!(complex > single + 1500, "{single} black pixels, {complex} with a boundary");
    }
}
