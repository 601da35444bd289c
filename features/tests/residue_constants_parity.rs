//! The derived residue-constant arrays equal DeepMind's (`tools/reference/make_fixtures.py`).

use ferrofold_features::residue_constants::{self as rc, derived};
use ferrofold_features::FeatureArray;
use ferrofold_tests::{array, assert_close, assert_exact, reference};
use ndarray::{ArrayD, IxDyn};

fn int_array<const A: usize, const B: usize>(rows: &[[usize; B]; A]) -> FeatureArray {
    let flat: Vec<i64> = rows.iter().flatten().map(|&v| v as i64).collect();
    ArrayD::from_shape_vec(IxDyn(&[A, B]), flat).unwrap().into()
}

fn float_array(shape: &[usize], values: impl IntoIterator<Item = f64>) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(shape), values.into_iter().collect()).unwrap()
}

#[test]
fn masks_and_index_maps_match() {
    let r = reference("residue_constants.npz");
    let d = derived();
    let f = |a: &[[f32; 37]; 21]| float_array(&[21, 37], a.iter().flatten().map(|&v| v as f64));
    assert_close(
        "restype_atom37_mask",
        &f(&d.restype_atom37_mask),
        &array(&r, "restype_atom37_mask").to_f64(),
        0.0,
    );
    assert_close(
        "standard_atom_mask",
        &f(&d.restype_atom37_mask),
        &array(&r, "standard_atom_mask").to_f64(),
        0.0,
    );
    let m14 = float_array(&[21, 14], d.restype_atom14_mask.iter().flatten().map(|&v| v as f64));
    assert_close("restype_atom14_mask", &m14, &array(&r, "restype_atom14_mask").to_f64(), 0.0);
    assert_exact(
        "restype_atom14_to_atom37",
        &int_array(&d.restype_atom14_to_atom37),
        array(&r, "restype_atom14_to_atom37"),
    );
    assert_exact(
        "restype_atom37_to_atom14",
        &int_array(&d.restype_atom37_to_atom14),
        array(&r, "restype_atom37_to_atom14"),
    );
    assert_exact(
        "restype_atom37_to_rigid_group",
        &int_array(&d.restype_atom37_to_rigid_group),
        array(&r, "restype_atom37_to_rigid_group"),
    );
    assert_exact(
        "restype_atom14_to_rigid_group",
        &int_array(&d.restype_atom14_to_rigid_group),
        array(&r, "restype_atom14_to_rigid_group"),
    );
    let chi: Vec<i64> =
        d.chi_angles_atom_indices.iter().flatten().flatten().map(|&v| v as i64).collect();
    let chi: FeatureArray = ArrayD::from_shape_vec(IxDyn(&[20, 4, 4]), chi).unwrap().into();
    assert_exact("chi_angles_atom_indices", &chi, array(&r, "chi_angles_atom_indices"));
    let mask = float_array(&[21, 4], rc::chi_angles_mask().iter().flatten().map(|&v| v as f64));
    assert_close("chi_angles_mask", &mask, &array(&r, "chi_angles_mask").to_f64(), 0.0);
    let periodic =
        float_array(&[21, 4], rc::CHI_PI_PERIODIC.iter().flatten().map(|&v| v as u8 as f64));
    assert_close("chi_pi_periodic", &periodic, &array(&r, "chi_pi_periodic").to_f64(), 0.0);
    let map: Vec<i64> = rc::MAP_HHBLITS_AATYPE_TO_OUR_AATYPE.iter().map(|&v| v as i64).collect();
    assert_exact(
        "map_hhblits",
        &ArrayD::from_shape_vec(IxDyn(&[22]), map).unwrap().into(),
        array(&r, "map_hhblits_aatype_to_our_aatype"),
    );
}

#[test]
fn hhblits_alphabet_matches() {
    let r = reference("residue_constants.npz");
    let expected = array(&r, "hhblits_aa_to_id_ascii").to_f64();
    for c in 0u8..128 {
        let ours = rc::hhblits_aa_to_id(c).map_or(-1.0, f64::from);
        assert_eq!(ours, expected[[c as usize]], "letter {:?}", c as char);
    }
}

#[test]
fn literature_positions_and_default_frames_match() {
    let r = reference("residue_constants.npz");
    let d = derived();
    let pos37 = float_array(
        &[21, 37, 3],
        d.restype_atom37_rigid_group_positions.iter().flatten().flatten().copied(),
    );
    // DeepMind stores these as float32; the table values have three decimals.
    assert_close(
        "restype_atom37_rigid_group_positions",
        &pos37,
        &array(&r, "restype_atom37_rigid_group_positions").to_f64(),
        1e-6,
    );
    let pos14 = float_array(
        &[21, 14, 3],
        d.restype_atom14_rigid_group_positions.iter().flatten().flatten().copied(),
    );
    assert_close(
        "restype_atom14_rigid_group_positions",
        &pos14,
        &array(&r, "restype_atom14_rigid_group_positions").to_f64(),
        1e-6,
    );
    let frames = float_array(
        &[21, 8, 4, 4],
        d.restype_rigid_group_default_frame.iter().flatten().flatten().flatten().copied(),
    );
    assert_close(
        "restype_rigid_group_default_frame",
        &frames,
        &array(&r, "restype_rigid_group_default_frame").to_f64(),
        1e-6,
    );
}
