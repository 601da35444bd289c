//! Structures read with pdbtbx equal DeepMind's `protein.from_pdb_string`, and the labels
//! derived from them equal `all_atom.atom37_to_frames` / `atom37_to_torsion_angles` /
//! `atom37_to_atom14` (DeepMind's code run in float64, see tools/reference/make_fixtures.py).

use ferrofold_features::labels::{
    atom37_to_frames, atom37_to_torsion_angles, make_atom14_positions,
};
use ferrofold_features::protein::{read_structure, Protein};
use ferrofold_tests::{array, assert_close, data, reference};
use ndarray::{ArrayD, Axis, Dimension};

const KEYS: [&str; 4] = ["1UBQ_A", "5PTI_A", "1A1F_A", "1AKE_A"];

fn check_protein(key: &str, p: &Protein) {
    let r = reference(&format!("protein_{key}.npz"));
    assert_close(
        &format!("{key} aatype"),
        &p.aatype.mapv(f64::from).into_dyn(),
        &array(&r, "aatype").to_f64(),
        0.0,
    );
    assert_close(
        &format!("{key} residue_index"),
        &p.residue_index.mapv(f64::from).into_dyn(),
        &array(&r, "residue_index").to_f64(),
        0.0,
    );
    assert_close(
        &format!("{key} atom_mask"),
        &p.atom_mask.clone().into_dyn(),
        &array(&r, "atom_mask").to_f64(),
        0.0,
    );
    // Biopython stores coordinates as float32: equal to the file's 3 decimals within 1e-5 Å.
    assert_close(
        &format!("{key} atom_positions"),
        &p.atom_positions.clone().into_dyn(),
        &array(&r, "atom_positions").to_f64(),
        1e-5,
    );
    assert_close(
        &format!("{key} b_factors"),
        &p.b_factors.clone().into_dyn(),
        &array(&r, "b_factors").to_f64(),
        1e-5,
    );
}

#[test]
fn pdb_and_mmcif_match_deepmind_protein() {
    for key in KEYS {
        let from_pdb = read_structure(&data(&format!("{key}.pdb")), None).unwrap();
        check_protein(key, &from_pdb);
        let from_cif = read_structure(&data(&format!("{key}.cif")), None).unwrap();
        check_protein(key, &from_cif);
    }
}

/// Compares where `mask` (broadcast over trailing axes) is 1: entries of absent atoms are
/// rounding noise of degenerate geometry in any implementation.
fn assert_close_masked(
    name: &str,
    ours: &ArrayD<f64>,
    expected: &ArrayD<f64>,
    mask: &ArrayD<f64>,
    tol: f64,
) {
    assert_eq!(ours.shape(), expected.shape(), "{name}: shape");
    let mut worst = 0.0f64;
    let mut compared = 0;
    for (index, a) in ours.indexed_iter() {
        let index = index.slice().to_vec();
        let b = expected[index.as_slice()];
        let m = mask[&index[..mask.ndim()]];
        if m > 0.0 {
            worst = worst.max((a - b).abs());
            compared += 1;
        }
    }
    assert!(compared > 0, "{name}: nothing compared");
    assert!(worst <= tol, "{name}: max |diff| {worst:e} > {tol:e}");
}

#[test]
fn labels_match_deepmind_all_atom() {
    for key in KEYS {
        let p = read_structure(&data(&format!("{key}.pdb")), None).unwrap();
        // Use DeepMind's parsed coordinates so that only the label computation is compared.
        let r = reference(&format!("protein_{key}.npz"));
        let pos = array(&r, "atom_positions").to_f64().into_dimensionality().unwrap();
        let mask = p.atom_mask.view();
        let l = reference(&format!("labels_{key}.npz"));
        let frames = atom37_to_frames(p.aatype.view(), pos.view(), mask);
        let exists = array(&l, "rigidgroups_gt_exists").to_f64();
        for (name, ours) in [
            ("rigidgroups_gt_exists", frames.gt_exists.clone().into_dyn()),
            ("rigidgroups_group_exists", frames.group_exists.clone().into_dyn()),
            ("rigidgroups_group_is_ambiguous", frames.group_is_ambiguous.clone().into_dyn()),
        ] {
            assert_close(&format!("{key} {name}"), &ours, &array(&l, name).to_f64(), 0.0);
        }
        assert_close_masked(
            &format!("{key} gt_frames"),
            &frames.gt_frames.into_dyn(),
            &array(&l, "rigidgroups_gt_frames").to_f64(),
            &exists,
            1e-9,
        );
        assert_close_masked(
            &format!("{key} alt_gt_frames"),
            &frames.alt_gt_frames.into_dyn(),
            &array(&l, "rigidgroups_alt_gt_frames").to_f64(),
            &exists,
            1e-9,
        );

        let torsions = atom37_to_torsion_angles(p.aatype.view(), pos.view(), mask);
        let tmask = array(&l, "torsion_angles_mask").to_f64();
        assert_close(&format!("{key} torsion mask"), &torsions.mask.into_dyn(), &tmask, 0.0);
        assert_close_masked(
            &format!("{key} torsion sin/cos"),
            &torsions.sin_cos.into_dyn(),
            &array(&l, "torsion_angles_sin_cos").to_f64(),
            &tmask,
            1e-9,
        );
        assert_close_masked(
            &format!("{key} alt torsion sin/cos"),
            &torsions.alt_sin_cos.into_dyn(),
            &array(&l, "alt_torsion_angles_sin_cos").to_f64(),
            &tmask,
            1e-9,
        );

        let atom14 = make_atom14_positions(p.aatype.view(), pos.view(), mask);
        assert_close(
            &format!("{key} atom14 positions"),
            &atom14.gt_positions.clone().into_dyn(),
            &array(&l, "atom14_positions").to_f64(),
            1e-12,
        );
        assert_close(
            &format!("{key} atom14 mask"),
            &atom14.gt_exists.clone().into_dyn(),
            &array(&l, "atom14_mask").to_f64(),
            0.0,
        );
        // The alternative naming swaps exactly the ambiguous pairs: swapping twice is the identity,
        // non-ambiguous atoms are untouched.
        let ambiguous = atom14.atom_is_ambiguous.sum_axis(Axis(1));
        for i in 0..p.len() {
            for slot in 0..14 {
                if atom14.atom_is_ambiguous[(i, slot)] == 0.0 {
                    assert_eq!(
                        atom14.alt_gt_positions[(i, slot, 0)],
                        atom14.gt_positions[(i, slot, 0)]
                    );
                }
            }
            let has_swap = matches!(p.aatype[i], 3 | 6 | 13 | 18);
            assert_eq!(ambiguous[i] > 0.0, has_swap, "{key} residue {i}");
        }
    }
}
