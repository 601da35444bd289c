//! Seconds per training step (featurize + forward + losses + backward + Adam) on the CPU, at
//! crops of 64, 128 and 256 residues, for the `reduced` and the full `model_1_ptm` network, with
//! peak memory. One real chain (1US0_A, 313 residues, with its jackhmmer MSA from
//! `FERROFOLD_DATA`, see `ferrofold_tests::external_data`), AlphaFold's training MSA depths (128 clusters, 1,024 extra rows), no
//! recycling before the gradient pass. Each case runs in its own process so that its peak
//! resident memory is its own.
//!
//! ```sh
//! cargo bench -p ferrofold-training --bench train_step
//! FERROFOLD_BENCH_STEPS=4 FERROFOLD_BENCH_CASES=reduced:64,model_1_ptm:64 cargo bench ...
//! FERROFOLD_BENCH_STEPS=1 ...   # one step, the warm-up one, timed (for the longest cases)
//! FERROFOLD_BENCH_CASES=model_1_ptm:64:balanced FERROFOLD_BENCH_RESULTS=train_step_balanced \
//!     cargo bench -p ferrofold-training --bench train_step
//! ```
//! A case `preset:crop:balanced` trains with burn's `BalancedCheckpointing` (activations of
//! memory-bound operations recomputed in the backward pass instead of kept), `preset:crop:blocks`
//! with the trunk's blocks recomputed in the backward pass (AlphaFold's gradient
//! checkpointing, `activation_checkpointing = "blocks"`). Writes
//! `bench/results/<FERROFOLD_BENCH_RESULTS or train_step>.json`.

use ferrofold_features::system::peak_rss_mib;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use burn::backend::autodiff::checkpoint::strategy::BalancedCheckpointing;
use burn::backend::Autodiff;
use clap::ValueEnum;
use ferrofold_model::CpuF32;
use ferrofold_training::trainer::train;
use ferrofold_training::{ActivationCheckpointing, TrainConfig};

const CHAIN: &str = "1US0_A";
const DEFAULT_CASES: &str =
    "reduced:64,reduced:128,reduced:256,model_1_ptm:64,model_1_ptm:128,model_1_ptm:256";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn data_set() -> PathBuf {
    ferrofold_tests::external_data().expect("checked in main")
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One case, in this process: prints a JSON line.
fn run_case(preset: &str, crop: usize, checkpointing: &str) {
    let data = tempfile::tempdir().expect("temporary directory");
    let source = data_set().join("structures").join(format!("{CHAIN}.pdb"));
    std::fs::copy(&source, data.path().join(format!("{CHAIN}.pdb"))).expect("copy chain");
    let out = tempfile::tempdir().expect("temporary directory");
    let steps = env_usize("FERROFOLD_BENCH_STEPS", 3).max(1);
    let config = TrainConfig {
        preset: preset.into(),
        data: Some(data.path().to_path_buf()),
        msa_dir: Some(data_set().join("msa/jackhmmer")),
        out: out.path().to_path_buf(),
        steps,
        crop_size: crop,
        max_recycles: 0,
        warmup_steps: 10,
        checkpoint_every: 1_000_000,
        default_resolution: 2.0,
        activation_checkpointing: ActivationCheckpointing::from_str(checkpointing, true)
            .expect("none, balanced or blocks"),
        ..TrainConfig::default()
    };
    let mut seconds = Vec::new();
    let on_step = |r: &ferrofold_training::trainer::StepReport| seconds.push(r.seconds);
    if checkpointing == "balanced" {
        train::<Autodiff<CpuF32, BalancedCheckpointing>>(&config, &Default::default(), on_step)
    } else {
        train::<Autodiff<CpuF32>>(&config, &Default::default(), on_step)
    }
    .expect("training");
    // The first step warms up allocations and caches; with a single step it is the one timed.
    let warmup = usize::from(seconds.len() > 1);
    let mut timed = seconds[warmup..].to_vec();
    timed.sort_by(f64::total_cmp);
    let line = serde_json::json!({
        "preset": preset,
        "crop": crop,
        "checkpointing": checkpointing,
        "seconds_per_step": timed[timed.len() / 2],
        "steps_timed": timed.len(),
        "warmup_step_timed": warmup == 0,
        "peak_rss_mib": peak_rss_mib(),
    });
    println!("{line}");
}

/// The `ferrofold` binary's allocator (inference/src/main.rs), so that figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    ferrofold_features::system::keep_freed_memory();
    if let Ok(case) = std::env::var("FERROFOLD_BENCH_CASE") {
        let parts: Vec<&str> = case.split(':').collect();
        let checkpointing = parts.get(2).copied().unwrap_or("none");
        run_case(parts[0], parts[1].parse().expect("crop size"), checkpointing);
        return;
    }
    if ferrofold_tests::external_data().is_none() {
        eprintln!("FERROFOLD_DATA is not set to the data set (see ferrofold_tests::external_data): skipping");
        return;
    }
    let timeout = Duration::from_secs(env_usize("FERROFOLD_BENCH_TIMEOUT", 1800) as u64);
    let cases = std::env::var("FERROFOLD_BENCH_CASES").unwrap_or_else(|_| DEFAULT_CASES.into());
    let exe = std::env::current_exe().expect("own path");
    let mut results = Vec::new();
    println!("{:<12} {:>5} {:>14} {:>14}", "preset", "crop", "s/step", "peak RSS MiB");
    for case in cases.split(',') {
        let (preset, crop) = case.split_once(':').expect("preset:crop");
        let (crop, _) = crop.split_once(':').unwrap_or((crop, ""));
        let started = Instant::now();
        let mut child = Command::new(&exe)
            .env("FERROFOLD_BENCH_CASE", case)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn case");
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if started.elapsed() > timeout {
                child.kill().ok();
                child.wait().ok();
                break None;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let output = child.wait_with_output().map(|o| o.stdout).unwrap_or_default();
        let parsed = String::from_utf8_lossy(&output)
            .lines()
            .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok());
        let value = match (status, parsed) {
            (Some(s), Some(v)) if s.success() => v,
            (None, _) => serde_json::json!({"preset": preset, "crop": crop.parse::<usize>().ok(),
                "error": format!("timed out after {} s", timeout.as_secs())}),
            (status, _) => serde_json::json!({"preset": preset, "crop": crop.parse::<usize>().ok(),
                "error": format!("failed: {status:?} (out of memory?)")}),
        };
        match (value["seconds_per_step"].as_f64(), value["peak_rss_mib"].as_f64()) {
            (Some(s), Some(m)) => println!("{preset:<12} {crop:>5} {s:>14.2} {m:>14.0}"),
            _ => println!("{preset:<12} {crop:>5} {:>29}", value["error"].as_str().unwrap_or("?")),
        }
        results.push(value);
    }
    let report = serde_json::json!({
        "benchmark": "training step on CPU (Autodiff<NdArray<f32>>), chain 1US0_A",
        "threads": rayon::current_num_threads(),
        "results": results,
    });
    let name = std::env::var("FERROFOLD_BENCH_RESULTS").unwrap_or_else(|_| "train_step".into());
    let path = root().join(format!("bench/results/{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&report).expect("json")).expect("write");
    println!("wrote {}", path.display());
}
