//! Benchmark: featurize every chain of the external data set (`FERROFOLD_DATA`, see
//! `ferrofold_tests::external_data`: FASTA record 1 + its jackhmmer MSA when there is one), sequentially and in parallel (rayon), and report chains per second.
//! Run: `cargo bench -p ferrofold-features --bench featurize`. Writes bench/results/featurize.json.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ferrofold_features::featurize::featurize_query;
use ferrofold_features::parsers::fasta::{parse_fasta_file, FastaRecord};
use rayon::prelude::*;

struct Chain {
    record: FastaRecord,
    alignments: Vec<PathBuf>,
}

fn load_chains(data: &Path) -> Vec<Chain> {
    let mut keys: Vec<PathBuf> = std::fs::read_dir(data.join("fasta"))
        .expect("fasta directory")
        .map(|e| e.expect("entry").path())
        .collect();
    keys.sort();
    keys.iter()
        .map(|path| {
            let key = path.file_stem().unwrap().to_string_lossy().to_string();
            let record = parse_fasta_file(path).expect("valid FASTA").remove(0);
            let sto = data.join("msa/jackhmmer").join(format!("{key}.sto"));
            // Only MSAs whose query is this record (record 1 = observed residues).
            let alignments = match ferrofold_features::featurize::read_alignment(&sto) {
                Ok(msa) if msa.sequences[0].replace('-', "") == record.sequence => vec![sto],
                _ => vec![],
            };
            Chain { record, alignments }
        })
        .collect()
}

fn run(chains: &[Chain], parallel: bool) -> (f64, usize) {
    let start = Instant::now();
    let rows = |c: &Chain| {
        let f = featurize_query(&c.record, &c.alignments).expect("featurize");
        f.get("msa").unwrap().shape()[0]
    };
    let total: usize =
        if parallel { chains.par_iter().map(rows).sum() } else { chains.iter().map(rows).sum() };
    (start.elapsed().as_secs_f64(), total)
}

/// Median seconds of DeepMind's featurization over the same chains (same machine, same run),
/// when the reference environment of tools/reference exists.
fn deepmind_seconds(data: &Path, repeats: usize) -> Option<f64> {
    let tools = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tools/reference");
    let python = tools.join("venv/bin/python");
    if !python.exists() {
        return None;
    }
    let out = std::process::Command::new(python)
        .arg(tools.join("bench_featurize.py"))
        .arg(data)
        .arg(repeats.to_string())
        .output()
        .ok()?;
    let line = String::from_utf8_lossy(&out.stdout);
    let value: serde_json::Value = serde_json::from_str(line.lines().last()?).ok()?;
    value["median_seconds"].as_f64()
}

fn main() {
    let Some(data) = ferrofold_tests::external_data() else {
        println!("FERROFOLD_DATA is not set to the data set (see ferrofold_tests::external_data): skipping");
        return;
    };
    let chains = load_chains(&data);
    let residues: usize = chains.iter().map(|c| c.record.sequence.len()).sum();
    let with_msa = chains.iter().filter(|c| !c.alignments.is_empty()).count();
    let repeats = 5;
    let mut rows = Vec::new();
    for parallel in [false, true] {
        run(&chains, parallel); // warm-up: file cache
        let mut times: Vec<f64> = (0..repeats).map(|_| run(&chains, parallel).0).collect();
        times.sort_by(f64::total_cmp);
        let median = times[repeats / 2];
        let msa_rows = run(&chains, parallel).1;
        rows.push((if parallel { "rayon" } else { "sequential" }, median, msa_rows));
    }
    let reference = deepmind_seconds(&data, repeats);
    println!(
        "featurize: {} chains ({} with a jackhmmer MSA), {} residues, {} threads, median of {repeats}",
        chains.len(),
        with_msa,
        residues,
        rayon::current_num_threads()
    );
    println!("{:<12} {:>10} {:>12} {:>10}", "mode", "seconds", "chains/s", "MSA rows");
    for (mode, secs, msa_rows) in &rows {
        println!("{mode:<12} {secs:>10.4} {:>12.1} {msa_rows:>10}", chains.len() as f64 / secs);
    }
    match reference {
        Some(secs) => {
            println!("{:<12} {secs:>10.4} {:>12.1}", "DeepMind", chains.len() as f64 / secs);
            println!(
                "ferrofold sequential is {:.0}x faster than DeepMind's pipeline",
                secs / rows[0].1
            );
        }
        None => println!("DeepMind's pipeline not timed: run tools/reference/setup.sh first"),
    }
    let json = serde_json::json!({
        "deepmind_median_seconds": reference,
        "speedup_sequential_vs_deepmind": reference.map(|secs| secs / rows[0].1),
        "benchmark": "featurize",
        "chains": chains.len(),
        "chains_with_msa": with_msa,
        "residues": residues,
        "threads": rayon::current_num_threads(),
        "repeats": repeats,
        "results": rows.iter().map(|(mode, secs, msa_rows)| serde_json::json!({
            "mode": mode, "median_seconds": secs, "chains_per_second": chains.len() as f64 / secs,
            "msa_rows": msa_rows,
        })).collect::<Vec<_>>(),
    });
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/results/featurize.json");
    std::fs::write(&out, serde_json::to_string_pretty(&json).unwrap() + "\n")
        .expect("write results");
    println!("wrote {}", out.display());
}
