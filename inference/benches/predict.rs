//! Wall time and peak memory of `predict` (featurize, network with 3 recycles, write) on three
//! real chains of about 60, 150 and 300 residues with their jackhmmer MSAs from
//! the external data set (`FERROFOLD_DATA`, see `ferrofold_tests::external_data`), CPU; with an
//! AlphaFold-Multimer preset, on the haemoglobin α + β dimer (287 residues, each chain's MSA).
//! Each case runs in its own process, so that its peak resident memory is its own.
//!
//! ```sh
//! cargo bench -p ferrofold-inference --bench predict                  # the bundled model
//! FERROFOLD_BENCH_PRESET=model_1_ptm cargo bench -p ferrofold-inference --bench predict
//! FERROFOLD_BENCH_PARAMS=params_model_1_ptm.npz FERROFOLD_BENCH_PRESET=model_1_ptm cargo bench ...
//! FERROFOLD_BENCH_PRESET=model_1_multimer_v3 cargo bench -p ferrofold-inference --bench predict
//! FERROFOLD_BENCH_RECYCLES=0 ...   # one iteration instead of four
//! ```
//! With a preset and no parameter file, random parameters of that size are generated (timing
//! only). Writes `bench/results/predict_<preset>.json` (`_<n>_recycles` added for other
//! than 3).

use ferrofold_features::system::peak_rss_mib;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use ferrofold_features::parsers::fasta::{parse_fasta_file, FastaRecord};
use ferrofold_inference::{
    predict_complex, predict_record, ChainInputs, ModelSpec, PredictOptions, RecordInputs, Weights,
};
use ferrofold_model::{AlphaFold, CpuF32, ModelConfig};

const CHAINS: [&str; 3] = ["1FAS_A", "3NBK_A", "1US0_A"];
/// The complex of the multimer presets: its chains, joined by `+`.
const COMPLEXES: [&str; 1] = ["2HHB_A+2HHB_B"];

fn data_set() -> PathBuf {
    ferrofold_tests::external_data().expect("checked in main")
}

fn model_spec(work: &std::path::Path) -> ModelSpec {
    let preset = std::env::var("FERROFOLD_BENCH_PRESET").ok();
    match (std::env::var("FERROFOLD_BENCH_PARAMS").ok(), preset) {
        (Some(params), Some(preset)) => {
            ModelSpec { name: preset.clone(), preset, weights: Weights::File(params.into()) }
        }
        (None, Some(preset)) => {
            let path = work.join(format!("random_{preset}.safetensors"));
            if !path.exists() {
                let config = ModelConfig::preset(&preset).expect("preset");
                let (model, layout) = AlphaFold::<CpuF32>::init(&config, 0, &Default::default());
                layout.export(&model, &preset).write_safetensors(&path).expect("write params");
            }
            ModelSpec { name: preset.clone(), preset, weights: Weights::File(path) }
        }
        _ => ModelSpec::bundled(),
    }
}

/// Recycling iterations after the first (`FERROFOLD_BENCH_RECYCLES`, default 3).
fn recycles() -> usize {
    std::env::var("FERROFOLD_BENCH_RECYCLES").ok().and_then(|r| r.parse().ok()).unwrap_or(3)
}

/// One chain (or a complex: chains joined by `+`) in this process: prints a JSON line.
fn run_chain(key: &str, work: &std::path::Path) {
    let keys: Vec<&str> = key.split('+').collect();
    let chains: Vec<_> = keys
        .iter()
        .map(|k| {
            let fasta = data_set().join(format!("fasta/{k}.fasta"));
            parse_fasta_file(&fasta).expect("fasta").remove(0)
        })
        .collect();
    let msas: Vec<Vec<PathBuf>> =
        keys.iter().map(|k| vec![data_set().join(format!("msa/jackhmmer/{k}.sto"))]).collect();
    let options = PredictOptions {
        models: vec![model_spec(work)],
        num_recycle: Some(recycles()),
        plots: false,
        ..Default::default()
    };
    let out = tempfile::tempdir().expect("temporary directory");
    let started = Instant::now();
    let record = if keys.len() == 1 {
        let record = chains[0].clone();
        let inputs = RecordInputs { alignments: &msas[0], template_hits: None };
        predict_record::<CpuF32>(
            &Default::default(),
            &record,
            &inputs,
            &options,
            out.path(),
            &mut |_| {},
        )
        .expect("predict");
        record
    } else {
        let sequences: Vec<&str> = chains.iter().map(|c| c.sequence.as_str()).collect();
        let record = FastaRecord {
            description: key.replace('+', "_"),
            sequence: sequences.join(":"),
            line: 1,
        };
        let hits = vec![None; keys.len()];
        let inputs = ChainInputs { alignments: &msas, template_hits: &hits };
        predict_complex::<CpuF32>(
            &Default::default(),
            &record,
            &inputs,
            &options,
            out.path(),
            &mut |_| {},
        )
        .expect("predict");
        record
    };
    let line = serde_json::json!({
        "chain": key,
        "residues": record.chains().iter().map(|c| c.len()).sum::<usize>(),
        "seconds": started.elapsed().as_secs_f64(),
        "peak_rss_mib": peak_rss_mib(),
    });
    println!("{line}");
}

/// The `ferrofold` binary's allocator (inference/src/main.rs), so that figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    ferrofold_features::system::keep_freed_memory();
    let work = std::env::temp_dir().join("ferrofold_bench_predict");
    std::fs::create_dir_all(&work).expect("work directory");
    if let Ok(key) = std::env::var("FERROFOLD_BENCH_CHAIN") {
        run_chain(&key, &work);
        return;
    }
    if ferrofold_tests::external_data().is_none() {
        eprintln!("FERROFOLD_DATA is not set to the data set (see ferrofold_tests::external_data): skipping");
        return;
    }
    let spec = model_spec(&work);
    println!("model {} (preset {})", spec.name, spec.preset);
    println!("{:<8} {:>8} {:>10} {:>14}", "chain", "residues", "seconds", "peak RSS MiB");
    let exe = std::env::current_exe().expect("own path");
    let mut results = Vec::new();
    let multimer = ModelConfig::preset(&spec.preset).is_ok_and(|c| c.multimer.is_some());
    let cases: &[&str] = if multimer { &COMPLEXES } else { &CHAINS };
    for &key in cases {
        let output =
            Command::new(&exe).env("FERROFOLD_BENCH_CHAIN", key).output().expect("run chain");
        let value = String::from_utf8_lossy(&output.stdout)
            .lines()
            .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .unwrap_or_else(|| {
                serde_json::json!({"chain": key, "error": String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("failed")})
            });
        match (
            value["residues"].as_u64(),
            value["seconds"].as_f64(),
            value["peak_rss_mib"].as_f64(),
        ) {
            (Some(n), Some(s), Some(m)) => println!("{key:<8} {n:>8} {s:>10.1} {m:>14.0}"),
            _ => println!("{key:<8} {}", value["error"]),
        }
        results.push(value);
    }
    let report = serde_json::json!({
        "benchmark": format!(
            "ferrofold predict on CPU (NdArray<f32>), {} recycles, jackhmmer MSAs",
            recycles()
        ),
        "model": spec.name,
        "preset": spec.preset,
        "threads": rayon::current_num_threads(),
        "results": results,
    });
    let suffix = if recycles() == 3 { String::new() } else { format!("_{}_recycles", recycles()) };
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../bench/results/predict_{}{suffix}.json", spec.preset));
    std::fs::write(&path, serde_json::to_string_pretty(&report).expect("json")).expect("write");
    println!("wrote {}", path.display());
}
