//! How a result is compared with its reference.

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

/// Prints the relative error of `name` and fails above `tolerance`.
pub fn check(name: &str, ours: &ArrayD<f64>, reference: &ArrayD<f64>, tolerance: f64) {
    let error = relative_error(ours, reference);
    eprintln!("{name:60} relative error {error:.2e}");
    assert!(error <= tolerance, "{name}: relative error {error:.3e} > {tolerance:.0e}");
}

/// Largest absolute difference, with shapes checked.
pub fn max_abs_diff(name: &str, ours: &ArrayD<f64>, expected: &ArrayD<f64>) -> f64 {
    assert_eq!(ours.shape(), expected.shape(), "{name}: shape");
    ours.iter().zip(expected.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
}

/// Fails when the largest absolute difference exceeds `tolerance`.
pub fn assert_close(name: &str, ours: &ArrayD<f64>, expected: &ArrayD<f64>, tolerance: f64) {
    let diff = max_abs_diff(name, ours, expected);
    assert!(diff <= tolerance, "{name}: max |diff| {diff:e} > {tolerance:e}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_error_scales_by_the_reference_and_zero_must_match_exactly() {
        let reference = ndarray::arr1(&[2.0, -4.0]).into_dyn();
        let ours = ndarray::arr1(&[2.0, -3.0]).into_dyn();
        assert_eq!(relative_error(&ours, &reference), 0.25);
        let zeros = ndarray::arr1(&[0.0, 0.0]).into_dyn();
        assert_eq!(relative_error(&zeros, &zeros), 0.0);
        assert_eq!(relative_error(&ours, &zeros), f64::INFINITY);
    }
}
