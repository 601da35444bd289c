//! Forward-pass benchmark of the full `model_1_ptm` network on the CPU: ferrofold against
//! DeepMind's JAX code on the same parameters and batch, in one run, plus peak memory at 512 and
//! 1,024 residues with and without the fused attention.
//!
//! ```sh
//! # cases (parameters + batch), made once by DeepMind's tools (see tools/reference/):
//! cd tools/reference && for n in 64 128; do venv/bin/python make_ref.py --preset model_1_ptm \
//!     --seed 2 --n_res $n --n_msa 64 --n_extra 128 --n_templates 2 --max_templates 4 \
//!     --out ../../target/reference/model_1_ptm_$n; done && cd ../..
//! cargo bench -p ferrofold-model --bench forward              # ndarray backend
//! cargo bench -p ferrofold-model --bench forward --features flex   # + burn's flex backend
//! cargo bench -p ferrofold-model --bench forward -- --memory   # peak RSS at 512 and 1,024 residues
//! cargo bench -p ferrofold-model --bench forward -- --ferrofold-only # A/B: no JAX, nothing written
//! FERROFOLD_BENCH_RESIDUES=64 cargo bench -p ferrofold-model --bench forward -- --block-profile
//!     # one Evoformer block step by step, with each step's matmul GFLOP/s
//! ```
//! Writes `bench/results/forward.json` (or `forward_memory.json`).
//!
//! With `-- --multimer`, the full `model_1_multimer_v3` instead, on the haemoglobin α + β case of
//! model/tests/multimer_parity.rs (64 residues, 3 iterations; its parameters made once by
//! `tools/reference/make_multimer_ref.py 2hhb_ab --full`), against DeepMind's v2.3.2 code
//! compiled by XLA (`make_multimer_ref.py 2hhb_ab --full --time`); writes
//! `bench/results/forward_multimer.json`.

use ferrofold_features::system::peak_rss_mib;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use burn::prelude::*;
use ferrofold_model::config::AttentionKernel;
use ferrofold_model::{AlphaFold, FeatureBatch, ModelConfig, ParamBuilder, ParamFile};

