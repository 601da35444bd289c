//! The training loop on the `reduced` preset: a run stopped after a checkpoint and resumed
//! reproduces the uninterrupted run exactly (same losses at every step, same final weights),
//! also when the stop left a half-written checkpoint and a cut metrics line behind; diverging
//! steps are skipped and a run of them stops training; validation writes its scores.

use std::path::Path;

use burn::backend::Autodiff;
#[cfg(feature = "wgpu")]
use burn::backend::Wgpu;
use ferrofold_model::CpuF32;
use ferrofold_tests::{data as fixture_data, reduced_case};
use ferrofold_training::trainer::{latest_checkpoint, train, StepReport, ValidationReport};
use ferrofold_training::TrainConfig;
use ferrofold_training::TrainingError;

type B = Autodiff<CpuF32>;
fn config(data: &Path, out: &Path, steps: usize) -> TrainConfig {
    TrainConfig {
        preset: "reduced".into(),
        data: Some(data.to_path_buf()),
        msa_dir: Some(fixture_data("")),
        out: out.to_path_buf(),
        steps,
        seed: 11,
        crop_size: 24,
        max_msa_clusters: 8,
        max_extra_msa: 16,
        max_recycles: 1,
        warmup_steps: 2,
        checkpoint_every: 3,
        keep_checkpoints: 2,
        phase: ferrofold_training::Phase::Finetune,
        default_resolution: 2.0,
        resume: true,
        ..TrainConfig::default()
    }
}

fn metrics(out: &Path) -> Vec<StepReport> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn resumed_run_reproduces_the_uninterrupted_run() {
    let data = tempfile::tempdir().unwrap();
    for key in ["1UBQ_A", "5PTI_A"] {
        std::fs::copy(fixture_data(&format!("{key}.pdb")), data.path().join(format!("{key}.pdb")))
            .unwrap();
    }
    let device = Default::default();

    let whole = tempfile::tempdir().unwrap();
    train::<B>(&config(data.path(), whole.path(), 6), &device, |_| {}).unwrap();
    let expected = metrics(whole.path());
    assert_eq!(expected.len(), 6);
    assert!(expected.iter().all(|r| r.loss.is_finite() && !r.skipped));
    assert!(
        expected.iter().any(|r| r.chain == "1UBQ_A")
            && expected.iter().any(|r| r.chain == "5PTI_A")
    );

    // Stopped after step 4: the checkpoint of step 3 is the last complete one.
    let split = tempfile::tempdir().unwrap();
    train::<B>(&config(data.path(), split.path(), 4), &device, |_| {}).unwrap();
    // A kill while writing step 6's checkpoint and a metrics line would leave these behind.
    let checkpoints = split.path().join("checkpoints");
    std::fs::create_dir_all(checkpoints.join(".step_00000006.tmp")).unwrap();
    std::fs::write(checkpoints.join(".step_00000006.tmp/model.safetensors"), b"partial").unwrap();
    let mut text = std::fs::read_to_string(split.path().join("metrics.jsonl")).unwrap();
    text.push_str("{\"step\": 5, \"loss\": 1.");
    std::fs::write(split.path().join("metrics.jsonl"), text).unwrap();
    // step 4 ended the run, so it has a checkpoint; resume from step 3 instead, as a kill
    // during step 4 would.
    std::fs::write(checkpoints.join("latest"), "step_00000003\n").unwrap();
    assert!(latest_checkpoint(split.path()).unwrap().ends_with("step_00000003"));

    let mut resumed_steps = Vec::new();
    train::<B>(&config(data.path(), split.path(), 6), &device, |r| resumed_steps.push(r.step))
        .unwrap();
    assert_eq!(resumed_steps, vec![4, 5, 6], "continues after the checkpoint");
    let got = metrics(split.path());
    assert_eq!(got.len(), 6);
    for (a, b) in got.iter().zip(&expected) {
        assert_eq!(
            (a.step, &a.chain, a.residues, a.recycles),
            (b.step, &b.chain, b.residues, b.recycles)
        );
        assert_eq!(a.loss, b.loss, "step {}: loss differs after resume", a.step);
        assert_eq!(a.grad_norm, b.grad_norm, "step {}", a.step);
    }
    for name in ["final.safetensors", "final_ema.safetensors"] {
        assert_eq!(
            std::fs::read(whole.path().join(name)).unwrap(),
            std::fs::read(split.path().join(name)).unwrap(),
            "{name}"
        );
    }
    // Only the newest `keep_checkpoints` remain.
    let mut kept: Vec<String> = std::fs::read_dir(&checkpoints)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("step_"))
        .collect();
    kept.sort();
    assert_eq!(kept, vec!["step_00000004", "step_00000006"]);
}

