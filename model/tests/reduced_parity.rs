//! Parity with DeepMind's AlphaFold2 (alphafold 2.0.0, JAX, CPU) on the `reduced` preset with
//! random weights: `tests/fixtures/reference/reduced_s0` (tests/fixtures/README.md; see its
//! README). Each block is fed the reference's own inputs and must reproduce the reference's
//! activations; the whole model must reproduce every output.
//!
//! Error measure: max |ours − reference| / max |reference| over the tensor.

use burn::prelude::*;
use ferrofold_features::feature_dict::FeatureDict;
use ferrofold_model::config::AttentionKernel;
use ferrofold_model::embedders::Recycled;
use ferrofold_model::evoformer::MsaPair;
use ferrofold_model::host::host_tensor;
use ferrofold_model::host::to_array;
use ferrofold_model::plan::StageContext;
use ferrofold_model::primitives::Chunking;
use ferrofold_model::trunk::TrunkCapture;
use ferrofold_model::Pass;
use ferrofold_model::{AlphaFold, CpuF32, CpuF64, FeatureBatch, ModelConfig, ParamFile};
use ferrofold_model::{ModelError, ParamProblem};
use ferrofold_tests::check;
use ferrofold_tests::reduced_case;
use ndarray::ArrayD;
fn load(name: &str) -> FeatureDict {
    FeatureDict::load_npz(&reduced_case(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn get(dict: &FeatureDict, name: &str) -> ArrayD<f64> {
    dict.get(name).unwrap_or_else(|| panic!("{name} missing from reference")).to_f64()
}

struct Case<B: Backend> {
    model: AlphaFold<B>,
    config: ModelConfig,
    batch: FeatureBatch,
    device: B::Device,
}

fn case<B: Backend>() -> Case<B> {
    let device = B::Device::default();
    let config = ModelConfig::preset("reduced").unwrap();
    // Consuming the file: the parity of every block checks that each tensor reaches its module
    // before the file drops it.
    let params = ParamFile::read(&reduced_case("params_reduced.npz")).unwrap();
    let model = AlphaFold::load_owned(params, &config, &device).unwrap();
    let batch = FeatureBatch::read(&reduced_case("features.npz")).unwrap();
    Case { model, config, batch, device }
}

/// Blocks fed the reference's inputs: float32 within 1e-5 of DeepMind's float32 run, float64
/// within 1e-9 of its float64 run (where the two implementations differ only by rounding).
const BLOCK_TOLERANCE_F32: f64 = 1e-5;
const BLOCK_TOLERANCE_F64: f64 = 1e-9;
const F32: &str = "intermediates.npz";
const F64: &str = "outputs_f64_intermediates.npz";

macro_rules! both_precisions {
    ($($test:ident),*) => {
        mod float32 {
            $(#[test] fn $test() { super::$test::<super::CpuF32>(super::F32, super::BLOCK_TOLERANCE_F32); })*
        }
        mod float64 {
            $(#[test] fn $test() { super::$test::<super::CpuF64>(super::F64, super::BLOCK_TOLERANCE_F64); })*
        }
    };
}

both_precisions!(
    evoformer_block_matches_reference,
    extra_msa_stack_matches_reference,
    embedders_and_template_embedding_match_reference_on_first_iteration,
    structure_module_and_heads_match_reference
);

fn evoformer_block_matches_reference<B: Backend>(intermediates: &str, tolerance: f64) {
    let c = case::<B>();
    let reference = load(intermediates);
    for recycle in 0..4 {
        let inputs = c.batch.iteration::<B>(recycle, &c.config, &c.device).unwrap();
        let (msa_mask, pair_mask) = (inputs.evoformer_msa_mask(true), inputs.pair_mask());
        let key = |s: &str| format!("recycle_{recycle}/evoformer_block0_{s}");
        let act = MsaPair {
            msa: host_tensor(get(&reference, &key("in/msa")), &c.device),
            pair: host_tensor(get(&reference, &key("in/pair")), &c.device),
        };
        let out = c.model.evoformer.evoformer_iteration[0].forward(
            act,
            msa_mask,
            pair_mask,
            &StageContext::inference(Chunking::default()),
        );
        check(&key("out/msa"), &to_array(out.msa), &get(&reference, &key("out/msa")), tolerance);
        check(&key("out/pair"), &to_array(out.pair), &get(&reference, &key("out/pair")), tolerance);
    }
}

#[test]
fn chunked_evoformer_block_equals_unchunked() {
    let c = case::<CpuF32>();
    let reference = load("intermediates.npz");
    let inputs = c.batch.iteration::<CpuF32>(0, &c.config, &c.device).unwrap();
    let (msa_mask, pair_mask) = (inputs.evoformer_msa_mask(true), inputs.pair_mask());
    let act = MsaPair {
        msa: host_tensor(get(&reference, "recycle_0/evoformer_block0_in/msa"), &c.device),
        pair: host_tensor(get(&reference, "recycle_0/evoformer_block0_in/pair"), &c.device),
    };
    let block = &c.model.evoformer.evoformer_iteration[0];
    let chunked =
        |rows, keys| StageContext::inference(Chunking { rows, keys, ..Default::default() });
    let whole =
        block.forward(act.clone(), msa_mask.clone(), pair_mask.clone(), &chunked(None, None));
    let rows =
        block.forward(act.clone(), msa_mask.clone(), pair_mask.clone(), &chunked(Some(3), None));
    // Row chunks change no number; key chunks change the order of the softmax's sums.
    check("row-chunked msa", &to_array(rows.msa), &to_array(whole.msa.clone()), 0.0);
    check("row-chunked pair", &to_array(rows.pair), &to_array(whole.pair.clone()), 0.0);
    let keys = block.forward(act, msa_mask, pair_mask, &chunked(Some(3), Some(5)));
    check("key-chunked msa", &to_array(keys.msa), &to_array(whole.msa), 1e-6);
    check("key-chunked pair", &to_array(keys.pair), &to_array(whole.pair), 1e-6);
}

fn extra_msa_stack_matches_reference<B: Backend>(intermediates: &str, tolerance: f64) {
    let c = case::<B>();
    let reference = load(intermediates);
    for recycle in 0..4 {
        let inputs = c.batch.iteration::<B>(recycle, &c.config, &c.device).unwrap();
        let pair_mask = inputs.pair_mask();
        let key = |s: &str| format!("recycle_{recycle}/{s}");
        let mut act = MsaPair {
            msa: host_tensor(get(&reference, &key("extra_msa_block0_in/msa")), &c.device),
            pair: host_tensor(get(&reference, &key("extra_msa_block0_in/pair")), &c.device),
        };
        for block in &c.model.evoformer.extra_msa_stack {
            act = block.forward(
                act,
                inputs.extra_msa_mask.clone(),
                pair_mask.clone(),
                &StageContext::inference(Chunking::default()),
            );
        }
        check(
            &key("extra_msa_stack_out/pair"),
            &to_array(act.pair),
            &get(&reference, &key("extra_msa_stack_out/pair")),
            tolerance,
        );
    }
}

/// On the first iteration the recycled inputs are zeros, so the trunk's captures up to the
/// Evoformer depend on the embedders alone.
fn embedders_and_template_embedding_match_reference_on_first_iteration<B: Backend>(
    intermediates: &str,
    tolerance: f64,
) {
    let c = case::<B>();
    let reference = load(intermediates);
    let inputs = c.batch.iteration::<B>(0, &c.config, &c.device).unwrap();
    let prev = Recycled::zeros(inputs.seq_mask.dims()[0], &c.config, &c.device);
    let mut capture = TrunkCapture::default();
    c.model.iteration(&inputs, &prev, &Pass::inference(&c.config), Some(&mut capture));
    check(
        "template_embedding_out",
        &to_array(capture.template_embedding_out.unwrap()),
        &get(&reference, "recycle_0/template_embedding_out"),
        tolerance,
    );
    let extra = capture.extra_msa_block0_in.unwrap();
    check(
        "extra_msa_block0_in/msa",
        &to_array(extra.msa),
        &get(&reference, "recycle_0/extra_msa_block0_in/msa"),
        tolerance,
    );
    check(
        "extra_msa_block0_in/pair",
        &to_array(extra.pair),
        &get(&reference, "recycle_0/extra_msa_block0_in/pair"),
        tolerance,
    );
    // MSA rows, then the template torsion rows. DeepMind's float64 run computed template
    // torsions in float32 (tests/fixtures/README.md), so those rows only agree to float32
    // precision there.
    let evo = to_array(capture.evoformer_block0_in.unwrap().msa);
    let expected = get(&reference, "recycle_0/evoformer_block0_in/msa");
    let rows = inputs.msa_mask.dims()[0];
    let split = |a: &ArrayD<f64>| {
        (
            a.slice_axis(ndarray::Axis(0), (..rows).into()).to_owned(),
            a.slice_axis(ndarray::Axis(0), (rows..).into()).to_owned(),
        )
    };
    let ((ours_msa, ours_templates), (expected_msa, expected_templates)) =
        (split(&evo), split(&expected));
    check("evoformer_block0_in/msa (MSA rows)", &ours_msa, &expected_msa, tolerance);
    check(
        "evoformer_block0_in/msa (template rows)",
        &ours_templates,
        &expected_templates,
        BLOCK_TOLERANCE_F32,
    );
}

fn structure_module_and_heads_match_reference<B: Backend>(intermediates: &str, tolerance: f64) {
    let c = case::<B>();
    let reference = load(intermediates);
    for recycle in 0..4 {
        let inputs = c.batch.iteration::<B>(recycle, &c.config, &c.device).unwrap();
        let key = |s: &str| format!("recycle_{recycle}/{s}");
        let single = host_tensor(get(&reference, &key("representations/single")), &c.device);
        let pair = host_tensor(get(&reference, &key("representations/pair")), &c.device);
        let out = c.model.structure_module.forward(
            single.clone(),
            pair.clone(),
            inputs.seq_mask.clone(),
            &inputs.residue_tables,
            &ferrofold_model::primitives::Dropout::off(),
        );
        check(
            &key("representations/structure_module"),
            &to_array(out.act.clone()),
            &get(&reference, &key("representations/structure_module")),
            tolerance,
        );
        check(
            &key("structure_module/final_atom_positions"),
            &to_array(out.final_atom_positions),
            &get(&reference, &key("structure_module/final_atom_positions")),
            tolerance,
        );
        for (name, value) in [
            ("traj", to_array(out.traj.clone())),
            ("act", to_array(out.layer_acts.clone())),
            (
                "sidechains/angles_sin_cos",
                to_array(Tensor::stack::<4>(
                    out.sidechains.iter().map(|s| s.angles_sin_cos.clone()).collect(),
                    0,
                )),
            ),
            (
                "sidechains/atom_pos",
                to_array(Tensor::stack::<4>(
                    out.sidechains.iter().map(|s| s.atom_pos.clone()).collect(),
                    0,
                )),
            ),
            (
                "sidechains/frames",
                to_array(Tensor::stack::<4>(
                    out.sidechains.iter().map(|s| s.frames.clone()).collect(),
                    0,
                )),
            ),
        ] {
            check(
                &key(&format!("structure_module/{name}")),
                &value,
                &get(&reference, &key(&format!("structure_module/{name}"))),
                tolerance,
            );
        }
        let heads = &c.model.heads;
        check(
            &key("distogram/logits"),
            &to_array(heads.distogram.forward(pair.clone())),
            &get(&reference, &key("distogram/logits")),
            tolerance,
        );
        check(
            &key("predicted_aligned_error/logits"),
            &to_array(heads.predicted_aligned_error.as_ref().unwrap().forward(pair)),
            &get(&reference, &key("predicted_aligned_error/logits")),
            tolerance,
        );
        check(
            &key("experimentally_resolved/logits"),
            &to_array(heads.experimentally_resolved.forward(single)),
            &get(&reference, &key("experimentally_resolved/logits")),
            tolerance,
        );
        check(
            &key("predicted_lddt/logits"),
            &to_array(heads.predicted_lddt.forward(out.act)),
            &get(&reference, &key("predicted_lddt/logits")),
            tolerance,
        );
    }
}

fn whole_model<B: Backend>(
    reference_file: &str,
    tolerance: f64,
    confidence: bool,
    attention: AttentionKernel,
) {
    let mut c = case::<B>();
    c.config.attention_kernel = attention;
    let out =
        c.model.forward(&c.batch, &c.config, &c.device, |_, _| {}).unwrap().to_outputs(&c.config);
    let reference = load(reference_file);
    let mut compared = 0;
    for (name, value) in &out {
        if let Some(expected) = reference.get(name) {
            check(name, value, &expected.to_f64(), tolerance);
            compared += 1;
        }
    }
    for name in [
        "structure_module/final_atom_positions",
        "structure_module/final_atom_mask",
        "predicted_lddt/logits",
        "distogram/logits",
        "masked_msa/logits",
        "experimentally_resolved/logits",
        "predicted_aligned_error/logits",
        "representations/msa_first_row",
        "representations/pair",
        "representations/single",
        "representations/structure_module",
    ]
    .into_iter()
    .chain(if confidence {
        vec!["plddt", "ptm", "predicted_aligned_error", "structure_module/traj"]
    } else {
        vec![]
    }) {
        assert!(out.contains_key(name) && reference.get(name).is_some(), "{name} not compared");
    }
    eprintln!("{compared} outputs compared");
}

#[test]
fn whole_model_float32_matches_reference() {
    whole_model::<CpuF32>("outputs.npz", 1e-4, true, AttentionKernel::Reference);
}

#[test]
fn whole_model_float64_matches_float64_reference() {
    whole_model::<CpuF64>("outputs_f64.npz", 1e-6, false, AttentionKernel::Reference);
}

/// The GPU backend (on Mesa's lavapipe where there is no GPU), with our fused attention kernel
/// and with burn's operations: `cargo test -p ferrofold-model --features wgpu --test
/// reduced_parity wgpu`.
#[cfg(feature = "wgpu")]
mod wgpu {
    use super::*;
    use burn::backend::Wgpu;

    #[test]
    fn whole_model_matches_reference_with_fused_attention() {
        whole_model::<Wgpu>("outputs.npz", 1e-4, true, AttentionKernel::Fused);
    }

    #[test]
    fn whole_model_matches_reference_with_reference_attention() {
        whole_model::<Wgpu>("outputs.npz", 1e-4, true, AttentionKernel::Reference);
    }

    #[test]
    fn evoformer_block_matches_reference_with_fused_attention() {
        evoformer_block_matches_reference::<Wgpu>(F32, BLOCK_TOLERANCE_F32);
    }
}

/// A batch without template features (ferrofold's pipeline when there are no template hits)
/// gives AlphaFold's outputs for the same batch with every template masked out (what
/// AlphaFold's padding produces): the template embedding adds zero, the template rows are
/// masked.
#[test]
fn no_template_features_equal_fully_masked_templates() {
    let c = case::<CpuF64>();
    let mut masked = c.batch.clone();
    for name in ["template_mask", "template_all_atom_masks", "template_pseudo_beta_mask"] {
        let zeros = get(&masked.features, name).mapv(|_| 0f32);
        masked.features.insert(name, zeros);
    }
    let mut absent = c.batch.clone();
    absent.features.arrays.retain(|name, _| !name.starts_with("template_"));
    let run = |batch: &FeatureBatch| {
        c.model.forward(batch, &c.config, &c.device, |_, _| {}).unwrap().to_outputs(&c.config)
    };
    let (with_masked, without) = (run(&masked), run(&absent));
    let full = run(&c.batch);
    for (name, value) in &without {
        check(name, value, &with_masked[name], 1e-12);
    }
    // The templates do matter when they are not masked.
    let pair = "representations/pair";
    assert!(ferrofold_tests::relative_error(&full[pair], &without[pair]) > 1e-3);
}

/// Consuming the file keeps the checks: a missing tensor and an unexpected one are both named.
#[test]
fn a_consumed_parameter_file_still_names_missing_and_unexpected_tensors() {
    let config = ModelConfig::preset("reduced").unwrap();
    let mut params = ParamFile::read(&reduced_case("params_reduced.npz")).unwrap();
    let missing = params.tensors.keys().next().unwrap().clone();
    let raw = params.tensors.remove(&missing).unwrap();
    params.tensors.insert("not_alphafold//weights".to_string(), raw);
    let Err(ModelError::ParamMismatch { problems, .. }) =
        AlphaFold::<CpuF32>::load_owned(params, &config, &Default::default())
    else {
        panic!("a file without one of the network's tensors must not load");
    };
    assert!(problems
        .iter()
        .any(|p| matches!(p, ParamProblem::Missing { name, .. } if *name == missing)));
    assert!(problems.iter().any(
        |p| matches!(p, ParamProblem::Unexpected { name, .. } if name == "not_alphafold//weights")
    ));
}
