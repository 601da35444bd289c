//! `ferrofold score` against the TM-score program (Debian `tm-align`) and biotite's lDDT on a
//! real pair (adenylate kinase, closed 1AKE vs open 4AKE), and by its invariances.

use std::process::Command;

use ferrofold_features::protein::{read_structure, Protein};
use ferrofold_inference::score::score;
use ferrofold_tests::{data, tm_score_program};
use ndarray::s;
#[test]
fn adenylate_kinase_matches_tm_score_program_and_biotite() {
    let (model_path, reference_path) = (data("1AKE_A.pdb"), data("4AKE_A.pdb"));
    let model = read_structure(&model_path, None).unwrap();
    let reference = read_structure(&reference_path, None).unwrap();
    let ours = score(&model, &reference).unwrap();
    assert_eq!(ours.aligned, 214);
    match tm_score_program(&model_path, &reference_path, false) {
        Some(program) => {
            let (tm, gdt, rmsd) = (program.tm_score, program.gdt_ts, program.rmsd);
            assert!((ours.tm_score - tm).abs() < 2e-3, "TM {} vs {tm}", ours.tm_score);
            // Our search tries more superpositions than TMscore's GDT search, so it may find
            // slightly more residues under a cutoff, never fewer.
            assert!(
                ours.gdt_ts >= gdt - 1e-3 && ours.gdt_ts - gdt < 5e-3,
                "GDT {} vs {gdt}",
                ours.gdt_ts
            );
            assert!((ours.rmsd - rmsd).abs() < 5e-3, "RMSD {} vs {rmsd}", ours.rmsd);
        }
        None => eprintln!("TMscore not installed (Debian tm-align): comparison skipped"),
    }
    match std::env::var("FERROFOLD_PYTHON") {
        Ok(python) => {
            let script = "import sys, biotite.structure as bs, biotite.structure.io as bio\n\
                a = bio.load_structure(sys.argv[1]); b = bio.load_structure(sys.argv[2])\n\
                print(bs.lddt(b[b.atom_name == 'CA'], a[a.atom_name == 'CA']))";
            let out = Command::new(python)
                .args(["-c", script])
                .arg(&model_path)
                .arg(&reference_path)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let biotite: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
            assert!((ours.lddt_ca - biotite).abs() < 1e-6, "lDDT {} vs {biotite}", ours.lddt_ca);
        }
        Err(_) => eprintln!("FERROFOLD_PYTHON unset: biotite lDDT check skipped (.ci/run sets it)"),
    }
}

fn transformed(protein: &Protein, angle: f64, shift: [f64; 3]) -> Protein {
    let mut moved = protein.clone();
    let (sin, cos) = angle.sin_cos();
    for i in 0..protein.len() {
        for k in 0..37 {
            let p = protein.atom_positions.slice(s![i, k, ..]);
            let rotated = [cos * p[0] - sin * p[1], sin * p[0] + cos * p[1], p[2]];
            for d in 0..3 {
                moved.atom_positions[[i, k, d]] = rotated[d] + shift[d];
            }
        }
    }
    moved
}

#[test]
fn scores_are_invariant_to_rigid_motion_and_follow_the_alignment() {
    let reference = read_structure(&data("1UBQ_A.pdb"), None).unwrap();
    let same = score(&transformed(&reference, 1.1, [30.0, -4.0, 12.0]), &reference).unwrap();
    assert!((same.tm_score - 1.0).abs() < 1e-9 && (same.gdt_ts - 1.0).abs() < 1e-9);
    assert!((same.lddt_ca - 1.0).abs() < 1e-9 && same.rmsd < 1e-9);

    // Residues 10–19 deleted from the model: the alignment pairs the other 66, and the
    // normalisation stays the reference's 76.
    let keep: Vec<usize> = (0..reference.len()).filter(|i| !(10..20).contains(i)).collect();
    let mut shorter = reference.clone();
    shorter.atom_positions = reference.atom_positions.select(ndarray::Axis(0), &keep);
    shorter.atom_mask = reference.atom_mask.select(ndarray::Axis(0), &keep);
    shorter.aatype = reference.aatype.select(ndarray::Axis(0), &keep);
    shorter.residue_index = reference.residue_index.select(ndarray::Axis(0), &keep);
    shorter.b_factors = reference.b_factors.select(ndarray::Axis(0), &keep);
    shorter.insertion_codes = keep.iter().map(|&i| reference.insertion_codes[i].clone()).collect();
    let partial = score(&shorter, &reference).unwrap();
    assert_eq!((partial.aligned, partial.reference_length), (66, 76));
    assert!((partial.tm_score - 66.0 / 76.0).abs() < 1e-9, "{}", partial.tm_score);
    assert!(partial.rmsd < 1e-9);

    // Noise lowers every score.
    let mut noisy = reference.clone();
    for (n, v) in noisy.atom_positions.iter_mut().enumerate() {
        *v += 1.5 * ((n as f64 * 12.9898).sin() * 43758.5453).fract();
    }
    let worse = score(&noisy, &reference).unwrap();
    assert!(worse.tm_score < 0.99 && worse.lddt_ca < 0.99 && worse.rmsd > 0.3, "{worse:?}");
}
