//! The shared test kit of ferrofold's crates: where the fixtures are ([`fixtures`], [`data`];
//! their provenance in `tests/fixtures/README.md`), reference arrays ([`reference`]), how results
//! are compared with references ([`compare`]), the optional external data set of the benchmarks
//! ([`external_data`]), and fuzzing of every parser and loader ([`fuzz`], run by
//! `tests/fuzz.rs` and, for long runs, `src/bin/fuzz.rs`). The cross-crate end-to-end tests
//! live in `tests/tests/`.

use std::path::PathBuf;

use ferrofold_features::{FeatureArray, FeatureDict};

pub mod compare;
pub mod fuzz;

pub use compare::{assert_close, check, max_abs_diff, relative_error};

/// `tests/fixtures/`: every file the tests read, all in the repository.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The workspace's root directory (where `examples/` lies, and `target/reference/`, which the
/// ignored full-size tests generate on demand).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `examples/<name>`: the files the README's commands use.
pub fn example(name: &str) -> PathBuf {
    workspace_root().join("examples").join(name)
}

/// `tests/fixtures/reference/reduced_s0/<name>`: the `reduced` network's reference case
/// (parameters, batch, DeepMind's outputs and activations).
pub fn reduced_case(name: &str) -> PathBuf {
    fixtures().join("reference/reduced_s0").join(name)
}

/// `tests/fixtures/data/<name>`: real chains, alignments and feature batches.
pub fn data(name: &str) -> PathBuf {
    fixtures().join("data").join(name)
}

/// The arrays of `tests/fixtures/reference/<name>` (an `.npz` made by DeepMind's code).
pub fn reference(name: &str) -> FeatureDict {
    let path = fixtures().join("reference").join(name);
    FeatureDict::load_npz(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Array `name` of `dict`; fails the test when it is missing.
pub fn array<'a>(dict: &'a FeatureDict, name: &str) -> &'a FeatureArray {
    dict.get(name).unwrap_or_else(|| panic!("feature `{name}` missing"))
}

/// Integer features must be equal exactly (after widening), with the same shape.
pub fn assert_exact(name: &str, ours: &FeatureArray, expected: &FeatureArray) {
    assert_eq!(ours.shape(), expected.shape(), "{name}: shape");
    assert_eq!(ours.to_f64(), expected.to_f64(), "{name}: values");
}

/// The directory named by `FERROFOLD_DATA`: a data set outside the repository (real structures
/// and their alignments, laid out as `structures/`, `fasta/`, `msa/jackhmmer/`, `index.tsv`)
/// that the benchmarks on real chains read. `None` when unset or not a directory; those
/// benchmarks then say so and skip.
pub fn external_data() -> Option<PathBuf> {
    std::env::var_os("FERROFOLD_DATA").map(PathBuf::from).filter(|p| p.is_dir())
}
