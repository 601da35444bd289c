//! DockQ of `ferrofold score` against the DockQ program (v2; `tools/reference/make_dockq_fixtures.py`
//! wrote its scores into `tests/fixtures/reference/dockq.json`): three real interfaces (each the
//! other copy of an interface in one crystal structure: haemoglobin α1β1 and α1β2 of 2HHB,
//! aspartate transcarbamoylase's catalytic:regulatory pair of 4AT1) and haemoglobin α1β1 with
//! chain B moved by 10°/2 Å, 30°/6 Å and 60°/15 Å; the whole complex's TM-score against the
//! TM-score program's complex mode (`TMscore -c`, Debian `tm-align`) on the moved models.

use std::process::Command;

use ferrofold_features::protein::{read_structure, Protein};
use ferrofold_inference::dockq::dockq;
use ferrofold_inference::score::score;
use ferrofold_tests::{data, fixtures, no_installed_weights, tm_score_program};

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
fn whole_complex_tm_score_equals_the_tm_score_program() {
    // `TMscore -c` normalises by every chain of the reference file: keep chains A and B only.
    let whole = std::fs::read_to_string(data("complexes/2HHB.pdb")).unwrap();
    let chains_ab: String = whole
        .lines()
        .filter(|line| {
            let atom = ["ATOM", "HETATM", "TER"].iter().any(|r| line.starts_with(r));
            !atom || matches!(line.get(21..22), Some("A" | "B"))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let scratch = tempfile::tempdir().unwrap();
    let reference_path = scratch.path().join("2HHB_AB.pdb");
    std::fs::write(&reference_path, chains_ab).unwrap();
    let reference = Protein::concatenated(&chains("2HHB.pdb", "AB"));
    for moved in 0..3 {
        let file = format!("2HHB_moved_{moved}.pdb");
        let ours = score(&Protein::concatenated(&chains(&file, "AB")), &reference).unwrap();
        assert_eq!(ours.aligned, 287);
        let Some(program) =
            tm_score_program(&data(&format!("complexes/{file}")), &reference_path, true)
        else {
            eprintln!("TMscore not installed (Debian tm-align): comparison skipped");
            return;
        };
        eprintln!(
            "{file}: TM {:.4} ({:.4}), RMSD {:.3} ({:.3}), GDT-TS {:.4} ({:.4})",
            ours.tm_score, program.tm_score, ours.rmsd, program.rmsd, ours.gdt_ts, program.gdt_ts
        );
        // The program prints four decimals; both search superpositions heuristically.
        assert!((ours.tm_score - program.tm_score).abs() < 2e-3, "{file}: TM-score");
        assert!((ours.rmsd - program.rmsd).abs() < 5e-3, "{file}: RMSD");
        // Our GDT search refines each seed at every cutoff, so it may put a few more residues
        // under one, never fewer.
        assert!(
            ours.gdt_ts >= program.gdt_ts - 1e-3 && ours.gdt_ts - program.gdt_ts < 1e-2,
            "{file}: GDT-TS"
        );
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