fn one_chain(key: &str) -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    std::fs::copy(fixture_data(&format!("{key}.pdb")), data.path().join(format!("{key}.pdb")))
        .unwrap();
    data
}

#[test]
fn diverging_steps_are_skipped_and_a_run_of_them_stops_training() {
    let data = one_chain("5PTI_A");
    let out = tempfile::tempdir().unwrap();
    // A learning rate of 1e30 sends the weights to infinity on the first update.
    let config = TrainConfig {
        learning_rate: 1e30,
        warmup_steps: 0,
        grad_clip_norm: 1e30,
        max_nonfinite_steps: 3,
        steps: 20,
        ..config(data.path(), out.path(), 20)
    };
    let error = train::<B>(&config, &Default::default(), |_| {}).unwrap_err();
    let TrainingError::NonFinite { count, step } = error else { panic!("{error}") };
    assert_eq!(count, 3);
    let reports = metrics(out.path());
    assert_eq!(reports.len(), step);
    assert!(!reports[0].skipped && reports[0].loss.is_finite());
    let skipped: Vec<bool> = reports.iter().map(|r| r.skipped).collect();
    assert_eq!(&skipped[skipped.len() - 3..], &[true, true, true]);
    assert!(error.to_string().contains("non-finite"), "{error}");
}

#[test]
fn validation_scores_held_out_chains() {
    let data = one_chain("5PTI_A");
    let held_out = one_chain("1UBQ_A");
    let out = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        validation_data: Some(held_out.path().to_path_buf()),
        validate_every: 2,
        validation_max_residues: 40,
        ..config(data.path(), out.path(), 3)
    };
    train::<B>(&config, &Default::default(), |_| {}).unwrap();
    let reports: Vec<ValidationReport> =
        std::fs::read_to_string(out.path().join("validation.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(reports.iter().map(|r| r.step).collect::<Vec<_>>(), vec![2, 3]);
    for r in &reports {
        assert_eq!(r.chains.keys().collect::<Vec<_>>(), vec!["1UBQ_A"]);
        assert!((0.0..=1.0).contains(&r.mean_lddt_ca), "{r:?}");
    }
}

#[test]
#[cfg(feature = "hdf5")]
fn trains_from_a_store_with_cluster_weights_and_filters() {
    use ferrofold_data::store::{build_store, BuildOptions};
    let store = tempfile::tempdir().unwrap();
    build_store(
        &fixture_data(""),
        Some(&fixture_data("")),
        store.path(),
        &BuildOptions { shard_size: 2 },
        |_, _| {},
    )
    .unwrap();
    // 1AKE and 4AKE in one cluster: together they are drawn as often as 1UBQ alone.
    let clusters = store.path().join("clusters.tsv");
    std::fs::write(
        &clusters,
        "1AKE_A\t1AKE_A\n1AKE_A\t4AKE_A\n1UBQ_A\t1UBQ_A\n5PTI_A\t5PTI_A\n1A1F_A\t1A1F_A\n",
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut config = TrainConfig {
        clusters: Some(clusters),
        msa_dir: None,
        ..config(store.path(), out.path(), 2)
    };
    // Leave out everything longer than 100 residues: 1UBQ (76) and 5PTI (58) remain.
    config.filter.max_length = Some(100);
    let mut seen = Vec::new();
    train::<B>(&config, &Default::default(), |r| seen.push(r.chain.clone())).unwrap();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|c| c == "1UBQ_A" || c == "5PTI_A"), "{seen:?}");
    config.filter.max_length = Some(5);
    let error = train::<B>(&config, &Default::default(), |_| {}).unwrap_err().to_string();
    assert!(error.contains("passes the filters"), "{error}");
}

