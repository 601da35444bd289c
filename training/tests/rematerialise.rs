//! Recomputing the trunk's blocks in the backward pass (`activation_checkpointing = "blocks"`)
//! gives the gradients of the ordinary backward pass: every parameter's, with dropout on (the
//! recomputed blocks must draw the forward pass's masks) and with a recycling iteration before
//! the gradient pass.

mod common;

use common::{largest_difference, B};
use ferrofold_features::crop::CropMode;
use ferrofold_model::{AlphaFold, ModelConfig, ParamFile};
use ferrofold_tests::fixtures;
use ferrofold_training::example::{make_example, ExampleConfig};
use ferrofold_training::gradients::batch_gradients;
use ferrofold_training::LossConfig;
#[test]
fn rematerialised_blocks_give_the_ordinary_gradients() {
    let config = ModelConfig::preset("reduced").unwrap();
    assert!(config.dropout.msa_row_attention > 0.0, "the check needs dropout on");
    let device = Default::default();
    let params = fixtures().join("reference/reduced_s0/params_reduced.npz");
    let (model, layout) =
        AlphaFold::<B>::load_with_layout(&ParamFile::read(&params).unwrap(), &config, &device)
            .unwrap();
    let data = fixtures().join("data");
    let chain = ferrofold_data::TrainingChain::read(&data.join("5PTI_A.pdb"), Some(&data)).unwrap();
    let examples = ExampleConfig {
        crop_size: 24,
        crop_mode: CropMode::Contiguous,
        pipeline: config.data_pipeline(0),
        default_resolution: 2.0,
    };
    // One recycling iteration before the gradient pass.
    let example = make_example(&chain, &examples, 1, 3).unwrap();
    let loss = LossConfig::alphafold();
    let (plain, plain_terms) =
        batch_gradients(&model, std::slice::from_ref(&example), &config, &loss, false, &device)
            .unwrap();
    let (rematerialised, terms) =
        batch_gradients(&model, std::slice::from_ref(&example), &config, &loss, true, &device)
            .unwrap();
    // The forward values are computed by the same operations in the same order.
    assert_eq!(plain_terms, terms);

    let (worst, name, compared) = largest_difference(&model, &layout, &plain, &rematerialised);
    assert!(worst < 1e-9, "largest relative difference {worst:e} ({name})");
    // Every parameter but the template embedding's (no templates in training examples).
    assert!(compared > layout.len() / 2, "{compared} of {}", layout.len());

    // Dropout is on: another example seed draws other masks and other gradients, so equal
    // gradients above are not a property of any two passes.
    let reseeded = make_example(&chain, &examples, 1, 4).unwrap();
    let (other, _) = batch_gradients(&model, &[reseeded], &config, &loss, true, &device).unwrap();
    let (worst, name, _) = largest_difference(&model, &layout, &plain, &other);
    assert!(worst > 1e-3, "{worst:e} ({name})");
}
