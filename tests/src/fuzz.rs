//! Mutation fuzzing of every parser and loader, on stable Rust and with nothing to install.
//!
//! Each target starts from real files of the test fixtures and feeds its reader mutated copies
//! of them (bit flips, cut and repeated ranges, splices of two seeds, dropped or repeated lines,
//! numbers replaced by extreme ones). A finding is a panic, or an error that does not name its
//! input: both break the promise that bad input gets one clear line naming the file. Findings
//! are returned with the input that caused them, to be kept as regression tests
//! (`tests/fixtures/fuzz/regressions/<target>/`, replayed by `tests/tests/fuzz.rs`).
//!
//! A short run is part of the tests; long runs: `cargo run -p ferrofold-tests --bin
//! fuzz -- --seconds 600` (bench/RESULTS.md records them).

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferrofold_features::parsers::{a3m, clustal, fasta, hhr, mmcif, stockholm};
use ferrofold_features::protein::{parse_structure, StructureFormat};
use ferrofold_features::FeatureDict;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The label text readers get as their source; every error they return must contain it.
const SOURCE: &str = "fuzz-input";

/// Runs a reader on one input; `Err` is a finding's description.
pub type Run = fn(&[u8], &Path) -> Result<(), String>;

/// One reader to fuzz and the fixture files it starts from.
pub struct Target {
    pub name: &'static str,
    /// Fixture files (relative to `tests/fixtures`).
    pub seeds: &'static [&'static str],
    pub run: Run,
}

/// A panic or an error that does not name the input, with the input that caused it.
#[derive(Debug, Clone)]
pub struct Finding {
    pub target: &'static str,
    pub input: Vec<u8>,
    pub problem: String,
}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    pub target: &'static str,
    pub executions: u64,
    pub seconds: f64,
    pub findings: Vec<Finding>,
}

/// How long a run lasts.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    Executions(u64),
    Time(Duration),
}

/// A reader's result: an error must name `named` (the label or the file it was given).
fn named<T, E: std::fmt::Display>(result: Result<T, E>, named: &str) -> Result<(), String> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains(named) => Ok(()),
        Err(e) => Err(format!("error without the input's name: {e}")),
    }
}

fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// Writes `bytes` to a file in `scratch` for readers that take a path.
fn as_file(bytes: &[u8], scratch: &Path, name: &str) -> PathBuf {
    let path = scratch.join(name);
    std::fs::write(&path, bytes).expect("scratch directory is writable");
    path
}

/// Every parser and loader that reads user files.
pub fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "fasta",
            seeds: &[
                "data/1UBQ_A.fasta",
                "data/templates/2HHB_B.fasta",
                "../../examples/ubiquitin.fasta",
            ],
            run: |b, _| named(fasta::parse_fasta(&text(b), SOURCE), SOURCE),
        },
        Target {
            name: "a3m",
            seeds: &["data/reduced_s0_query.a3m"],
            run: |b, _| named(a3m::parse_a3m(&text(b), SOURCE), SOURCE),
        },
        Target {
            name: "stockholm",
            seeds: &["data/1UBQ_A.sto", "data/5PTI_A.sto", "data/globins4.sto"],
            run: |b, _| named(stockholm::parse_stockholm(&text(b), SOURCE), SOURCE),
        },
        Target {
            name: "clustal",
            seeds: &["fuzz/seeds/globins4.aln"],
            run: |b, _| named(clustal::parse_clustal(&text(b), SOURCE), SOURCE),
        },
        Target {
            name: "hhr",
            seeds: &["data/1AKE_A_hhsearch.hhr", "data/templates/2HHB_B_hhsearch.hhr"],
            run: |b, _| named(hhr::parse_hhr(&text(b), SOURCE), SOURCE),
        },
        Target {
            name: "pdb",
            seeds: &["data/1UBQ_A.pdb", "data/5PTI_A.pdb"],
            run: |b, _| {
                named(parse_structure(&text(b), StructureFormat::Pdb, None, SOURCE), SOURCE)
            },
        },
        Target {
            name: "mmcif",
            seeds: &["data/1UBQ_A.cif", "data/5PTI_A.cif", "data/templates/mmcif/1a1x.cif"],
            run: |b, _| {
                let text = text(b);
                named(parse_structure(&text, StructureFormat::Mmcif, None, SOURCE), SOURCE)?;
                named(mmcif::parse_mmcif_entry(&text, "1abc", SOURCE), SOURCE)
            },
        },
        Target {
            name: "npz",
            seeds: &["reference/raw_1UBQ_A.npz", "reference/raw_dedup_1UBQ_A.npz"],
            run: |b, scratch| {
                let path = as_file(b, scratch, "input.npz");
                named(FeatureDict::load_npz(&path), &path.display().to_string())
            },
        },
        Target {
            name: "safetensors",
            seeds: &["fuzz/seeds/tiny.safetensors"],
            run: |b, _| {
                let result =
                    ferrofold_model::ParamFile::from_safetensors_bytes(b, Path::new(SOURCE));
                named(result, SOURCE)
            },
        },
        Target {
            name: "pt",
            seeds: &["reference/reduced_s0/openfold_reduced.pt"],
            run: |b, scratch| {
                let path = as_file(b, scratch, "input.pt");
                let result = ferrofold_model::openfold::read_openfold_checkpoint(&path);
                named(result, &path.display().to_string())
            },
        },
        Target {
            name: "toml",
            seeds: &["fuzz/seeds/train.toml"],
            run: |b, scratch| {
                let path = as_file(b, scratch, "train.toml");
                let result = ferrofold_training::TrainConfig::from_toml_file(&path);
                named(result, &path.display().to_string())
            },
        },
    ]
}