#[test]
fn a_batch_gradient_is_the_mean_of_its_examples_gradients() {
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::prelude::*;
    use ferrofold_features::crop::CropMode;
    use ferrofold_model::{AlphaFold, ModelConfig};
    use ferrofold_training::example::{make_example, ExampleConfig};
    use ferrofold_training::gradients::batch_gradients;
    use ferrofold_training::LossConfig;

    let model_config = ModelConfig::preset("reduced").unwrap();
    let device = Default::default();
    let params = reduced_case("params_reduced.npz");
    let model = AlphaFold::<B>::load(
        &ferrofold_model::ParamFile::read(&params).unwrap(),
        &model_config,
        &device,
    )
    .unwrap();
    let chain =
        ferrofold_data::TrainingChain::read(&fixture_data("5PTI_A.pdb"), Some(&fixture_data("")))
            .unwrap();
    let examples = ExampleConfig {
        crop_size: 24,
        crop_mode: CropMode::Contiguous,
        pipeline: model_config.data_pipeline(0),
        default_resolution: 2.0,
    };
    let a = make_example(&chain, &examples, 0, 1).unwrap();
    let b = make_example(&chain, &examples, 1, 2).unwrap();
    let loss = LossConfig::initial_training();
    let (both, terms) =
        batch_gradients(&model, &[a.clone(), b.clone()], &model_config, &loss, false, &device)
            .unwrap();
    let (only_a, terms_a) =
        batch_gradients(&model, &[a], &model_config, &loss, false, &device).unwrap();
    let (only_b, terms_b) =
        batch_gradients(&model, &[b], &model_config, &loss, false, &device).unwrap();
    assert!((terms["loss"] - (terms_a["loss"] + terms_b["loss"]) / 2.0).abs() < 1e-5);

    struct Compare<'a> {
        grads: [&'a burn::optim::GradientsParams; 3],
        compared: usize,
    }
    impl ModuleVisitor<B> for Compare<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let get = |g: &burn::optim::GradientsParams| {
                g.get::<ferrofold_model::CpuF32, D>(param.id).map(ferrofold_model::host::to_array)
            };
            let (Some(both), Some(a), Some(b)) =
                (get(self.grads[0]), get(self.grads[1]), get(self.grads[2]))
            else {
                return;
            };
            let mean = (&a + &b) / 2.0;
            let scale = mean.iter().fold(1e-6f64, |m, x| m.max(x.abs()));
            let diff = (&both - &mean).iter().fold(0.0f64, |m, x| m.max(x.abs()));
            assert!(diff / scale < 1e-4, "{diff:e} / {scale:e}");
            self.compared += 1;
        }
    }
    let mut compare = Compare { grads: [&both, &only_a, &only_b], compared: 0 };
    model.visit(&mut compare);
    assert!(compare.compared > 50, "{} parameters compared", compare.compared);
}

