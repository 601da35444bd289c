//! The gradient of AlphaFold's loss with respect to the network's parameters (burn's autodiff
//! through the whole model) equals central finite differences, for parameters of the structure
//! module's backbone update, the single-representation projection and an Evoformer block.
//! (With one structure-module layer: between layers AlphaFold stops the gradient through the
//! rotations, so that with several the training gradient is deliberately not the derivative.)

use burn::backend::Autodiff;
use burn::module::Param;
use burn::optim::GradientsParams;
use burn::prelude::*;
use ferrofold_data::TrainingChain;
use ferrofold_features::crop::CropMode;
use ferrofold_features::process::PipelineConfig;
use ferrofold_model::host::to_array;
use ferrofold_model::primitives::Linear;
use ferrofold_model::{AlphaFold, CpuF64, ModelConfig};
use ferrofold_training::example::{make_example, ExampleConfig, TrainingExample};
use ferrofold_training::losses::{alphafold_loss, LossConfig, Predictions};
use ferrofold_training::passes::forward_for_training;

type B = Autodiff<CpuF64>;

fn example(config: &ModelConfig) -> TrainingExample {
    let data = ferrofold_tests::data("");
    let chain = TrainingChain::read(&data.join("5PTI_A.pdb"), Some(&data)).unwrap();
    let examples = ExampleConfig {
        crop_size: 20,
        crop_mode: CropMode::Contiguous,
        pipeline: PipelineConfig {
            max_msa_clusters: 6,
            max_extra_msa: 8,
            ..config.data_pipeline(0)
        },
        default_resolution: 2.0,
    };
    make_example(&chain, &examples, 0, 5).unwrap()
}

/// Smooth terms only (no clamping, binning or renaming thresholds that finite differences
/// would straddle): unclamped backbone FAPE, distogram, masked MSA, chi and angle norm.
fn loss(model: &AlphaFold<B>, config: &ModelConfig, ex: &TrainingExample) -> Tensor<B, 1> {
    let device = Default::default();
    let key = ferrofold_model::DropoutKey(ex.seed);
    let out = forward_for_training(model, &ex.batch, config, key, &device).unwrap();
    let loss_config = LossConfig {
        fape_clamped_fraction: 0.0,
        sidechain_weight_fraction: 0.0,
        violation_weight: 0.0,
        predicted_lddt_weight: 0.0,
        experimentally_resolved_weight: 0.0,
        ..LossConfig::alphafold()
    };
    let labels = ex.labels.to_tensors::<B>(&device);
    alphafold_loss(&Predictions::from_iteration(&out), &labels, &ex.msa_targets, &loss_config).total
}

fn value(t: Tensor<B, 1>) -> f64 {
    to_array(t)[[0]]
}

fn check(name: &str, pick: fn(&mut AlphaFold<B>) -> &mut Linear<B>) {
    // One structure-module layer: AlphaFold stops gradients through the backbone rotations
    // between layers, so with more than one the gradient is by design not the derivative.
    let mut config = ModelConfig::preset("reduced").unwrap();
    config.structure_module.num_layer = 1;
    // Finite differences need the same function at every evaluation: no dropout.
    config.dropout = ferrofold_model::config::DropoutConfig::none();
    let ex = example(&config);
    let device = Default::default();
    // The reference's random parameters: unlike AlphaFold's initialisation, they have no
    // zero (final-initialised) layers that would stop gradients from reaching the layers
    // before them.
    let params = ferrofold_tests::reduced_case("params_reduced.npz");
    let mut model =
        AlphaFold::<B>::load(&ferrofold_model::ParamFile::read(&params).unwrap(), &config, &device)
            .unwrap();
    let grads = GradientsParams::from_grads(loss(&model, &config, &ex).backward(), &model);
    let weights = pick(&mut model).weights.clone();
    let grad = to_array(grads.get::<CpuF64, 2>(weights.id).expect("gradient"));
    let values = to_array(weights.val());
    let shape = values.shape().to_vec();
    let h = 1e-6;
    let mut checked = 0;
    for &(i, j) in
        &[(0usize, 0usize), (1, 2), (shape[0] - 1, shape[1] - 1), (shape[0] / 2, shape[1] / 3)]
    {
        let shifted = |delta: f64| {
            let mut m = model.clone();
            let w = pick(&mut m).weights.clone();
            let mut bump = ndarray::ArrayD::<f64>::zeros(shape.clone());
            bump[[i, j]] = delta;
            let new = w.val() + ferrofold_model::host::host_tensor::<B, 2>(bump, &device);
            pick(&mut m).weights = Param::initialized(w.id, new.detach().require_grad());
            value(loss(&m, &config, &ex))
        };
        let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
        let analytic = grad[[i, j]];
        let scale = numeric.abs().max(analytic.abs()).max(1e-6);
        assert!(
            (numeric - analytic).abs() / scale < 1e-4,
            "{name}[{i},{j}]: autodiff {analytic:e}, finite differences {numeric:e}"
        );
        checked += usize::from(analytic.abs() > 1e-9);
    }
    assert!(checked > 0, "{name}: every checked gradient is zero");
}

#[test]
fn backbone_update_gradient() {
    check("affine_update", |m| {
        &mut m
            .structure_module
            .monomer_mut()
            .expect("a monomer network")
            .fold_iteration
            .affine_update
    });
}

#[test]
fn single_projection_gradient() {
    check("single_activations", |m| &mut m.evoformer.single_activations);
}

#[test]
fn evoformer_pair_transition_gradient() {
    check("pair_transition", |m| {
        &mut m.evoformer.evoformer_iteration[0].pair_transition.transition1
    });
}
