//! Dropout acts only in training passes (those given a dropout key): the network run with a key
//! but without dropout rates computes exactly the inference forward pass, and with AlphaFold's
//! rates it computes something else, reproducibly from the key. Replicas on other threads draw
//! the masks of their own keys (no state is shared between threads).

use burn::backend::Autodiff;
use burn::prelude::*;
use ferrofold_model::config::DropoutConfig;
use ferrofold_model::embedders::Recycled;
use ferrofold_model::host::to_array;
use ferrofold_model::{AlphaFold, CpuF64, DropoutKey, FeatureBatch, ModelConfig, ParamFile, Pass};
use ferrofold_tests::{data, reduced_case};

type Training = Autodiff<CpuF64>;
/// The last layer's positions of one iteration of the reduced network on the fixture batch;
/// a training pass with dropout drawn from `key` when given, else an inference pass.
fn positions<B: Backend>(dropout: DropoutConfig, key: Option<u64>) -> ndarray::ArrayD<f64> {
    let mut config = ModelConfig::preset("reduced").unwrap();
    config.dropout = dropout;
    let device = Default::default();
    let params = ParamFile::read(&reduced_case("params_reduced.npz"));
    let model = AlphaFold::<B>::load(&params.unwrap(), &config, &device).unwrap();
    let batch = FeatureBatch::read(&data("reduced_s0_features.npz")).unwrap();
    let inputs = batch.iteration::<B>(0, &config, &device).unwrap();
    let prev = Recycled::zeros(batch.num_residues().unwrap(), &config, &device);
    let pass = match key {
        Some(key) => Pass::training(&config, DropoutKey(key)),
        None => Pass::inference(&config),
    };
    to_array(model.iteration(&inputs, &prev, &pass, None).structure.final_atom_positions)
}

#[test]
fn dropout_only_in_training() {
    let inference = positions::<CpuF64>(DropoutConfig::alphafold(), None);
    let no_dropout = positions::<Training>(DropoutConfig::none(), Some(0));
    assert_eq!(no_dropout, inference);

    let dropped = positions::<Training>(DropoutConfig::alphafold(), Some(0));
    assert!(dropped.iter().all(|v| v.is_finite()));
    let largest = (&dropped - &inference).iter().fold(0f64, |m, d| m.max(d.abs()));
    assert!(largest > 1e-3, "dropout changed the positions by only {largest}");
    assert_eq!(positions::<Training>(DropoutConfig::alphafold(), Some(0)), dropped);
    assert_ne!(positions::<Training>(DropoutConfig::alphafold(), Some(1)), dropped);
}

#[test]
fn replicas_on_two_threads_draw_the_masks_of_their_own_keys() {
    let alone = |key| positions::<Training>(DropoutConfig::alphafold(), Some(key));
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| alone(5));
        let b = scope.spawn(|| alone(6));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a, b);
    // Each equals its key's pass run alone on this thread: neither thread's draws moved the
    // other's masks.
    assert_eq!(a, alone(5));
    assert_eq!(b, alone(6));
}
