//! Data parallelism: a step's examples shared out over model replicas (one thread each, as
//! burn's multi-device training runs one per device) give the gradient of the same mean loss
//! as one device computing them in turn, and a training run with two replicas follows the run
//! with one.

mod common;

use burn::backend::Autodiff;
use common::{largest_difference, B};
use ferrofold_features::crop::CropMode;
use ferrofold_model::{AlphaFold, CpuF32, ModelConfig, ParamFile};
use ferrofold_tests::{data as fixture_data, reduced_case};
use ferrofold_training::example::{make_example, ExampleConfig};
use ferrofold_training::gradients::{batch_gradients, batch_gradients_on_devices};
use ferrofold_training::trainer::train;
use ferrofold_training::LossConfig;
use ferrofold_training::TrainConfig;
#[test]
fn replicas_compute_the_batch_gradient() {
    let config = ModelConfig::preset("reduced").unwrap();
    let device = Default::default();
    let params = reduced_case("params_reduced.npz");
    let (model, layout) =
        AlphaFold::<B>::load_with_layout(&ParamFile::read(&params).unwrap(), &config, &device)
            .unwrap();
    let examples = ExampleConfig {
        crop_size: 24,
        crop_mode: CropMode::Contiguous,
        pipeline: config.data_pipeline(0),
        default_resolution: 2.0,
    };
    let batch: Vec<_> = ["5PTI_A", "1UBQ_A", "5PTI_A"]
        .iter()
        .enumerate()
        .map(|(k, id)| {
            let chain = ferrofold_data::TrainingChain::read(
                &fixture_data(&format!("{id}.pdb")),
                Some(&fixture_data("")),
            )
            .unwrap();
            make_example(&chain, &examples, k % 2, k as u64 + 1).unwrap()
        })
        .collect();
    let loss = LossConfig::initial_training();
    let (one, one_terms) = batch_gradients(&model, &batch, &config, &loss, false, &device).unwrap();
    let (two, two_terms) =
        batch_gradients_on_devices(&model, &batch, &config, &loss, false, &[device, device])
            .unwrap();
    for (name, value) in &one_terms {
        assert!((value - two_terms[name]).abs() <= 1e-12 * value.abs().max(1.0), "{name}");
    }
    let (largest, name, compared) = largest_difference(&model, &layout, &one, &two);
    assert!(compared > 100, "{compared}");
    // Only the order of the sums differs.
    assert!(largest < 1e-12, "largest relative difference {largest:e} ({name})");
}

#[test]
fn training_with_two_replicas_follows_training_with_one() {
    let data = tempfile::tempdir().unwrap();
    for key in ["1UBQ_A", "5PTI_A"] {
        let name = format!("{key}.pdb");
        std::fs::copy(fixture_data(&name), data.path().join(&name)).unwrap();
    }
    let run = |replicas: usize| {
        let out = tempfile::tempdir().unwrap();
        let config = TrainConfig {
            preset: "reduced".into(),
            data: Some(data.path().to_path_buf()),
            msa_dir: Some(fixture_data("")),
            out: out.path().to_path_buf(),
            steps: 3,
            seed: 5,
            crop_size: 24,
            max_msa_clusters: 8,
            max_extra_msa: 16,
            accumulate: 2,
            data_parallel: replicas,
            default_resolution: 2.0,
            ..TrainConfig::default()
        };
        let mut losses = Vec::new();
        train::<Autodiff<CpuF32>>(&config, &Default::default(), |r| losses.push(r.loss)).unwrap();
        losses
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.len(), 3);
    // The first step sees the same weights; later ones weights that differ by the rounding of
    // the gradient sums.
    assert!((one[0] - two[0]).abs() <= 1e-6 * one[0].abs(), "{one:?} {two:?}");
    for (a, b) in one.iter().zip(&two) {
        assert!((a - b).abs() <= 1e-3 * a.abs(), "{one:?} {two:?}");
    }
}
