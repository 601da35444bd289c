//! The GPU benchmark (`bench/gpu.sh` runs it): the full network's forward pass (random
//! parameters of the preset, a random batch: 512 MSA rows, 5,120 extra rows and 4 templates, as
//! `model_1_ptm` reads them; 3 recycles) at 98, 304, 562 and 914 residues, on each GPU backend
//! of the build, with the fused attention kernel and with burn's operations; then, with the
//! kernel, the longest chain that fits. Each case runs in its own process (an out-of-memory
//! failure ends only its case): the first pass (kernels compiled on first use) and the second
//! are timed, and the memory the backend's pool reserved is read after them.
//!
//! ```sh
//! cargo bench -p ferrofold-model --features wgpu,cuda --bench gpu
//! FERROFOLD_BENCH_RESIDUES=16 FERROFOLD_BENCH_MSA=8 FERROFOLD_BENCH_EXTRA_MSA=16 \
//!     FERROFOLD_BENCH_FIT=0 cargo bench -p ferrofold-model --features wgpu --bench gpu  # smoke
//! ```
//! Environment (defaults in brackets): `FERROFOLD_GPU_DEVICES` [every GPU backend built],
//! `FERROFOLD_BENCH_RESIDUES` [98,304,562,914], `FERROFOLD_BENCH_PRESET` [model_1_ptm],
//! `FERROFOLD_BENCH_MSA` [512], `FERROFOLD_BENCH_EXTRA_MSA` [5120], `FERROFOLD_BENCH_TEMPLATES`
//! [4], `FERROFOLD_BENCH_RECYCLES` [3], `FERROFOLD_BENCH_BLOCKS` [the preset's: Evoformer
//! blocks, and as many extra-MSA blocks up to the preset's], `FERROFOLD_BENCH_PASSES` [2],
//! `FERROFOLD_BENCH_FIT` [1: search the longest chain], `FERROFOLD_BENCH_CHUNK` and
//! `FERROFOLD_BENCH_KEY_CHUNK` [as `predict` picks them: the fastest whose tensors all fit the
//! device's largest buffer; 0: none], `FERROFOLD_BENCH_STAGES` [0; 1: run one iteration stage
//! by stage and report the first stage during which the device failed],
//! `FERROFOLD_BENCH_BUDGET_S` [420: no new case starts after this], `FERROFOLD_BENCH_CASE_S`
//! [240: a case is stopped after this]. Writes `bench/results/gpu_<device>.json`
//! (`FERROFOLD_BENCH_OUT` for another directory).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use burn::prelude::*;
use ferrofold_features::system::peak_rss_mib;
use ferrofold_model::config::AttentionKernel;
use ferrofold_model::embedders::recycling_embedder::Recycled;
use ferrofold_model::kernels::{self, DeviceWatch};
use ferrofold_model::largest_tensor::{largest_tensor, TensorSizes, CHUNK_LADDER};
use ferrofold_model::plan::{Pass, Stage};
use ferrofold_model::trunk::TrunkState;
use ferrofold_model::{AlphaFold, FeatureBatch, ModelConfig, ParamBuilder};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A chunk size from the environment: `None` when unset or 0.
fn env_chunk(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|&c| c > 0)
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn built_devices() -> Vec<&'static str> {
    let mut devices = Vec::new();
    if cfg!(feature = "cuda") {
        devices.push("cuda");
    }
    if cfg!(feature = "wgpu") {
        devices.push("wgpu");
    }
    devices
}

/// One case in this process; prints one JSON line.
fn run_case(device: &str, attention: &str, residues: usize) {
    let kernel = match attention {
        "fused" => AttentionKernel::Fused,
        _ => AttentionKernel::Reference,
    };
    let result = match device {
        #[cfg(feature = "wgpu")]
        "wgpu" => {
            time_forward::<burn::backend::Wgpu>(residues, kernel, &Default::default(), || {
                reserved::<cubecl::wgpu::WgpuRuntime>(&Default::default())
            })
        }
        #[cfg(feature = "cuda")]
        "cuda" => {
            time_forward::<burn::backend::Cuda>(residues, kernel, &Default::default(), || {
                reserved::<cubecl::cuda::CudaRuntime>(&Default::default())
            })
        }
        other => panic!("device {other} is not in this build"),
    };
    println!("{result}");
}

fn reserved<R: cubecl::Runtime>(device: &R::Device) -> Option<u64> {
    R::client(device).memory_usage().ok().map(|usage| usage.bytes_reserved)
}

