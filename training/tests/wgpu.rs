//! Training on the GPU backend (wgpu; Mesa's lavapipe where there is no GPU): a step gives the
//! CPU's loss and gradient norm, and a run stopped after a checkpoint and resumed reproduces
//! the uninterrupted one. `cargo test -p ferrofold-training --features wgpu --test wgpu`.
#![cfg(feature = "wgpu")]

use std::path::Path;

use burn::backend::{Autodiff, Wgpu};
use ferrofold_model::CpuF32;
use ferrofold_tests::data as fixture_data;
use ferrofold_training::trainer::{train, StepReport};
use ferrofold_training::TrainConfig;

fn config(data: &Path, out: &Path, steps: usize) -> TrainConfig {
    TrainConfig {
        preset: "small".into(),
        data: Some(data.to_path_buf()),
        msa_dir: Some(fixture_data("")),
        out: out.to_path_buf(),
        steps,
        seed: 5,
        crop_size: 24,
        max_msa_clusters: 8,
        max_extra_msa: 16,
        max_recycles: 1,
        warmup_steps: 1,
        checkpoint_every: 1,
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

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

#[test]
fn training_on_wgpu_equals_the_cpu_and_resumes() {
    let data = tempfile::tempdir().unwrap();
    std::fs::copy(fixture_data("1UBQ_A.pdb"), data.path().join("1UBQ_A.pdb")).unwrap();
    let cpu = tempfile::tempdir().unwrap();
    train::<Autodiff<CpuF32>>(&config(data.path(), cpu.path(), 2), &Default::default(), |_| {})
        .unwrap();
    let gpu = tempfile::tempdir().unwrap();
    let device = Default::default();
    train::<Autodiff<Wgpu>>(&config(data.path(), gpu.path(), 2), &device, |_| {}).unwrap();
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
    train::<Autodiff<Wgpu>>(&config(data.path(), split.path(), 1), &device, |_| {}).unwrap();
    let mut resumed = Vec::new();
    train::<Autodiff<Wgpu>>(&config(data.path(), split.path(), 2), &device, |r| {
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
