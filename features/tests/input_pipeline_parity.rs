//! The deterministic transforms of the input pipeline equal DeepMind's processed batch
//! (`reduced_s0_features.npz` in tests/fixtures/data, the reduced case's batch), slice 0.

use ferrofold_features::input_pipeline::{
    fix_templates_aatype, make_atom14_masks, make_target_feat, make_template_pseudo_beta,
    one_hot_to_index,
};
use ferrofold_features::process::{process_monomer_features, PipelineConfig};
use ferrofold_features::{FeatureArray, FeatureDict};
use ferrofold_tests::{array, assert_close, data};
use ndarray::{ArrayD, Axis, Ix1, Ix2, Ix3, Ix4};

fn first_slice(batch: &FeatureDict, name: &str) -> ArrayD<f64> {
    array(batch, name).to_f64().index_axis(Axis(0), 0).to_owned()
}

fn f32_array(raw: &FeatureDict, name: &str) -> ArrayD<f32> {
    match array(raw, name) {
        FeatureArray::F32(a) => a.clone(),
        other => other.to_f64().mapv(|v| v as f32),
    }
}

#[test]
fn deterministic_transforms_match_deepmind_batch() {
    let raw = FeatureDict::load_npz(&data("reduced_s0_raw_features.npz")).unwrap();
    let batch = FeatureDict::load_npz(&data("reduced_s0_features.npz")).unwrap();
    let aatype_one_hot =
        array(&raw, "aatype").to_f64().mapv(|v| v as f32).into_dimensionality::<Ix2>().unwrap();
    let aatype = one_hot_to_index(aatype_one_hot.view());
    assert_close("aatype", &aatype.mapv(f64::from).into_dyn(), &first_slice(&batch, "aatype"), 0.0);

    let bsr = array(&raw, "between_segment_residues")
        .to_f64()
        .mapv(|v| v as i32)
        .into_dimensionality::<Ix1>()
        .unwrap();
    let target_feat = make_target_feat(aatype.view(), bsr.view()).unwrap();
    assert_close(
        "target_feat",
        &target_feat.mapv(f64::from).into_dyn(),
        &first_slice(&batch, "target_feat"),
        0.0,
    );

    let masks = make_atom14_masks(aatype.view());
    for (name, ours) in [
        ("atom14_atom_exists", masks.atom14_atom_exists.mapv(f64::from).into_dyn()),
        ("residx_atom14_to_atom37", masks.residx_atom14_to_atom37.mapv(f64::from).into_dyn()),
        ("residx_atom37_to_atom14", masks.residx_atom37_to_atom14.mapv(f64::from).into_dyn()),
        ("atom37_atom_exists", masks.atom37_atom_exists.mapv(f64::from).into_dyn()),
    ] {
        assert_close(name, &ours, &first_slice(&batch, name), 0.0);
    }

    let t_one_hot = f32_array(&raw, "template_aatype").into_dimensionality::<Ix3>().unwrap();
    let t_aatype = fix_templates_aatype(t_one_hot.view());
    assert_close(
        "template_aatype",
        &t_aatype.mapv(f64::from).into_dyn(),
        &first_slice(&batch, "template_aatype"),
        0.0,
    );
    let t_pos =
        f32_array(&raw, "template_all_atom_positions").into_dimensionality::<Ix4>().unwrap();
    let t_mask = f32_array(&raw, "template_all_atom_masks").into_dimensionality::<Ix3>().unwrap();
    let (pb, pb_mask) = make_template_pseudo_beta(t_aatype.view(), t_pos.view(), t_mask.view());
    assert_close(
        "template_pseudo_beta",
        &pb.mapv(f64::from).into_dyn(),
        &first_slice(&batch, "template_pseudo_beta"),
        0.0,
    );
    assert_close(
        "template_pseudo_beta_mask",
        &pb_mask.mapv(f64::from).into_dyn(),
        &first_slice(&batch, "template_pseudo_beta_mask"),
        0.0,
    );
}

#[test]
fn templates_pass_through_the_pipeline_as_deepminds_batch() {
    let raw = FeatureDict::load_npz(&data("reduced_s0_raw_features.npz")).unwrap();
    let batch = FeatureDict::load_npz(&data("reduced_s0_features.npz")).unwrap();
    let iterations = array(&batch, "aatype").shape()[0];
    let config = PipelineConfig { num_recycle: iterations - 1, ..PipelineConfig::default() };
    let ours = process_monomer_features(&raw, &config, 0).unwrap();
    for name in [
        "template_aatype",
        "template_all_atom_positions",
        "template_all_atom_masks",
        "template_sum_probs",
        "template_mask",
        "template_pseudo_beta",
        "template_pseudo_beta_mask",
    ] {
        assert_close(name, &array(&ours, name).to_f64(), &array(&batch, name).to_f64(), 0.0);
    }
    // Only the first `max_templates` (the raw features are sorted by sum_probs) are kept.
    let one = PipelineConfig { max_templates: 1, ..config };
    let ours = process_monomer_features(&raw, &one, 0).unwrap();
    let first = array(&batch, "template_all_atom_positions").to_f64();
    let first = first.slice_axis(Axis(1), ndarray::Slice::from(0..1)).to_owned();
    assert_close(
        "first template",
        &array(&ours, "template_all_atom_positions").to_f64(),
        &first,
        0.0,
    );
    assert_eq!(array(&ours, "template_mask").shape(), [iterations, 1]);
}