fn time_forward<B: Backend>(
    residues: usize,
    kernel: AttentionKernel,
    device: &B::Device,
    reserved_bytes: impl Fn() -> Option<u64>,
) -> serde_json::Value {
    let preset: String = env_or("FERROFOLD_BENCH_PRESET", "model_1_ptm".to_string());
    let mut config = ModelConfig::preset(&preset).expect("preset");
    config.attention_kernel = kernel;
    config.num_recycle = env_or("FERROFOLD_BENCH_RECYCLES", 3);
    // Fewer blocks for memory runs on slow devices: the peak is reached inside one block.
    if let Ok(blocks) = std::env::var("FERROFOLD_BENCH_BLOCKS") {
        let blocks: usize = blocks.parse().expect("FERROFOLD_BENCH_BLOCKS");
        config.evoformer_num_block = blocks;
        config.extra_msa_stack_num_block = config.extra_msa_stack_num_block.min(blocks);
    }
    let (msa, extra, templates) = (
        env_or("FERROFOLD_BENCH_MSA", 512),
        env_or("FERROFOLD_BENCH_EXTRA_MSA", 5120),
        env_or("FERROFOLD_BENCH_TEMPLATES", 4),
    );
    // Chunks as `predict` picks them on a GPU: the fastest setting whose every tensor fits the
    // device's largest buffer (`FERROFOLD_BENCH_CHUNK` / `FERROFOLD_BENCH_KEY_CHUNK` fix them).
    let fused = config.attention_kernel == AttentionKernel::Fused;
    let sizes = TensorSizes { residues, msa_rows: msa, extra_rows: extra, templates };
    let limit = kernels::largest_buffer_bytes::<B>(device).unwrap_or(u64::MAX);
    let fixed = ["FERROFOLD_BENCH_CHUNK", "FERROFOLD_BENCH_KEY_CHUNK"]
        .map(|name| std::env::var(name).is_ok())
        .contains(&true);
    for (rows, keys) in CHUNK_LADDER {
        (config.chunk_size, config.key_chunk_size) = if fixed {
            (env_chunk("FERROFOLD_BENCH_CHUNK"), env_chunk("FERROFOLD_BENCH_KEY_CHUNK"))
        } else {
            (rows, keys)
        };
        if fixed || largest_tensor(sizes, &config, fused).bytes <= limit {
            break;
        }
    }
    let largest = largest_tensor(sizes, &config, fused);
    let watch = DeviceWatch::start::<B>(device);
    let model = AlphaFold::<B>::build(&mut ParamBuilder::random(0, device), &config);
    let batch = FeatureBatch {
        features: ferrofold_tests::synthetic_features(
            residues,
            msa,
            extra,
            templates,
            config.num_recycle + 1,
        ),
    };
    if let (Some(watch), true) = (&watch, env_or("FERROFOLD_BENCH_STAGES", 0) == 1) {
        return first_failing_stage(&model, &batch, &config, device, watch);
    }
    let mut seconds = Vec::new();
    for _ in 0..env_or("FERROFOLD_BENCH_PASSES", 2).max(1) {
        let started = Instant::now();
        let out = model.forward(&batch, &config, device, |_, _| {}).expect("forward");
        // Reading the result back waits for the device.
        let positions = out.structure.final_atom_positions.into_data();
        assert!(positions.iter::<f32>().all(f32::is_finite), "non-finite coordinates");
        seconds.push(started.elapsed().as_secs_f64());
        if let Some(failure) = watch.as_ref().and_then(DeviceWatch::failure) {
            // The device thread swallowed a failure: the pass's numbers are garbage.
            return serde_json::json!({ "residues": residues, "failed": failure });
        }
    }
    serde_json::json!({
        "residues": residues, "msa_rows": msa, "extra_msa_rows": extra, "templates": templates,
        "recycles": config.num_recycle, "evoformer_blocks": config.evoformer_num_block,
        "extra_msa_blocks": config.extra_msa_stack_num_block,
        "chunk_size": config.chunk_size, "key_chunk_size": config.key_chunk_size,
        "largest_tensor": largest.what, "largest_tensor_MiB": largest.bytes as f64 / 1048576.0,
        "largest_buffer_MiB": (limit != u64::MAX).then(|| limit as f64 / 1048576.0),
        "first_pass_s": seconds[0], "seconds": seconds.get(1),
        "reserved_device_MiB": reserved_bytes().map(|b| b as f64 / (1024.0 * 1024.0)),
        "peak_host_rss_MiB": peak_rss_mib(),
    })
}

