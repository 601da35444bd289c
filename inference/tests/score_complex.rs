//! DockQ of `ferrofold score` against the DockQ program (v2; `tools/reference/make_dockq_fixtures.py`
//! wrote its scores into `tests/fixtures/reference/dockq.json`): three real interfaces (each the
//! other copy of an interface in one crystal structure: haemoglobin α1β1 and α1β2 of 2HHB,
//! aspartate transcarbamoylase's catalytic:regulatory pair of 4AT1) and haemoglobin α1β1 with
//! chain B moved by 10°/2 Å, 30°/6 Å and 60°/15 Å.

use std::process::Command;

use ferrofold_features::protein::read_structure;
use ferrofold_inference::dockq::dockq;
use ferrofold_tests::{data, fixtures, no_installed_weights};

fn chains(file: &str, ids: &str) -> Vec<ferrofold_features::protein::Protein> {
    let path = data(&format!("complexes/{file}"));
    ids.chars().map(|c| read_structure(&path, Some(&c.to_string())).unwrap()).collect()
}

#[test]
fn dockq_equals_the_dockq_program_within_0_01() {
    let text = std::fs::read_to_string(fixtures().join("reference/dockq.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = reference["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for case in cases {
        let field = |name: &str| case[name].as_str().unwrap().to_string();
        let value = |name: &str| case[name].as_f64().unwrap();
        let model = chains(&field("model"), &field("model_chains"));
        let native = chains(&field("native"), &field("native_chains"));
        let ours = dockq([&model[0], &model[1]], [&native[0], &native[1]]).unwrap();
        let what =
            format!("{} {} vs {}", field("model"), field("model_chains"), field("native_chains"));
        eprintln!(
            "{what}: DockQ {:.4} ({}), Fnat {:.4} ({}), iRMSD {:.3} ({}), LRMSD {:.3} ({})",
            ours.dockq,
            value("DockQ"),
            ours.fnat,
            value("fnat"),
            ours.irmsd,
            value("iRMSD"),
            ours.lrmsd,
            value("LRMSD")
        );
        // The program prints three decimals.
        assert!((ours.dockq - value("DockQ")).abs() <= 0.01, "{what}: DockQ");
        assert!((ours.fnat - value("fnat")).abs() <= 0.01, "{what}: Fnat");
        for (name, ours) in [("iRMSD", ours.irmsd), ("LRMSD", ours.lrmsd)] {
            let expected = value(name);
            assert!((ours - expected).abs() <= 0.01 + 0.01 * expected, "{what}: {name} {ours}");
        }
    }
}

#[test]
fn score_prints_dockq_and_each_chains_scores_for_a_complex() {
    let path = data("complexes/2HHB.pdb");
    let path = path.to_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferrofold"))
        .env("FERROFOLD_WEIGHTS", no_installed_weights())
        .args(["score", path, path, "--model-chains", "C,D", "--reference-chains", "A,B", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dockq = value["interface"]["dockq"].as_f64().unwrap();
    assert!((dockq - 0.993).abs() <= 0.01, "{value}");
    assert_eq!(value["chains"].as_array().unwrap().len(), 2);
    assert!(value["complex"]["tm_score"].as_f64().unwrap() > 0.95, "{value}");

    // Chains that do not touch (the two β chains: 6.8 Å apart): one line naming them.
    let out = Command::new(env!("CARGO_BIN_EXE_ferrofold"))
        .env("FERROFOLD_WEIGHTS", no_installed_weights())
        .args(["score", path, path, "--model-chains", "B,D", "--reference-chains", "B,D"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("chains B,D") && stderr.lines().count() == 1, "{stderr}");
}
