//! Whole-model parity of the full-size `model_1_ptm` network (93M parameters) against DeepMind's
//! code. The parameter files are too large to commit (373 MB); `tools/reference/make_ref.py`
//! regenerates them bit for bit. Ignored by default (minutes of CPU); run with
//!
//! ```sh
//! tools/reference/setup.sh
//! cd tools/reference
//! venv/bin/python make_ref.py --preset model_1_ptm --seed 1 --n_res 32 --n_msa 16 --n_extra 32 \
//!     --n_templates 2 --max_templates 4 --out ../../target/reference/model_1_ptm_s1
//! venv/bin/python make_ref.py --preset model_1_ptm --seed 2 --n_res 64 --n_msa 64 --n_extra 128 \
//!     --n_templates 2 --max_templates 4 --out ../../target/reference/model_1_ptm_64
//! cd ../.. && cargo test --release -p ferrofold-model --test full_parity -- --ignored
//! ```
//!
//! The 32-residue case compares against the outputs committed in
//! `tests/fixtures/reference/model_1_ptm_s1` (float32 and float64 runs of DeepMind's code); the
//! 64-residue case against the outputs make_ref.py writes next to its parameters.

use std::path::Path;

use burn::prelude::*;
use ferrofold_features::feature_dict::FeatureDict;
use ferrofold_model::{AlphaFold, CpuF32, CpuF64, FeatureBatch, ModelConfig, ParamFile};
use ferrofold_tests::workspace_root;
fn compare<B: Backend>(params: &Path, features: &Path, reference: &Path, tolerance: f64) {
    assert!(
        params.exists(),
        "{} missing: generate it with tools/reference/make_ref.py (see the top of this file)",
        params.display()
    );
    let device = B::Device::default();
    let config = ModelConfig::preset("model_1_ptm").unwrap();
    let model = AlphaFold::<B>::load(&ParamFile::read(params).unwrap(), &config, &device).unwrap();
    let batch = FeatureBatch::read(features).unwrap();
    let outputs = model.forward(&batch, &config, &device, |_, _| {}).unwrap().to_outputs(&config);
    let reference = FeatureDict::load_npz(reference).unwrap();
    let mut compared = 0;
    for (name, ours) in &outputs {
        let Some(expected) = reference.get(name) else { continue };
        ferrofold_tests::check(name, ours, &expected.to_f64(), tolerance);
        compared += 1;
    }
    assert!(compared >= 14, "only {compared} outputs compared");
}

#[test]
#[ignore = "needs the 373 MB parameter file from tools/reference/make_ref.py; minutes of CPU"]
fn model_1_ptm_32_residues_float32() {
    let fixtures = workspace_root().join("tests/fixtures/reference/model_1_ptm_s1");
    let params =
        workspace_root().join("target/reference/model_1_ptm_s1/params/params_model_1_ptm.npz");
    compare::<CpuF32>(&params, &fixtures.join("features.npz"), &fixtures.join("outputs.npz"), 1e-4);
}

#[test]
#[ignore = "needs the 373 MB parameter file from tools/reference/make_ref.py; minutes of CPU"]
fn model_1_ptm_32_residues_float64() {
    let fixtures = workspace_root().join("tests/fixtures/reference/model_1_ptm_s1");
    let params =
        workspace_root().join("target/reference/model_1_ptm_s1/params/params_model_1_ptm.npz");
    compare::<CpuF64>(
        &params,
        &fixtures.join("features.npz"),
        &fixtures.join("outputs_f64.npz"),
        1e-6,
    );
}

#[test]
#[ignore = "needs the case made by tools/reference/make_ref.py --n_res 64; minutes of CPU"]
fn model_1_ptm_64_residues_float32() {
    let case = workspace_root().join("target/reference/model_1_ptm_64");
    compare::<CpuF32>(
        &case.join("params/params_model_1_ptm.npz"),
        &case.join("features.npz"),
        &case.join("outputs.npz"),
        1e-4,
    );
}