/// Timed runs per backend and case (`FERROFOLD_BENCH_RUNS`, default 1: the 128-residue case takes
/// minutes per run on two cores).
fn runs() -> usize {
    std::env::var("FERROFOLD_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(1)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn time_ferrofold<B: Backend>(case: &Path, config: &ModelConfig) -> f64 {
    let device = B::Device::default();
    let model = {
        let params = ParamFile::read(&case.join("params/params_model_1_ptm.npz")).expect("params");
        AlphaFold::<B>::load_owned(params, config, &device).expect("load")
    };
    let batch = FeatureBatch::read(&case.join("features.npz")).expect("features");
    let times = (0..runs())
        .map(|_| {
            let started = Instant::now();
            let out = model.forward(&batch, config, &device, |_, _| {}).expect("forward");
            let _ = out.structure.final_atom_positions.into_data();
            started.elapsed().as_secs_f64()
        })
        .collect();
    median(times)
}

fn time_jax(case: &Path) -> Option<serde_json::Value> {
    let tools = root().join("tools/reference");
    let python = tools.join("venv/bin/python");
    if !python.exists() {
        eprintln!("{} missing (run tools/reference/setup.sh): no JAX column", python.display());
        return None;
    }
    let out = Command::new(python)
        .arg(tools.join("bench_forward.py"))
        .arg(case)
        .args(["--runs", &runs().to_string()])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("bench_forward.py failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last()?).ok()
}

fn compare() {
    let config = ModelConfig::preset("model_1_ptm").unwrap();
    let mut rows = Vec::new();
    // The same network with burn's attention operations instead of the fused CPU kernel.
    let mut reference_attention = config.clone();
    reference_attention.attention_kernel = AttentionKernel::Reference;
    println!(
        "{:>9} {:>14} {:>14} {:>12} {:>14} {:>12} {:>16} {:>14}",
        "residues",
        "ferrofold_s",
        "ref_attn_s",
        "flex_s",
        "jax_run_s",
        "jax_compile_s",
        "ferrofold/jax",
        "peak_rss_MiB"
    );
    for residues in residue_counts_or(&[64, 128]) {
        let case = root().join(format!("target/reference/model_1_ptm_{residues}"));
        if !case.join("features.npz").exists() {
            eprintln!(
                "{} missing: make it with tools/reference/make_ref.py (see the top of this file)",
                case.display()
            );
            continue;
        }
        if std::env::args().any(|a| a == "--ferrofold-only") {
            // A/B runs of one change: ferrofold's fused path only, nothing written.
            let ours = time_ferrofold::<ferrofold_model::CpuF32>(&case, &config);
            println!("{residues:>9} {ours:>14.2} peak RSS {:.0} MiB", peak_rss_mib());
            continue;
        }
        let jax = time_jax(&case);
        let ours = time_ferrofold::<ferrofold_model::CpuF32>(&case, &config);
        let unfused = time_ferrofold::<ferrofold_model::CpuF32>(&case, &reference_attention);
        #[cfg(feature = "flex")]
        let flex = Some(time_ferrofold::<burn::backend::Flex>(&case, &config));
        #[cfg(not(feature = "flex"))]
        let flex: Option<f64> = None;
        let rss = peak_rss_mib();
        let jax_run = jax.as_ref().and_then(|j| j["run_s"].as_f64());
        let ratio = jax_run.map(|j| ours / j);
        println!(
            "{residues:>9} {ours:>14.2} {unfused:>14.2} {:>12} {:>14} {:>12} {:>16} {rss:>14.0}",
            flex.map_or("-".into(), |f| format!("{f:.2}")),
            jax_run.map_or("-".into(), |j| format!("{j:.2}")),
            jax.as_ref()
                .and_then(|j| j["compile_s"].as_f64())
                .map_or("-".into(), |c| format!("{c:.1}")),
            ratio.map_or("-".into(), |r| format!("{r:.2}")),
        );
        rows.push(serde_json::json!({
            "residues": residues, "recycling_iterations": 4, "msa_rows": 64, "extra_msa_rows": 128,
            "ferrofold_ndarray_s": ours, "ferrofold_reference_attention_s": unfused,
            "ferrofold_flex_s": flex, "jax": jax,
            "ferrofold_over_jax": ratio, "ferrofold_peak_rss_MiB": rss,
        }));
    }
    if rows.is_empty() {
        return;
    }
    write_results(
        if cfg!(feature = "flex") { "forward_flex.json" } else { "forward.json" },
        serde_json::json!({ "preset": "model_1_ptm", "precision": "f32", "runs": runs(), "cases": rows }),
    );
}

/// Peak memory of the full-size network at `FERROFOLD_BENCH_RESIDUES` (default 512 and 1,024
/// residues), with the fused CPU attention and with burn's attention operations, unchunked (no
/// `chunk_size`, no `key_chunk_size`: what the fused attention alone saves). Each case runs in its
/// own process, under an address-space limit of `FERROFOLD_BENCH_MEMORY_LIMIT_GIB` (default 20, on
/// this 24 GiB machine), so that a case that does not fit stops at its first failed allocation
/// instead of pushing the machine into swap or the OOM killer.
fn memory() {
    let limit_gib = std::env::var("FERROFOLD_BENCH_MEMORY_LIMIT_GIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(20);
    let exe = std::env::current_exe().expect("this benchmark's path");
    let mut rows = Vec::new();
    for residues in residue_counts_or(&[512, 1024]) {
        for kernel in ["fused", "reference"] {
            let started = Instant::now();
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "ulimit -v {}; exec \"$0\" --memory-case {residues} {kernel}",
                    limit_gib * 1024 * 1024
                ))
                .arg(&exe)
                .env("RUST_BACKTRACE", "1")
                .output()
                .expect("run the case");
            let seconds = started.elapsed().as_secs_f64();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let row = match stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()) {
                Some(row) if out.status.success() => row,
                _ => {
                    // The failed allocation's message, and the innermost frame of the network's
                    // blocks (not its primitives) in the backtrace: where it happened.
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    let why = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
                    let at = stderr
                        .lines()
                        .filter_map(|l| l.split_once("ferrofold_model::").map(|(_, f)| f))
                        .find(|f| !f.starts_with("primitives::"))
                        .unwrap_or("");
                    serde_json::json!({ "residues": residues, "attention": kernel,
                        "fits_in_GiB": false, "address_space_limit_GiB": limit_gib,
                        "seconds_until_stopped": seconds, "stopped_by": why, "in": at })
                }
            };
            println!("{row}");
            rows.push(row);
        }
    }
    write_results(
        "forward_memory.json",
        serde_json::json!({ "preset": "model_1_ptm", "msa_rows": 512, "extra_msa_rows": 1024,
            "templates": 4, "iterations": 1, "chunk_size": null, "key_chunk_size": null,
            "evoformer_blocks_built": 2, "extra_msa_blocks_built": 1, "cases": rows }),
    );
}

