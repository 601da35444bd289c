//! The shared test kit of ferrofold's crates: where the fixtures are ([`fixtures`], [`data`];
//! their provenance in `tests/fixtures/README.md`), reference arrays ([`reference()`]), how results
//! are compared with references ([`compare`]), the optional external data set of the benchmarks
//! ([`external_data`]), and fuzzing of every parser and loader ([`fuzz`], run by
//! `tests/fuzz.rs` and, for long runs, `src/bin/fuzz.rs`). The cross-crate end-to-end tests
//! live in `tests/tests/`.

use std::path::{Path, PathBuf};

use ferrofold_features::{FeatureArray, FeatureDict};

pub mod compare;
pub mod fuzz;
pub mod http;
pub mod served;
pub mod synthetic;

pub use compare::{assert_close, check, max_abs_diff, relative_error};
pub use synthetic::synthetic_features;

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

/// An hhsuite database (`<dir>/db_{a3m,hhm,cs219}.ff{data,index}`, for hhsearch and hhblits) of
/// single-sequence entries `(name, sequence)`, made with the Debian package hhsuite's tools;
/// returns its prefix `<dir>/db`.
pub fn hhsuite_database(dir: &Path, entries: &[(String, String)]) -> PathBuf {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(args[0]).args(&args[1..]).current_dir(dir).output();
        let out = out.unwrap_or_else(|e| panic!("{}: {e} (Debian package hhsuite)", args[0]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
    };
    for sub in ["a3m", "hhm"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for (name, sequence) in entries {
        std::fs::write(dir.join(format!("a3m/{name}.a3m")), format!(">{name}\n{sequence}\n"))
            .unwrap();
        run(&["hhmake", "-i", &format!("a3m/{name}.a3m"), "-o", &format!("hhm/{name}.hhm")]);
    }
    run(&["ffindex_build", "-s", "db_a3m.ffdata", "db_a3m.ffindex", "a3m/"]);
    run(&["ffindex_build", "-s", "db_hhm.ffdata", "db_hhm.ffindex", "hhm/"]);
    // Debian's `cstranslate` wrapper is broken; its binaries are in /usr/libexec/hhsuite.
    let cstranslate = ["cstranslate-avx2", "cstranslate-sse2"]
        .iter()
        .map(|b| format!("/usr/libexec/hhsuite/{b}"))
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| "cstranslate".into());
    run(&[
        &cstranslate,
        "-f",
        "-x",
        "0.3",
        "-c",
        "4",
        "-I",
        "a3m",
        "-i",
        "db_a3m",
        "-o",
        "db_cs219",
    ]);
    dir.join("db")
}

/// A weights directory that holds nothing: `ferrofold` run with `FERROFOLD_WEIGHTS` set to it
/// sees no installed weights, whatever the machine has installed, so runs without `--params`
/// use the bundled model.
pub fn no_installed_weights() -> PathBuf {
    std::env::temp_dir().join("ferrofold-tests-no-weights")
}

/// Runs `binary` (a test's `env!("CARGO_BIN_EXE_ferrofold")`) with `args`, the weights
/// directory `weights`, and only warnings and errors logged.
pub fn run_ferrofold(binary: &str, weights: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(binary)
        .env("FERROFOLD_WEIGHTS", weights)
        .env("RUST_LOG", "warn")
        .args(args)
        .output()
        .expect("run ferrofold")
}

/// What the TM-score program (Debian `tm-align`) says of a model against a reference.
#[derive(Debug, Clone, Copy)]
pub struct TmScoreProgram {
    pub tm_score: f64,
    pub gdt_ts: f64,
    pub rmsd: f64,
}

/// `TMscore MODEL REFERENCE` (with `complex`, `TMscore -c`: every chain against the reference's
/// chain of the same identifier), or `None` when the program is not installed.
pub fn tm_score_program(model: &Path, reference: &Path, complex: bool) -> Option<TmScoreProgram> {
    let mut command = std::process::Command::new("TMscore");
    if complex {
        command.arg("-c");
    }
    let out = command.arg(model).arg(reference).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |prefix: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("{text}"));
        line[prefix.len()..].split_whitespace().next().unwrap().parse().unwrap()
    };
    Some(TmScoreProgram {
        tm_score: field("TM-score    ="),
        gdt_ts: field("GDT-TS-score="),
        rmsd: field("RMSD of  the common residues="),
    })
}

/// The batch of DeepMind's multimer reference runs (tools/reference/make_multimer_ref.py): a
/// case's merged features drawn `iterations` times as the reference drew them — the cluster
/// centres in order (no Gumbel noise) and nothing BERT-masked — so that the inputs are equal;
/// with `drop_padding_rows`, without the rows that only pad the MSA (as `predict` runs).
pub fn multimer_reference_batch(
    features: &FeatureDict,
    config: &ferrofold_model::ModelConfig,
    iterations: usize,
    drop_padding_rows: bool,
) -> ferrofold_model::FeatureBatch {
    use ferrofold_features::multimer::msa_features::{MaskedMsaConfig, MsaSampling};
    let multimer = config.multimer.as_ref().expect("a multimer preset");
    let sampling = MsaSampling {
        num_msa: multimer.num_msa,
        num_extra_msa: multimer.num_extra_msa,
        masked_msa: MaskedMsaConfig { replace_fraction: 0.0, ..MaskedMsaConfig::default() },
        gumbel_noise: false,
        drop_padding_rows,
    };
    let features = ferrofold_features::multimer::multimer_batch(features, iterations, &sampling, 0)
        .expect("the reference's features");
    ferrofold_model::FeatureBatch { features }
}