/// One iteration stage by stage, waiting for the device after each: the first stage during
/// which a device thread failed, and why (`FERROFOLD_BENCH_STAGES=1`, a diagnosis).
fn first_failing_stage<B: Backend>(
    model: &AlphaFold<B>,
    batch: &FeatureBatch,
    config: &ModelConfig,
    device: &B::Device,
    watch: &DeviceWatch,
) -> serde_json::Value {
    let inputs = batch.iteration::<B>(0, config, device).expect("inputs");
    let prev = Recycled::zeros(inputs.seq_mask.dims()[0], config, device);
    let pass = Pass::inference(config);
    let trunk = &model.evoformer;
    let masks = trunk.masks(&inputs);
    let report = |stage: Stage, state: &TrunkState<B>| {
        // Reading a value back waits for the stage's work.
        let _ = state.pair.clone().sum().into_scalar();
        let failure = watch.failure()?;
        Some(serde_json::json!({ "failed_stage": format!("{stage:?}"), "failed": failure }))
    };
    let mut state = trunk.embed(&inputs, &prev, &masks, &pass.context(Stage::Embed), None);
    if let Some(failure) = report(Stage::Embed, &state) {
        return failure;
    }
    for stage in trunk.blocks() {
        state = trunk.block(stage, state, &masks, &pass.context(stage));
        if let Some(failure) = report(stage, &state) {
            return failure;
        }
    }
    let out = model.structure_and_heads(state, &inputs, &pass.context(Stage::StructureAndHeads));
    let _ = out.structure.final_atom_positions.sum().into_scalar();
    match watch.failure() {
        Some(failure) => {
            serde_json::json!({ "failed_stage": "StructureAndHeads", "failed": failure })
        }
        None => serde_json::json!({ "residues": batch.num_residues().ok(), "no_failure": true }),
    }
}

/// Runs one case in a child process, stopped after `limit`; its JSON line or why it failed.
fn spawn_case(
    device: &str,
    attention: &str,
    residues: usize,
    limit: Duration,
) -> serde_json::Value {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args(["--case", device, attention, &residues.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn case");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child.stdout.take().map(|mut s| s.read_to_string(&mut stdout));
    child.stderr.take().map(|mut s| s.read_to_string(&mut stderr));
    let parsed = stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok());
    match (status, parsed) {
        (Some(s), Some(value)) if s.success() => value,
        (None, _) => {
            serde_json::json!({ "residues": residues, "failed": format!("stopped after {} s", limit.as_secs()) })
        }
        _ => {
            let reason = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output");
            serde_json::json!({ "residues": residues, "failed": reason })
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--case") {
        run_case(&args[i + 1], &args[i + 2], args[i + 3].parse().expect("residues"));
        return;
    }
    let started = Instant::now();
    let budget = Duration::from_secs(env_or("FERROFOLD_BENCH_BUDGET_S", 420));
    let case_limit = Duration::from_secs(env_or("FERROFOLD_BENCH_CASE_S", 240));
    let sizes: Vec<usize> = env_list("FERROFOLD_BENCH_RESIDUES", "98,304,562,914")
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let built = built_devices().join(",");
    let out_dir = std::env::var("FERROFOLD_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/results"));
    std::fs::create_dir_all(&out_dir).expect("results directory");
    let in_budget = || started.elapsed() < budget;
    for device in env_list("FERROFOLD_GPU_DEVICES", &built) {
        let mut cases = Vec::new();
        for &residues in &sizes {
            for attention in ["fused", "reference"] {
                if !in_budget() {
                    break;
                }
                let mut result = spawn_case(&device, attention, residues, case_limit);
                result["attention"] = attention.into();
                println!("{device} {attention:9} {result}");
                cases.push(result);
            }
        }
        // The longest chain that fits, with the kernel: doubling from the largest size, then
        // one bisection step between the last success and the first failure.
        let mut longest = None;
        if env_or("FERROFOLD_BENCH_FIT", 1) == 1 {
            let mut residues = sizes.iter().copied().max().unwrap_or(914);
            let mut failed_at = None;
            while in_budget() && failed_at.is_none() {
                residues *= 2;
                let result = spawn_case(&device, "fused", residues, case_limit);
                println!("{device} fit      {result}");
                if result.get("failed").is_none() {
                    longest = Some(result);
                } else {
                    failed_at = Some(residues);
                }
            }
            if let (Some(fail), true) = (failed_at, in_budget()) {
                let middle = (fail * 3) / 4;
                let result = spawn_case(&device, "fused", middle, case_limit);
                println!("{device} fit      {result}");
                if result.get("failed").is_none() {
                    longest = Some(result);
                }
            }
        }
        let path = out_dir.join(format!("gpu_{device}.json"));
        let report = serde_json::json!({
            "device": device,
            "preset": env_or("FERROFOLD_BENCH_PRESET", "model_1_ptm".to_string()),
            "cases": cases,
            "longest_that_fits_fused": longest,
            "wall_s": started.elapsed().as_secs_f64(),
        });
        std::fs::write(&path, serde_json::to_string_pretty(&report).expect("json")).expect("write");
        println!("wrote {}", path.display());
    }
}
