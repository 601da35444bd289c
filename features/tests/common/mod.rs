//! Helpers shared by the parity tests: fixture paths and array comparisons.
#![allow(dead_code)]

use std::path::PathBuf;

use ferrofold_features::{FeatureArray, FeatureDict};
use ndarray::ArrayD;

/// `tests/fixtures/` at the workspace root.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

pub fn data(name: &str) -> PathBuf {
    fixtures().join("data").join(name)
}

pub fn reference(name: &str) -> FeatureDict {
    let path = fixtures().join("reference").join(name);
    FeatureDict::load_npz(&path).unwrap_or_else(|e| panic!("{e}"))
}

pub fn array<'a>(dict: &'a FeatureDict, name: &str) -> &'a FeatureArray {
    dict.get(name).unwrap_or_else(|| panic!("feature `{name}` missing"))
}

/// Integer features must be equal exactly (after widening), with the same shape.
pub fn assert_exact(name: &str, ours: &FeatureArray, expected: &FeatureArray) {
    assert_eq!(ours.shape(), expected.shape(), "{name}: shape");
    assert_eq!(ours.to_f64(), expected.to_f64(), "{name}: values");
}

/// Largest absolute difference, with shapes checked.
pub fn max_abs_diff(name: &str, ours: &ArrayD<f64>, expected: &ArrayD<f64>) -> f64 {
    assert_eq!(ours.shape(), expected.shape(), "{name}: shape");
    ours.iter().zip(expected.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
}

pub fn assert_close(name: &str, ours: &ArrayD<f64>, expected: &ArrayD<f64>, tolerance: f64) {
    let diff = max_abs_diff(name, ours, expected);
    assert!(diff <= tolerance, "{name}: max |diff| {diff:e} > {tolerance:e}");
}
