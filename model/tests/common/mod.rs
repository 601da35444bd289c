//! The error measure every parity test uses.
#![allow(dead_code)]

use ndarray::ArrayD;

/// max |ours − reference| / max |reference| over the tensor. An all-zero reference must be
/// matched exactly (the error is then 0 or infinite).
pub fn relative_error(ours: &ArrayD<f64>, reference: &ArrayD<f64>) -> f64 {
    assert_eq!(ours.shape(), reference.shape(), "shape");
    let scale = reference.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let diff = ours.iter().zip(reference).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    match (scale == 0.0, diff == 0.0) {
        (false, _) => diff / scale,
        (true, true) => 0.0,
        (true, false) => f64::INFINITY,
    }
}

/// Prints the error of `name` and fails above `tolerance`.
pub fn check(name: &str, ours: &ArrayD<f64>, reference: &ArrayD<f64>, tolerance: f64) {
    let error = relative_error(ours, reference);
    eprintln!("{name:60} relative error {error:.2e}");
    assert!(error <= tolerance, "{name}: relative error {error:.3e} > {tolerance:.0e}");
}
