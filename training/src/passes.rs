//! The passes of a training step: the recycling iterations before the last run without
//! gradients (on the inner backend: no graph is recorded) but with dropout, as AlphaFold's
//! training does; the last with gradients.

use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use ferrofold_model::embedders::Recycled;
use ferrofold_model::{AlphaFold, DropoutKey, FeatureBatch, IterationOutput, ModelConfig, Pass};

use crate::error::Result;

/// The network run for training, with dropout drawn from `key`: iterations before the last
/// without gradients (on the inner backend: no graph is recorded), the last with them.
pub fn forward_for_training<B: AutodiffBackend>(
    model: &AlphaFold<B>,
    batch: &FeatureBatch,
    config: &ModelConfig,
    key: DropoutKey,
    device: &B::Device,
) -> Result<IterationOutput<B>> {
    let iterations = batch.num_iterations()?;
    let prev = Recycled::from_inner(recycled_without_gradients(model, batch, config, key, device)?);
    let inputs = batch.iteration::<B>(iterations - 1, config, device)?;
    Ok(model.iteration(&inputs, &prev, &Pass::training(config, key), None))
}

/// What the last iteration of `batch` receives from the ones before it, which run without
/// gradients (on the inner backend: no graph is recorded) but with dropout, as AlphaFold's
/// training does, each iteration with its own masks ([`DropoutKey::recycling_pass`] of `key`).
pub fn recycled_without_gradients<B: AutodiffBackend>(
    model: &AlphaFold<B>,
    batch: &FeatureBatch,
    config: &ModelConfig,
    key: DropoutKey,
    device: &B::Device,
) -> Result<Recycled<B::InnerBackend>> {
    let iterations = batch.num_iterations()?;
    let mut prev = Recycled::<B::InnerBackend>::zeros(batch.num_residues()?, config, device);
    if iterations > 1 {
        let inner = model.valid();
        for i in 0..iterations - 1 {
            let pass = Pass::training(config, key.recycling_pass(i));
            let inputs = batch.iteration::<B::InnerBackend>(i, config, device)?;
            prev = inner.iteration(&inputs, &prev, &pass, None).recycled();
        }
    }
    Ok(prev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use ferrofold_data::TrainingChain;
    use ferrofold_features::crop::CropMode;
    use ferrofold_model::config::DropoutConfig;
    use ferrofold_model::ParamFile;

    use crate::example::{make_example, ExampleConfig};

    #[test]
    fn recycling_passes_apply_dropout_with_their_own_masks() {
        type B = burn::backend::Autodiff<ferrofold_model::CpuF64>;
        let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        let params = ParamFile::read(&fixtures.join("reference/reduced_s0/params_reduced.npz"));
        let recycled = |dropout: bool, seed: u64| {
            let mut config = ModelConfig::preset("reduced").unwrap();
            if !dropout {
                config.dropout = DropoutConfig::none();
            }
            let device = Default::default();
            let model = AlphaFold::<B>::load(params.as_ref().unwrap(), &config, &device).unwrap();
            let data = fixtures.join("data");
            let chain = TrainingChain::read(&data.join("5PTI_A.pdb"), Some(&data)).unwrap();
            let examples = ExampleConfig {
                crop_size: 16,
                crop_mode: CropMode::Contiguous,
                pipeline: config.data_pipeline(0),
                default_resolution: 2.0,
            };
            // Two recycling passes before the gradient pass; the same features every time.
            let example = make_example(&chain, &examples, 2, 1).unwrap();
            let key = DropoutKey(seed);
            let prev = recycled_without_gradients(&model, &example.batch, &config, key, &device);
            crate::losses::host(prev.unwrap().pair)
        };
        assert_eq!(recycled(true, 5), recycled(true, 5));
        assert_ne!(recycled(true, 5), recycled(true, 6));
        assert_eq!(recycled(false, 5), recycled(false, 6));
        assert_ne!(recycled(true, 5), recycled(false, 5));
    }
}
