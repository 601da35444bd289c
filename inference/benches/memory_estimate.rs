//! The memory estimate (`ferrofold_inference::memory`) against the measured peak resident
//! memory of `predict` with the bundled model, at 313, 450 and 600 residues, each with a single
//! sequence and with a 256-row alignment (synthetic: a random sequence and mutated copies of
//! it, made here from a fixed seed). Each case runs in its own process, so that its peak is
//! its own; the chunking is the planner's choice, as a user gets it.
//!
//! ```sh
//! cargo bench -p ferrofold-inference --bench memory_estimate   # bench/results/memory_estimate.json
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use ferrofold_features::parsers::fasta::FastaRecord;
use ferrofold_features::system::peak_rss_mib;
use ferrofold_inference::{predict_record, PredictOptions, Progress, RecordInputs};
use ferrofold_model::CpuF32;
use rand::{Rng, SeedableRng};

const CASES: [(usize, usize); 6] =
    [(313, 1), (313, 256), (450, 1), (450, 256), (600, 1), (600, 256)];
const AMINO_ACIDS: &[u8] = b"ACDEFGHIKLMNPQRSTVWY";

/// A random sequence of `residues` and, in `dir`, an alignment of it with `rows` rows (the
/// query, then copies with 30% of positions mutated).
fn case_inputs(residues: usize, rows: usize, dir: &Path) -> (FastaRecord, PathBuf) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(residues as u64);
    let residue = |rng: &mut rand_chacha::ChaCha8Rng| {
        AMINO_ACIDS[rng.random_range(0..AMINO_ACIDS.len())] as char
    };
    let query: String = (0..residues).map(|_| residue(&mut rng)).collect();
    let mut a3m = format!(">query\n{query}\n");
    for row in 1..rows {
        let mutated: String = query
            .chars()
            .map(|c| if rng.random::<f64>() < 0.3 { residue(&mut rng) } else { c })
            .collect();
        a3m.push_str(&format!(">row{row}\n{mutated}\n"));
    }
    let msa = dir.join(format!("case_{residues}_{rows}.a3m"));
    std::fs::write(&msa, a3m).expect("write alignment");
    let record =
        FastaRecord { description: format!("synthetic_{residues}"), sequence: query, line: 1 };
    (record, msa)
}

/// One case in this process: prints a JSON line.
fn run_case(residues: usize, rows: usize) {
    let work = tempfile::tempdir().expect("temporary directory");
    let (record, msa) = case_inputs(residues, rows, work.path());
    let options = PredictOptions { num_recycle: Some(0), plots: false, ..Default::default() };
    let mut estimate = 0;
    predict_record::<CpuF32>(
        &Default::default(),
        &record,
        &RecordInputs { alignments: &[msa], template_hits: None },
        &options,
        &work.path().join("out"),
        &mut |progress| {
            if let Progress::ModelStarted { estimated_peak_bytes, .. } = progress {
                estimate = estimated_peak_bytes;
            }
        },
    )
    .expect("predict");
    let measured = peak_rss_mib();
    let estimated = estimate as f64 / (1024.0 * 1024.0);
    let line = serde_json::json!({
        "residues": residues,
        "msa_rows": rows,
        "estimated_peak_mib": estimated,
        "measured_peak_rss_mib": measured,
        "estimate_over_measured": estimated / measured,
    });
    println!("{line}");
}

/// The `ferrofold` binary's allocator (inference/src/main.rs), so that figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    ferrofold_features::system::keep_freed_memory();
    if let Ok(case) = std::env::var("FERROFOLD_BENCH_CASE") {
        let (residues, rows) = case.split_once(',').expect("residues,rows");
        run_case(residues.parse().expect("residues"), rows.parse().expect("rows"));
        return;
    }
    println!(
        "{:>8} {:>8} {:>14} {:>14} {:>8}",
        "residues", "rows", "estimate MiB", "peak MiB", "ratio"
    );
    let exe = std::env::current_exe().expect("own path");
    let mut results = Vec::new();
    for (residues, rows) in CASES {
        let output = Command::new(&exe)
            .env("FERROFOLD_BENCH_CASE", format!("{residues},{rows}"))
            .output()
            .expect("run case");
        let value = String::from_utf8_lossy(&output.stdout)
            .lines()
            .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .unwrap_or_else(|| {
                let stderr = String::from_utf8_lossy(&output.stderr);
                serde_json::json!({"residues": residues, "msa_rows": rows,
                    "error": stderr.lines().last().unwrap_or("failed")})
            });
        match (value["estimated_peak_mib"].as_f64(), value["measured_peak_rss_mib"].as_f64()) {
            (Some(e), Some(m)) => {
                println!("{residues:>8} {rows:>8} {e:>14.0} {m:>14.0} {:>8.3}", e / m)
            }
            _ => println!("{residues:>8} {rows:>8} {}", value["error"]),
        }
        results.push(value);
    }
    let report = serde_json::json!({
        "benchmark": "memory estimate vs peak RSS of predict (bundled model, CPU NdArray<f32>, \
                      no recycles, planner's chunking)",
        "results": results,
    });
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/results/memory_estimate.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).expect("json")).expect("write");
    println!("wrote {}", path.display());
}
