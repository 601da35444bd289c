//! `ferrofold forward` and `ferrofold convert-weights` as a user runs them, on the `reduced`
//! reference case, and the inputs it refuses.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferrofold_features::feature_dict::{FeatureArray, FeatureDict};
use ferrofold_tests::reduced_case;
use ndarray::{ArrayD, Axis};
fn ferrofold(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrofold")).args(args).output().expect("run ferrofold")
}

fn max_relative_error(ours: &FeatureDict, reference: &FeatureDict, name: &str) -> f64 {
    let a = ours.get(name).unwrap_or_else(|| panic!("{name} not written")).to_f64();
    let b = reference.get(name).unwrap().to_f64();
    assert_eq!(a.shape(), b.shape(), "{name}");
    ferrofold_tests::relative_error(&a, &b)
}

#[test]
fn forward_from_npz_converted_safetensors_and_openfold_pt_match_deepmind() {
    let dir = tempfile::tempdir().unwrap();
    let converted = dir.path().join("reduced.safetensors");
    let out = ferrofold(&[
        "convert-weights",
        reduced_case("params_reduced.npz").to_str().unwrap(),
        "--preset",
        "reduced",
        "--output",
        converted.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reference = FeatureDict::load_npz(&reduced_case("outputs.npz")).unwrap();
    // The converted file, with both kinds of chunking, and OpenFold's checkpoint of the same
    // parameters must give the same outputs.
    for (params, chunking) in [
        (reduced_case("params_reduced.npz"), vec![]),
        (converted, vec!["--chunk-size", "5", "--key-chunk-size", "7"]),
        (reduced_case("openfold_reduced.pt"), vec![]),
    ] {
        let output = dir.path().join("out.npz");
        let out = ferrofold(
            &[
                "forward",
                "--features",
                reduced_case("features.npz").to_str().unwrap(),
                "--params",
                params.to_str().unwrap(),
                "--preset",
                "reduced",
                "--output",
                output.to_str().unwrap(),
            ]
            .into_iter()
            .chain(chunking)
            .collect::<Vec<_>>(),
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let ours = FeatureDict::load_npz(&output).unwrap();
        for name in [
            "structure_module/final_atom_positions",
            "predicted_lddt/logits",
            "plddt",
            "ptm",
            "predicted_aligned_error",
        ] {
            let error = max_relative_error(&ours, &reference, name);
            assert!(error < 1e-4, "{name}: {error:e}");
        }
    }
}

#[test]
fn parameters_of_another_preset_are_refused_with_every_mismatch_named() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.npz");
    let out = ferrofold(&[
        "forward",
        "--features",
        reduced_case("features.npz").to_str().unwrap(),
        "--params",
        reduced_case("params_reduced.npz").to_str().unwrap(),
        "--preset",
        "model_1_ptm",
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("params_reduced.npz"), "{stderr}");
    assert!(stderr.contains("do not fit preset model_1_ptm"), "{stderr}");
    assert!(
        stderr.contains("evoformer/preprocess_1d//weights: expected [22, 256], found [22, 16]"),
        "{stderr}"
    );
    assert!(!output.exists(), "no output on failure");
}

#[test]
fn unknown_preset_and_missing_files_are_one_line_errors() {
    let out = ferrofold(&[
        "forward",
        "--features",
        "/nonexistent/batch.npz",
        "--params",
        "/nonexistent/p.npz",
        "--preset",
        "model_9",
        "--output",
        "/tmp/x.npz",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown preset \"model_9\""));
    let out = ferrofold(&[
        "forward",
        "--features",
        "/nonexistent/batch.npz",
        "--params",
        "/nonexistent/p.npz",
        "--preset",
        "reduced",
        "--output",
        "/tmp/x.npz",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/p.npz"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

// Inputs that used to give exit 0 with NaN or wrong outputs (the hardening campaign's "silent
// garbage" classes) are refused with one line naming the file and the problem, and nothing is
// written. Each test edits the reduced case in one way.

/// Writes arrays to an `.npz` as they are (`FeatureDict::save_npz` refuses non-finite values,
/// which these tests need to write).
fn write_npz_unchecked(path: &Path, dict: &FeatureDict) {
    let file = std::fs::File::create(path).unwrap();
    let mut npz = ndarray_npy::NpzWriter::new(file);
    for (name, array) in &dict.arrays {
        match array {
            FeatureArray::I32(a) => npz.add_array(name.as_str(), a),
            FeatureArray::I64(a) => npz.add_array(name.as_str(), a),
            FeatureArray::F32(a) => npz.add_array(name.as_str(), a),
            FeatureArray::F64(a) => npz.add_array(name.as_str(), a),
            FeatureArray::Bool(a) => npz.add_array(name.as_str(), a),
        }
        .unwrap();
    }
    npz.finish().unwrap();
}

/// `forward` on the reduced case with the given features and parameters files and `extra`
/// options, writing `dir/out.npz`; returns the process output and whether that file exists
/// afterwards.
fn forward(dir: &Path, features: &Path, params: &Path, extra: &[&str]) -> (Output, bool) {
    let output = dir.join("out.npz");
    let mut args = vec![
        "forward",
        "--features",
        features.to_str().unwrap(),
        "--params",
        params.to_str().unwrap(),
        "--preset",
        "reduced",
        "--output",
        output.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    (ferrofold(&args), output.exists())
}

/// The reduced case's parameters with `edit` applied to one tensor, written to `dir`.
fn edited_params(dir: &Path, name: &str, edit: impl Fn(&mut ArrayD<f32>)) -> PathBuf {
    let mut params = FeatureDict::load_npz(&reduced_case("params_reduced.npz")).unwrap();
    match params.arrays.get_mut(name) {
        Some(FeatureArray::F32(a)) => edit(a),
        _ => panic!("{name} is not a float32 parameter of the reduced case"),
    }
    let path = dir.join("params_reduced.npz");
    write_npz_unchecked(&path, &params);
    path
}

/// The reduced case's features with `edit` applied, written to `dir`.
fn edited_features(dir: &Path, edit: impl Fn(&mut FeatureDict)) -> PathBuf {
    let mut features = FeatureDict::load_npz(&reduced_case("features.npz")).unwrap();
    edit(&mut features);
    let path = dir.join("features.npz");
    write_npz_unchecked(&path, &features);
    path
}

fn assert_refused(out: &Output, written: bool, expected: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit 0: {stderr}");
    assert!(!written, "an output was written: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for text in expected {
        assert!(stderr.contains(text), "expected {text:?} in: {stderr}");
    }
}

const WEIGHTS: &str = "alphafold/alphafold_iteration/evoformer/preprocess_1d//weights";

#[test]
fn a_nan_in_one_weight_is_refused_naming_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let params = edited_params(dir.path(), WEIGHTS, |a| a[[3, 5]] = f32::NAN);
    let (out, written) = forward(dir.path(), &reduced_case("features.npz"), &params, &[]);
    assert_refused(&out, written, &[params.to_str().unwrap(), WEIGHTS, "1 non-finite value"]);
}

#[test]
fn weights_that_overflow_the_network_give_an_error_not_a_file() {
    let dir = tempfile::tempdir().unwrap();
    // Finite, but every activation they touch overflows float32.
    let params = edited_params(dir.path(), WEIGHTS, |a| a.fill(3e38));
    let (out, written) = forward(dir.path(), &reduced_case("features.npz"), &params, &[]);
    assert_refused(&out, written, &["features.npz", "not finite"]);
}

#[test]
fn a_non_finite_feature_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let features = edited_features(dir.path(), |f| match f.arrays.get_mut("msa_feat") {
        Some(FeatureArray::F32(a)) => a.iter_mut().nth(7).map(|x| *x = f32::INFINITY).unwrap(),
        _ => panic!("msa_feat is float32"),
    });
    let (out, written) = forward(dir.path(), &features, &reduced_case("params_reduced.npz"), &[]);
    assert_refused(&out, written, &["features.npz", "msa_feat", "not finite"]);
}

#[test]
fn a_batch_missing_part_of_the_template_features_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let reference = FeatureDict::load_npz(&reduced_case("features.npz")).unwrap();
    assert!(reference.get("template_aatype").is_some(), "the reduced case has templates");
    let features = edited_features(dir.path(), |f| {
        f.arrays.remove("template_aatype");
    });
    let (out, written) = forward(dir.path(), &features, &reduced_case("params_reduced.npz"), &[]);
    assert_refused(&out, written, &["features.npz", "template_aatype missing"]);
}

#[test]
fn a_batch_without_msa_rows_is_refused_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let features = edited_features(dir.path(), |f| {
        for name in ["msa_feat", "msa_mask", "true_msa", "bert_mask"] {
            if let Some(FeatureArray::F32(a)) = f.arrays.get_mut(name) {
                *a = a.slice_axis(Axis(1), (0..0).into()).to_owned();
            } else if let Some(FeatureArray::I32(a)) = f.arrays.get_mut(name) {
                *a = a.slice_axis(Axis(1), (0..0).into()).to_owned();
            }
        }
    });
    let (out, written) = forward(dir.path(), &features, &reduced_case("params_reduced.npz"), &[]);
    assert_refused(&out, written, &["features.npz", "msa_feat", "no MSA row"]);
}

#[test]
fn a_truncated_batch_and_a_directory_as_parameters_are_named_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(reduced_case("features.npz")).unwrap();
    let cut = dir.path().join("cut.npz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (out, written) = forward(dir.path(), &cut, &reduced_case("params_reduced.npz"), &[]);
    assert_refused(&out, written, &["cut.npz", "not a readable .npz archive"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("feature ``"));
    let params_dir = dir.path().join("params_dir");
    std::fs::create_dir(&params_dir).unwrap();
    let (out, written) = forward(dir.path(), &reduced_case("features.npz"), &params_dir, &[]);
    assert_refused(&out, written, &["params_dir", "a directory, not a parameter file"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().filter(|l| l.starts_with("error")).count(), 1, "{stderr}");
}

/// `forward --device wgpu` (lavapipe without a GPU) matches DeepMind's outputs with the fused
/// kernel and with burn's operations; float64 stays on the CPU.
#[cfg(feature = "wgpu")]
#[test]
fn forward_on_wgpu_matches_deepmind_with_either_attention() {
    let dir = tempfile::tempdir().unwrap();
    let reference = FeatureDict::load_npz(&reduced_case("outputs.npz")).unwrap();
    let output = dir.path().join("out.npz");
    let (features, params) = (reduced_case("features.npz"), reduced_case("params_reduced.npz"));
    for attention in ["fused", "reference"] {
        let extra = ["--device", "wgpu", "--attention", attention];
        let (out, _) = forward(dir.path(), &features, &params, &extra);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let ours = FeatureDict::load_npz(&output).unwrap();
        for name in ["structure_module/final_atom_positions", "plddt", "predicted_aligned_error"] {
            let error = max_relative_error(&ours, &reference, name);
            assert!(error < 1e-4, "{attention}: {name}: {error:e}");
        }
    }
    let float64 = ["--device", "wgpu", "--attention", "fused", "--precision", "f64"];
    let (out, _) = forward(dir.path(), &features, &params, &float64);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CPU only"));
}