/// One case of [`memory`], in this process: prints a JSON line. The peak is reached inside one
/// block (no activation outlives its block at inference), so the Evoformer and extra-MSA stacks
/// are cut to 2 and 1 blocks to keep the run to minutes; the other 46 + 3 blocks would add only
/// their parameters (about 330 MiB in float32), which the output adds.
fn memory_case(residues: usize, kernel: &str) {
    let (msa, extra) = (512, 1024);
    let mut config = ModelConfig::preset("model_1_ptm").unwrap();
    config.attention_kernel =
        if kernel == "fused" { AttentionKernel::Fused } else { AttentionKernel::Reference };
    let full_blocks = (config.evoformer_num_block, config.extra_msa_stack_num_block);
    config.evoformer_num_block = 2;
    config.extra_msa_stack_num_block = 1;
    let device = Default::default();
    let mut builder = ParamBuilder::<ferrofold_model::CpuF32>::random(0, &device);
    let model = AlphaFold::build(&mut builder, &config);
    drop(builder);
    // Parameters per block of each stack, from one built block.
    let missing_parameters = (full_blocks.0 - 2)
        * model.evoformer.evoformer_iteration[0].num_params()
        + (full_blocks.1 - 1) * model.evoformer.extra_msa_stack[0].num_params();
    let missing_parameter_mib = missing_parameters as f64 * 4.0 / (1024.0 * 1024.0);
    let batch =
        FeatureBatch { features: ferrofold_tests::synthetic_features(residues, msa, extra, 4, 1) };
    let started = Instant::now();
    let out = model.forward(&batch, &config, &device, |_, _| {}).expect("forward");
    let _ = out.structure.final_atom_positions.into_data();
    let seconds = started.elapsed().as_secs_f64();
    let rss = peak_rss_mib();
    println!(
        "{}",
        serde_json::json!({ "residues": residues, "attention": kernel, "fits_in_GiB": true,
            "seconds": seconds, "peak_rss_MiB": rss,
            "parameters_of_blocks_not_built_MiB": missing_parameter_mib,
            "peak_rss_full_depth_MiB": rss + missing_parameter_mib })
    );
}

fn write_results(name: &str, value: serde_json::Value) {
    let dir = root().join("bench/results");
    std::fs::create_dir_all(&dir).expect("bench/results");
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&value).unwrap()).expect("write results");
    println!("wrote {}", path.display());
}

