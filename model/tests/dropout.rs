//! Dropout acts only while gradients are recorded: the network recording gradients without
//! dropout computes exactly the inference forward pass, and with AlphaFold's rates it computes
//! something else, reproducibly from the dropout seed.

use std::path::PathBuf;

use burn::backend::Autodiff;
use burn::prelude::*;
use ferrofold_model::config::DropoutConfig;
use ferrofold_model::embedders::Recycled;
use ferrofold_model::params::to_array;
use ferrofold_model::primitives::seed_dropout;
use ferrofold_model::{AlphaFold, CpuF64, FeatureBatch, ModelConfig, ParamFile};

type Training = Autodiff<CpuF64>;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// The last layer's positions of one iteration of the reduced network on the fixture batch.
fn positions<B: Backend>(dropout: DropoutConfig, seed: u64) -> ndarray::ArrayD<f64> {
    let mut config = ModelConfig::preset("reduced").unwrap();
    config.dropout = dropout;
    let device = Default::default();
    let params = ParamFile::read(&fixtures().join("reference/reduced_s0/params_reduced.npz"));
    let model = AlphaFold::<B>::load(&params.unwrap(), &config, &device).unwrap();
    let batch = FeatureBatch::read(&fixtures().join("data/reduced_s0_features.npz")).unwrap();
    let inputs = batch.iteration::<B>(0, &config, &device).unwrap();
    let prev = Recycled::zeros(batch.num_residues().unwrap(), &config, &device);
    seed_dropout(seed);
    to_array(model.iteration(&inputs, &prev, None).structure.final_atom_positions)
}

#[test]
fn dropout_only_in_training() {
    let inference = positions::<CpuF64>(DropoutConfig::alphafold(), 0);
    let no_dropout = positions::<Training>(DropoutConfig::none(), 0);
    assert_eq!(no_dropout, inference);

    let dropped = positions::<Training>(DropoutConfig::alphafold(), 0);
    assert!(dropped.iter().all(|v| v.is_finite()));
    let largest = (&dropped - &inference).iter().fold(0f64, |m, d| m.max(d.abs()));
    assert!(largest > 1e-3, "dropout changed the positions by only {largest}");
    assert_eq!(positions::<Training>(DropoutConfig::alphafold(), 0), dropped);
    assert_ne!(positions::<Training>(DropoutConfig::alphafold(), 1), dropped);
}
