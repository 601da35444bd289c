//! A run stopped after a checkpoint and resumed reproduces the uninterrupted run exactly (same
//! losses at every step, same final weights), also when the stop left a half-written
//! checkpoint and a cut metrics line behind.

use std::path::{Path, PathBuf};

use burn::backend::Autodiff;
use ferrofold_model::CpuF32;
use ferrofold_training::trainer::{latest_checkpoint, train, StepReport, TrainConfig};

type B = Autodiff<CpuF32>;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/data")
}

fn config(data: &Path, out: &Path, steps: usize) -> TrainConfig {
    TrainConfig {
        preset: "reduced".into(),
        data: data.to_path_buf(),
        msa_dir: Some(fixtures()),
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
        phase: "finetune".into(),
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
        std::fs::copy(fixtures().join(format!("{key}.pdb")), data.path().join(format!("{key}.pdb")))
            .unwrap();
    }
    let device = Default::default();

    let whole = tempfile::tempdir().unwrap();
    train::<B>(&config(data.path(), whole.path(), 6), &device, |_| {}).unwrap();
    let expected = metrics(whole.path());
    assert_eq!(expected.len(), 6);
    assert!(expected.iter().all(|r| r.loss.is_finite() && !r.skipped));
    assert!(expected.iter().any(|r| r.chain == "1UBQ_A") && expected.iter().any(|r| r.chain == "5PTI_A"));

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
    train::<B>(&config(data.path(), split.path(), 6), &device, |r| resumed_steps.push(r.step)).unwrap();
    assert_eq!(resumed_steps, vec![4, 5, 6], "continues after the checkpoint");
    let got = metrics(split.path());
    assert_eq!(got.len(), 6);
    for (a, b) in got.iter().zip(&expected) {
        assert_eq!((a.step, &a.chain, a.residues, a.recycles), (b.step, &b.chain, b.residues, b.recycles));
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