#[test]
fn distillation_structures_are_mixed_in_at_their_fraction() {
    let data = one_chain("5PTI_A");
    let predicted = one_chain("1UBQ_A");
    let out = tempfile::tempdir().unwrap();
    let mut config = TrainConfig {
        distillation_data: Some(predicted.path().to_path_buf()),
        distillation_fraction: 1.0,
        // 1UBQ's B-factors (10–40) read as pLDDT would mask everything; keep all residues.
        distillation_min_plddt: 0.0,
        ..config(data.path(), out.path(), 3)
    };
    let mut seen = Vec::new();
    train::<B>(&config, &Default::default(), |r| seen.push(r.chain.clone())).unwrap();
    assert_eq!(seen, vec!["1UBQ_A"; 3]);
    // With its pLDDT threshold above every residue, a distillation example has no labels left:
    // the step still runs with finite losses.
    config.distillation_min_plddt = 70.0;
    let out_masked = tempfile::tempdir().unwrap();
    config.out = out_masked.path().to_path_buf();
    let mut losses = Vec::new();
    train::<B>(&config, &Default::default(), |r| losses.push(r.loss)).unwrap();
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    config.distillation_fraction = 0.0;
    let out_none = tempfile::tempdir().unwrap();
    config.out = out_none.path().to_path_buf();
    seen.clear();
    train::<B>(&config, &Default::default(), |r| seen.push(r.chain.clone())).unwrap();
    assert_eq!(seen, vec!["5PTI_A"; 3]);
}

/// Training on the GPU backend (wgpu; Mesa's lavapipe where there is no GPU), `small` preset: a
/// step gives the CPU's loss and gradient norm, and a run resumed from its checkpoint
/// reproduces the uninterrupted one. `cargo test -p ferrofold-training --features wgpu --test
/// training_loop wgpu`.
#[cfg(feature = "wgpu")]
fn gpu_config(data: &Path, out: &Path, steps: usize) -> TrainConfig {
    TrainConfig {
        preset: "small".into(),
        // The initial-training losses: with fine-tuning's violation terms the gradient norm of
        // the first step (1181) differed by 3e-4 between the CPU and wgpu in float32, the loss
        // by 1e-6 (bench/RESULTS.md, "GPUs").
        phase: ferrofold_training::Phase::Initial,
        seed: 5,
        warmup_steps: 1,
        checkpoint_every: 1,
        ..config(data, out, steps)
    }
}

#[cfg(feature = "wgpu")]
fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

#[test]
#[cfg(feature = "wgpu")]
fn training_on_wgpu_equals_the_cpu_and_resumes() {
    let data = tempfile::tempdir().unwrap();
    std::fs::copy(fixture_data("1UBQ_A.pdb"), data.path().join("1UBQ_A.pdb")).unwrap();
    let cpu = tempfile::tempdir().unwrap();
    train::<B>(&gpu_config(data.path(), cpu.path(), 2), &Default::default(), |_| {}).unwrap();
    let gpu = tempfile::tempdir().unwrap();
    let device = Default::default();
    train::<Autodiff<Wgpu>>(&gpu_config(data.path(), gpu.path(), 2), &device, |_| {}).unwrap();
    let (cpu, whole) = (metrics(cpu.path()), metrics(gpu.path()));
    assert_eq!(whole.len(), 2);
    for (ours, expected) in whole.iter().zip(&cpu) {
        eprintln!(
            "step {}: loss {} (cpu {}), gradient norm {} (cpu {})",
            ours.step, ours.loss, expected.loss, ours.grad_norm, expected.grad_norm
        );
        assert!(relative(ours.loss, expected.loss) < 1e-4, "step {} loss", ours.step);
        assert!(relative(ours.grad_norm, expected.grad_norm) < 1e-4, "step {}", ours.step);
    }

    // One step, then resumed from its checkpoint for the second.
    let split = tempfile::tempdir().unwrap();
    train::<Autodiff<Wgpu>>(&gpu_config(data.path(), split.path(), 1), &device, |_| {}).unwrap();
    let mut resumed = Vec::new();
    train::<Autodiff<Wgpu>>(&gpu_config(data.path(), split.path(), 2), &device, |r| {
        resumed.push(r.step)
    })
    .unwrap();
    assert_eq!(resumed, vec![2], "continues after the checkpoint");
    let got = metrics(split.path());
    assert_eq!(got.len(), 2);
    for (a, b) in got.iter().zip(&whole) {
        assert!(relative(a.loss, b.loss) < 1e-6, "step {}: {} vs {}", a.step, a.loss, b.loss);
        assert!(relative(a.grad_norm, b.grad_norm) < 1e-6, "step {}", a.step);
    }
}
