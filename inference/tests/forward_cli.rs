//! `ferrofold forward` and `ferrofold convert-weights` as a user runs them, on the `reduced`
//! reference case.

use std::path::PathBuf;
use std::process::Command;

use ferrofold_features::feature_dict::FeatureDict;

fn case(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/reference/reduced_s0")
        .join(name)
}

fn ferrofold(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ferrofold")).args(args).output().expect("run ferrofold")
}

fn max_relative_error(ours: &FeatureDict, reference: &FeatureDict, name: &str) -> f64 {
    let a = ours.get(name).unwrap_or_else(|| panic!("{name} not written")).to_f64();
    let b = reference.get(name).unwrap().to_f64();
    assert_eq!(a.shape(), b.shape(), "{name}");
    let scale = b.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    a.iter().zip(&b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs())) / scale
}

#[test]
fn forward_from_npz_converted_safetensors_and_openfold_pt_match_deepmind() {
    let dir = tempfile::tempdir().unwrap();
    let converted = dir.path().join("reduced.safetensors");
    let out = ferrofold(&[
        "convert-weights",
        case("params_reduced.npz").to_str().unwrap(),
        "--preset",
        "reduced",
        "--output",
        converted.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reference = FeatureDict::load_npz(&case("outputs.npz")).unwrap();
    // The converted file, with both kinds of chunking, and OpenFold's checkpoint of the same
    // parameters must give the same outputs.
    for (params, chunking) in [
        (case("params_reduced.npz"), vec![]),
        (converted, vec!["--chunk-size", "5", "--key-chunk-size", "7"]),
        (case("openfold_reduced.pt"), vec![]),
    ] {
        let output = dir.path().join("out.npz");
        let out = ferrofold(
            &[
                "forward",
                "--features",
                case("features.npz").to_str().unwrap(),
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
        case("features.npz").to_str().unwrap(),
        "--params",
        case("params_reduced.npz").to_str().unwrap(),
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