/// AlphaFold-Multimer: ferrofold and DeepMind's compiled JAX on the same parameters and inputs.
fn multimer() {
    let case = "multimer_full_2hhb_ab";
    let params_path =
        root().join("target/reference").join(case).join("params_model_1_multimer_v3.npz");
    if !params_path.exists() {
        eprintln!(
            "{} missing: make it with tools/reference/make_multimer_ref.py 2hhb_ab --full",
            params_path.display()
        );
        return;
    }
    let iterations = 3;
    let mut config = ModelConfig::preset("model_1_multimer_v3").unwrap();
    // DeepMind's run recycles a fixed number of times.
    config.multimer.as_mut().unwrap().recycle_early_stop_tolerance = 0.0;
    let features = ferrofold_features::feature_dict::FeatureDict::load_npz(
        &ferrofold_tests::fixtures().join("reference").join(case).join("features.npz"),
    )
    .expect("features");
    let batch = ferrofold_tests::multimer_reference_batch(&features, &config, iterations, false);
    // [iterations, residues]
    let residues = batch.features.get("aatype").expect("aatype").shape()[1];

    let tools = root().join("tools/reference");
    let jax: Option<serde_json::Value> = Command::new(tools.join("venv/bin/python"))
        .arg(tools.join("make_multimer_ref.py"))
        .args(["2hhb_ab", "--full", "--time"])
        .output()
        .ok()
        .filter(|out| {
            if !out.status.success() {
                eprintln!("make_multimer_ref.py --time: {}", String::from_utf8_lossy(&out.stderr));
            }
            out.status.success()
        })
        .and_then(|out| {
            serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last()?).ok()
        });

    let device = Default::default();
    let params = ParamFile::read(&params_path).expect("params");
    let model =
        AlphaFold::<ferrofold_model::CpuF32>::load_owned(params, &config, &device).expect("load");
    let times: Vec<f64> = (0..runs())
        .map(|_| {
            let started = Instant::now();
            let out = model.forward(&batch, &config, &device, |_, _| {}).expect("forward");
            let _ = out.structure.final_atom_positions.into_data();
            started.elapsed().as_secs_f64()
        })
        .collect();
    let ours = median(times);
    let jax_run = jax.as_ref().and_then(|j| j["run_s"].as_f64());
    let ratio = jax_run.map(|j| ours / j);
    println!(
        "model_1_multimer_v3, {residues} residues, {iterations} iterations: ferrofold {ours:.2} s, \
         JAX {} s (compile {} s), ferrofold/JAX {}, peak RSS {:.0} MiB",
        jax_run.map_or("-".into(), |j| format!("{j:.2}")),
        jax.as_ref().and_then(|j| j["compile_s"].as_f64()).map_or("-".into(), |c| format!("{c:.1}")),
        ratio.map_or("-".into(), |r| format!("{r:.2}")),
        peak_rss_mib()
    );
    write_results(
        "forward_multimer.json",
        serde_json::json!({ "preset": "model_1_multimer_v3", "precision": "f32", "case": case,
            "residues": residues, "iterations": iterations, "runs": runs(),
            "ferrofold_ndarray_s": ours, "jax": jax, "ferrofold_over_jax": ratio,
            "ferrofold_peak_rss_MiB": peak_rss_mib() }),
    );
}

