//! Long fuzzing runs of every parser and loader (`ferrofold_tests::fuzz`):
//!
//! ```sh
//! cargo run -p ferrofold-tests --bin fuzz -- --seconds 600 [--target NAME] [--seed S]
//! ```
//!
//! Prints one line per target (executions, findings) and writes every finding's input to
//! `tests/fixtures/fuzz/findings/<target>/`; exits non-zero when there is one. Each finding,
//! once fixed, moves to `tests/fixtures/fuzz/regressions/<target>/`, which the tests replay.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ferrofold_tests::fixtures;
use ferrofold_tests::fuzz::{fuzz, targets, Budget};

#[derive(Parser)]
#[command(about = "Fuzz ferrofold's parsers and loaders")]
struct Args {
    /// Seconds per target.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Only this target (fasta, a3m, stockholm, clustal, hhr, pdb, mmcif, npz, safetensors, pt,
    /// toml); all by default.
    #[arg(long)]
    target: Option<String>,
    /// Seed of the mutations (a run is repeatable for a given seed and execution count).
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let all = targets();
    let chosen: Vec<_> =
        all.iter().filter(|t| args.target.as_deref().is_none_or(|name| name == t.name)).collect();
    if chosen.is_empty() {
        let names: Vec<&str> = all.iter().map(|t| t.name).collect();
        eprintln!("error: no target {:?}; targets: {}", args.target, names.join(", "));
        return ExitCode::FAILURE;
    }
    let mut findings = 0;
    for target in chosen {
        let report = fuzz(target, Budget::Time(Duration::from_secs(args.seconds)), args.seed);
        println!(
            "{:<12} {:>10} executions in {:>6.0} s ({:>8.0}/s), {} findings",
            report.target,
            report.executions,
            report.seconds,
            report.executions as f64 / report.seconds.max(1e-9),
            report.findings.len()
        );
        for (k, finding) in report.findings.iter().enumerate() {
            let dir = fixtures().join("fuzz/findings").join(finding.target);
            let path = dir.join(format!("finding_{}_{k}", args.seed));
            if let Err(e) =
                std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &finding.input))
            {
                eprintln!("error: {}: {e}", path.display());
            }
            println!("  {}: {}", path.display(), finding.problem.lines().next().unwrap_or(""));
        }
        findings += report.findings.len();
    }
    if findings > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