/// Tokens that break naive number and format handling.
const EXTREMES: [&str; 12] =
    ["nan", "inf", "-inf", "-1", "0", "1e309", "99999999999999999999", "", "-", "//", ">", "#"];

/// A mutated copy of `input`: one to four stacked edits, sometimes a splice with `other`.
pub fn mutate(rng: &mut ChaCha8Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = data.len();
        let at = |rng: &mut ChaCha8Rng| if len == 0 { 0 } else { rng.random_range(0..=len) };
        match rng.random_range(0..10) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] = *b"\n \t-.>#/0X\0\xff".get(rng.random_range(0..12)).unwrap();
            }
            2 => {
                let (a, b) = (at(rng), at(rng));
                data.drain(a.min(b)..a.max(b));
            }
            3 => {
                let (a, b) = (at(rng), at(rng));
                let chunk = data[a.min(b)..a.max(b)].to_vec();
                let to = at(rng);
                data.splice(to..to, chunk);
            }
            4 => data.truncate(at(rng)),
            5 => {
                let chunk: Vec<u8> =
                    (0..rng.random_range(1..16)).map(|_| rng.random_range(b' '..=b'~')).collect();
                let to = at(rng);
                data.splice(to..to, chunk);
            }
            6 if !other.is_empty() => {
                let cut = at(rng);
                let from = rng.random_range(0..other.len());
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            7 => data = edit_lines(rng, &data),
            _ => data = replace_number(rng, &data),
        }
    }
    data
}

/// Drops, repeats or swaps whole lines.
fn edit_lines(rng: &mut ChaCha8Rng, data: &[u8]) -> Vec<u8> {
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let n = lines.len();
    let (i, j) = (rng.random_range(0..n), rng.random_range(0..n));
    match rng.random_range(0..3) {
        0 => {
            lines.remove(i);
        }
        1 => lines.insert(j, lines[i]),
        _ => lines.swap(i, j),
    }
    lines.join(&b'\n')
}

/// Replaces one run of digits (with its sign and decimals) by an extreme token.
fn replace_number(rng: &mut ChaCha8Rng, data: &[u8]) -> Vec<u8> {
    let starts: Vec<usize> = (0..data.len())
        .filter(|&i| data[i].is_ascii_digit() && (i == 0 || !data[i - 1].is_ascii_digit()))
        .collect();
    let Some(&start) = starts.get(rng.random_range(0..starts.len().max(1))) else {
        return data.to_vec();
    };
    let end = (start..data.len())
        .find(|&i| !(data[i].is_ascii_digit() || data[i] == b'.'))
        .unwrap_or(data.len());
    let token = EXTREMES[rng.random_range(0..EXTREMES.len())].as_bytes();
    [&data[..start], token, &data[end..]].concat()
}

/// Runs `target` on one input, turning a panic into a finding.
pub fn run_one(target: &Target, input: &[u8], scratch: &Path) -> Result<(), String> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input, scratch))) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(no message)".into());
            Err(format!("panic: {message}"))
        }
    }
}

/// Fuzzes `target` within `budget`, from random seed `seed`. Panics are caught (and the panic
/// message kept in the finding); the default panic output is silenced meanwhile.
pub fn fuzz(target: &Target, budget: Budget, seed: u64) -> Report {
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let seeds: Vec<Vec<u8>> = target
        .seeds
        .iter()
        .map(|s| {
            let path = crate::fixtures().join(s);
            std::fs::read(&path).unwrap_or_else(|e| panic!("seed {}: {e}", path.display()))
        })
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Inputs that were read without error, to mutate further (deeper than one edit away).
    let mut accepted: Vec<Vec<u8>> = seeds.clone();
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let started = Instant::now();
    let mut report = Report { target: target.name, executions: 0, seconds: 0.0, findings: vec![] };
    loop {
        let done = match budget {
            Budget::Executions(n) => report.executions >= n,
            Budget::Time(limit) => started.elapsed() >= limit,
        };
        if done {
            break;
        }
        let base = &accepted[rng.random_range(0..accepted.len())];
        let other = &seeds[rng.random_range(0..seeds.len())];
        let input = mutate(&mut rng, base, other);
        match run_one(target, &input, scratch.path()) {
            Ok(()) => {
                if accepted.len() < 256 && rng.random_range(0..8) == 0 {
                    accepted.push(input);
                }
            }
            Err(problem) => {
                // One of each kind of problem is enough to act on.
                let kind: String = problem.chars().take(60).collect();
                if !report.findings.iter().any(|f| f.problem.starts_with(&kind)) {
                    report.findings.push(Finding { target: target.name, input, problem });
                }
            }
        }
        report.executions += 1;
    }
    std::panic::set_hook(previous_hook);
    report.seconds = started.elapsed().as_secs_f64();
    report
}