/// The cases' residue counts: `FERROFOLD_BENCH_RESIDUES=64,128`, or `default`.
fn residue_counts_or(default: &[usize]) -> Vec<usize> {
    std::env::var("FERROFOLD_BENCH_RESIDUES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// The fastest of `runs` calls of `f` after one warm-up call (on a shared machine, the least
/// disturbed one).
fn time_fastest(runs: usize, f: &mut dyn FnMut()) -> f64 {
    f();
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Where one Evoformer block of `model_1_ptm` spends its time at the forward bench's sizes
/// (`FERROFOLD_BENCH_RESIDUES`, 68 MSA rows), each step timed alone (fastest of 10) with its matmul FLOPs, so
/// that steps far below the machine's GEMM rate stand out; writes `forward_block_profile.json`.
fn block_profile() {
    use ferrofold_model::evoformer::block::ColumnAttention;
    use ferrofold_model::evoformer::{EvoformerBlock, MsaPair};
    use ferrofold_model::plan::StageContext;
    use ferrofold_model::primitives::Chunking;
    type B = burn::backend::NdArray<f32>;
    let device = Default::default();
    let config = ModelConfig::preset("model_1_ptm").unwrap();
    let mut builder = ParamBuilder::<B>::random(1, &device);
    let block = EvoformerBlock::new(
        &mut builder,
        &config.evoformer,
        256,
        128,
        false,
        &ferrofold_model::config::DropoutConfig::none(),
    );
    let chunking = Chunking::default();
    let mut rows = Vec::new();
    for residues in residue_counts_or(&[64, 128]) {
        let (s, r, m, z) = (68usize, residues, 256usize, 128usize);
        let msa = Tensor::<B, 3>::random([s, r, m], burn::tensor::Distribution::Default, &device);
        let pair = Tensor::<B, 3>::random([r, r, z], burn::tensor::Distribution::Default, &device);
        let msa_mask = Tensor::<B, 2>::ones([s, r], &device);
        let pair_mask = Tensor::<B, 2>::ones([r, r], &device);
        let (sr, rr) = ((s * r) as f64, (r * r) as f64);
        // Matmul FLOPs (2·m·k·n) of each step, projections and attention products.
        let attention = |rows: f64, width: f64, heads: f64, queries: f64, keys: f64, batch: f64| {
            2.0 * rows * width * width * 5.0 + 2.0 * 2.0 * batch * heads * queries * keys * 32.0
        };
        // FERROFOLD_BENCH_STEP=name: only that step, many times (for `perf record`).
        let only = std::env::var("FERROFOLD_BENCH_STEP").ok();
        let reps = if only.is_some() { 30 } else { 10 };
        let column = |msa: Tensor<B, 3>| match &block.msa_column_attention {
            ColumnAttention::Full(a) => a.forward(msa, msa_mask.clone(), chunking),
            ColumnAttention::Global(a) => a.forward(msa, msa_mask.clone(), chunking),
        };
        let triangle_flops = 2.0 * (6.0 * rr * 128.0 * 128.0 + rr * r as f64 * 128.0);
        type Step<'a> = (&'static str, f64, Box<dyn FnMut() + 'a>);
        let steps: Vec<Step> = vec![
            (
                "msa_row_attention_with_pair_bias",
                attention(sr, 256.0, 8.0, r as f64, r as f64, s as f64),
                Box::new(|| {
                    let mask = msa_mask.clone();
                    let a = &block.msa_row_attention_with_pair_bias;
                    drop(a.forward(msa.clone(), mask, pair.clone(), chunking));
                }),
            ),
            (
                "msa_column_attention",
                attention(sr, 256.0, 8.0, s as f64, s as f64, r as f64),
                Box::new(|| drop(column(msa.clone()))),
            ),
            (
                "msa_transition",
                2.0 * 2.0 * sr * 256.0 * 1024.0,
                Box::new(|| drop(block.msa_transition.forward(msa.clone(), chunking))),
            ),
            (
                "outer_product_mean",
                2.0 * (2.0 * sr * 256.0 * 32.0 + rr * 1024.0 * s as f64 + rr * 1024.0 * 128.0),
                Box::new(|| {
                    let opm = &block.outer_product_mean;
                    drop(opm.forward(msa.clone(), msa_mask.clone(), chunking));
                }),
            ),
            (
                "triangle_multiplication_outgoing",
                triangle_flops,
                Box::new(|| {
                    let t = &block.triangle_multiplication_outgoing;
                    drop(t.forward(pair.clone(), pair_mask.clone()));
                }),
            ),
            (
                "triangle_multiplication_incoming",
                triangle_flops,
                Box::new(|| {
                    let t = &block.triangle_multiplication_incoming;
                    drop(t.forward(pair.clone(), pair_mask.clone()));
                }),
            ),
            (
                "triangle_attention_starting_node",
                attention(rr, 128.0, 4.0, r as f64, r as f64, r as f64),
                Box::new(|| {
                    let t = &block.triangle_attention_starting_node;
                    drop(t.forward(pair.clone(), pair_mask.clone(), chunking));
                }),
            ),
            (
                "triangle_attention_ending_node",
                attention(rr, 128.0, 4.0, r as f64, r as f64, r as f64),
                Box::new(|| {
                    let t = &block.triangle_attention_ending_node;
                    drop(t.forward(pair.clone(), pair_mask.clone(), chunking));
                }),
            ),
            (
                "pair_transition",
                2.0 * 2.0 * rr * 128.0 * 512.0,
                Box::new(|| drop(block.pair_transition.forward(pair.clone(), chunking))),
            ),
            (
                "whole block",
                0.0,
                Box::new(|| {
                    let act = MsaPair { msa: msa.clone(), pair: pair.clone() };
                    let context = StageContext::inference(chunking);
                    drop(block.forward(act, msa_mask.clone(), pair_mask.clone(), &context));
                }),
            ),
        ];
        let total_flops: f64 = steps.iter().map(|(_, flops, _)| flops).sum();
        let steps: Vec<(&str, f64, f64)> = steps
            .into_iter()
            .filter(|(name, _, _)| only.as_deref().is_none_or(|o| o == *name))
            .map(|(name, flops, mut f)| (name, flops, time_fastest(reps, &mut f)))
            .collect();
        println!("{residues} residues, 68 MSA rows: step, ms, matmul GFLOP/s");
        for (name, flops, seconds) in &steps {
            let flops = if *flops > 0.0 { *flops } else { total_flops };
            println!("{name:>34} {:>9.1} {:>8.1}", seconds * 1e3, flops / seconds / 1e9);
            rows.push(serde_json::json!({
                "residues": residues, "msa_rows": s, "step": name, "seconds": seconds,
                "matmul_gflop": flops / 1e9, "gflop_per_s": flops / seconds / 1e9,
            }));
        }
    }
    // One step alone (for `perf`) is no profile of the block: nothing written.
    if std::env::var_os("FERROFOLD_BENCH_STEP").is_none() {
        write_results("forward_block_profile.json", serde_json::Value::Array(rows));
    }
}

/// One recycling iteration of the `FERROFOLD_BENCH_RESIDUES` cases stage by stage: seconds in
/// the embeddings, the extra-MSA stack, the Evoformer stack and the structure module with the
/// heads (`--stages`; printed, nothing written).
fn stages() {
    use ferrofold_model::embedders::recycling_embedder::Recycled;
    use ferrofold_model::plan::{Pass, Stage};
    type B = ferrofold_model::CpuF32;
    let config = ModelConfig::preset("model_1_ptm").unwrap();
    let device = Default::default();
    for residues in residue_counts_or(&[64, 128]) {
        let case = root().join(format!("target/reference/model_1_ptm_{residues}"));
        if !case.join("features.npz").exists() {
            eprintln!("{} missing: make it as the top of this file says", case.display());
            continue;
        }
        let params = ParamFile::read(&case.join("params/params_model_1_ptm.npz")).expect("params");
        let model = AlphaFold::<B>::load_owned(params, &config, &device).expect("load");
        let batch = FeatureBatch::read(&case.join("features.npz")).expect("features");
        let inputs = batch.iteration::<B>(0, &config, &device).expect("inputs");
        let prev = Recycled::zeros(inputs.seq_mask.dims()[0], &config, &device);
        let pass = Pass::inference(&config);
        let trunk = &model.evoformer;
        let masks = trunk.masks(&inputs);
        let mut seconds = std::collections::BTreeMap::<&str, f64>::new();
        let mut timed = |name, started: Instant| {
            *seconds.entry(name).or_default() += started.elapsed().as_secs_f64()
        };
        let started = Instant::now();
        let mut state = trunk.embed(&inputs, &prev, &masks, &pass.context(Stage::Embed), None);
        timed("embeddings (templates included)", started);
        for stage in trunk.blocks() {
            let started = Instant::now();
            state = trunk.block(stage, state, &masks, &pass.context(stage));
            timed(
                match stage {
                    Stage::ExtraMsaBlock(_) => "extra-MSA stack",
                    _ => "Evoformer stack",
                },
                started,
            );
        }
        let started = Instant::now();
        let out =
            model.structure_and_heads(state, &inputs, &pass.context(Stage::StructureAndHeads));
        let _ = out.structure.final_atom_positions.into_data();
        timed("structure module and heads", started);
        println!("{residues} residues, one iteration:");
        for (name, s) in seconds {
            println!("{name:>34} {s:>8.2} s");
        }
    }
}

/// The `ferrofold` binary's allocator (inference/src/main.rs), so that figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    ferrofold_features::system::keep_freed_memory();
    if std::env::args().any(|a| a == "--stages") {
        stages();
    } else if std::env::args().any(|a| a == "--block-profile") {
        block_profile();
    } else if std::env::args().any(|a| a == "--multimer") {
        multimer();
    } else if let Some(at) = std::env::args().position(|a| a == "--memory-case") {
        let args: Vec<String> = std::env::args().skip(at + 1).collect();
        memory_case(args[0].parse().expect("residues"), &args[1]);
    } else if std::env::args().any(|a| a == "--memory") {
        memory();
    } else {
        compare();
    }
}
