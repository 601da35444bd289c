//! Runners for the search tools AlphaFold uses: jackhmmer and hhblits (MSAs), hhsearch
//! (templates), mmseqs2 (fast search), kalign (template realignment). Each is found on `PATH`
//! (Debian packages `hmmer`, `hhsuite`, `mmseqs2`, `kalign`), runs with a timeout, keeps its
//! stderr for errors, and caches its output by a hash of (tool, arguments, inputs' content,
//! database identity).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::{FeaturesError, Result};

/// A command-line tool and the Debian package that provides it.
#[derive(Debug, Clone)]
pub struct Tool {
    pub binary: String,
    pub package: String,
}

impl Tool {
    pub fn new(binary: &str, package: &str) -> Self {
        Self { binary: binary.into(), package: package.into() }
    }

    /// The executable's path on `PATH`, or an error naming the package to install.
    pub fn locate(&self) -> Result<PathBuf> {
        let path_var = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path_var)
            .map(|dir| dir.join(&self.binary))
            .find(|candidate| is_executable(candidate))
            .ok_or_else(|| FeaturesError::ToolMissing {
                tool: self.binary.clone(),
                package: self.package.clone(),
            })
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// How to run tools: time limit, threads, and an optional cache directory.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub timeout: Duration,
    pub threads: usize,
    pub cache_dir: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(3600), threads: 2, cache_dir: None }
    }
}

/// Runs `tool` with `args` in `workdir`, killing it after `timeout`. Errors carry its stderr.
pub fn run_tool(tool: &Tool, args: &[String], workdir: &Path, timeout: Duration) -> Result<()> {
    let exe = tool.locate()?;
    tracing::debug!("running {} {}", exe.display(), args.join(" "));
    let mut child = Command::new(&exe)
        .args(args)
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| FeaturesError::io(&exe, e))?;
    // Drain stderr on a thread so a chatty tool cannot block on a full pipe.
    let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
    let stderr_reader = std::thread::spawn(move || {
        let mut buf = String::new();
        let _ = stderr_pipe.read_to_string(&mut buf);
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| FeaturesError::io(&exe, e))? {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(FeaturesError::ToolTimeout {
                tool: tool.binary.clone(),
                seconds: timeout.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = stderr_reader.join().unwrap_or_default();
    if !status.success() {
        let tail: String = stderr
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        return Err(FeaturesError::ToolFailed {
            tool: tool.binary.clone(),
            status: status.to_string(),
            stderr: tail,
        });
    }
    Ok(())
}

/// Identity of a database for the cache key: its path, size and modification time (hashing a
/// multi-gigabyte database on every query would cost more than the search).
fn database_identity(path: &Path) -> String {
    let meta = std::fs::metadata(path).ok();
    let size = meta.as_ref().map(|m| m.len()).unwrap_or(0);
    let modified = meta
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}|{size}|{modified}", path.display())
}

/// The cache key of one tool invocation.
pub fn cache_key(tool: &str, args: &[&str], inputs: &[&str], databases: &[&Path]) -> String {
    let mut h = Sha256::new();
    for part in [tool].iter().chain(args).chain(inputs) {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    for db in databases {
        h.update(database_identity(db).as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// One tool run: `input` is written to `input_name` in a scratch directory, the tool runs there
/// with `args` and writes `output_name`. `key_args` are the arguments that change the result
/// (the cache key), `databases` the files searched.
struct Invocation<'a> {
    tool: Tool,
    input_name: &'a str,
    input: String,
    output_name: &'a str,
    args: Vec<String>,
    key_args: &'a [&'a str],
    databases: Vec<&'a Path>,
}

/// Runs an invocation and returns its output's text. With a cache directory, an identical
/// earlier run's output is returned without running the tool.
fn run_cached(inv: Invocation<'_>, options: &RunOptions) -> Result<String> {
    let key = cache_key(&inv.tool.binary, inv.key_args, &[&inv.input], &inv.databases);
    let cached = options.cache_dir.as_ref().map(|d| d.join(format!("{}-{key}", inv.tool.binary)));
    if let Some(path) = &cached {
        if let Ok(text) = std::fs::read_to_string(path) {
            tracing::info!("{}: cached result {}", inv.tool.binary, path.display());
            return Ok(text);
        }
    }
    let scratch = tempfile::tempdir().map_err(|e| FeaturesError::io(std::env::temp_dir(), e))?;
    let input_path = scratch.path().join(inv.input_name);
    std::fs::write(&input_path, &inv.input).map_err(|e| FeaturesError::io(&input_path, e))?;
    run_tool(&inv.tool, &inv.args, scratch.path(), options.timeout)?;
    let out_path = scratch.path().join(inv.output_name);
    let text = std::fs::read_to_string(&out_path).map_err(|e| FeaturesError::io(&out_path, e))?;
    if let Some(path) = &cached {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| FeaturesError::io(dir, e))?;
        }
        crate::feature_dict::write_bytes_atomically(path, text.as_bytes())?;
    }
    Ok(text)
}

fn fasta(description: &str, sequence: &str) -> String {
    format!(">{description}\n{sequence}\n")
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

/// jackhmmer with AlphaFold's settings (`--F1 0.0005 --F2 5e-5 --F3 5e-7 --incE 1e-4 -E 1e-4`,
/// `iterations` rounds); returns the Stockholm alignment text, query first.
pub fn jackhmmer(
    sequence: &str,
    database: &Path,
    iterations: u32,
    options: &RunOptions,
) -> Result<String> {
    let n = iterations.to_string();
    let key = [
        "-N",
        &n,
        "--F1",
        "0.0005",
        "--F2",
        "0.00005",
        "--F3",
        "0.0000005",
        "--incE",
        "0.0001",
        "-E",
        "0.0001",
    ];
    let threads = options.threads.to_string();
    let db = database.display().to_string();
    let mut args = strings(&["-o", "/dev/null", "-A", "out.sto", "--noali", "--cpu", &threads]);
    args.extend(strings(&key));
    args.extend(strings(&["query.fasta", &db]));
    let inv = Invocation {
        tool: Tool::new("jackhmmer", "hmmer"),
        input_name: "query.fasta",
        input: fasta("query", sequence),
        output_name: "out.sto",
        args,
        key_args: &key,
        databases: vec![database],
    };
    run_cached(inv, options)
}

/// hhblits against an HH-suite database (prefix of its `_a3m.ffdata` etc.); returns A3M text.
pub fn hhblits(sequence: &str, database_prefix: &Path, options: &RunOptions) -> Result<String> {
    let key = [
        "-n",
        "3",
        "-e",
        "0.001",
        "-maxseq",
        "1000000",
        "-realign_max",
        "100000",
        "-maxfilt",
        "100000",
        "-min_prefilter_hits",
        "1000",
    ];
    let db = database_prefix.display().to_string();
    let threads = options.threads.to_string();
    let db_file = PathBuf::from(format!("{db}_a3m.ffdata"));
    let mut args = strings(&[
        "-i",
        "query.fasta",
        "-cpu",
        &threads,
        "-oa3m",
        "out.a3m",
        "-o",
        "/dev/null",
        "-d",
        &db,
    ]);
    args.extend(strings(&key));
    let inv = Invocation {
        tool: Tool::new("hhblits", "hhsuite"),
        input_name: "query.fasta",
        input: fasta("query", sequence),
        output_name: "out.a3m",
        args,
        key_args: &key,
        databases: vec![&db_file],
    };
    run_cached(inv, options)
}

/// hhsearch of an alignment (A3M) against a template database; returns HHR text.
pub fn hhsearch(a3m: &str, database_prefix: &Path, options: &RunOptions) -> Result<String> {
    let key = ["-maxseq", "1000000"];
    let db = database_prefix.display().to_string();
    let threads = options.threads.to_string();
    let db_file = PathBuf::from(format!("{db}_hhm.ffdata"));
    let mut args = strings(&["-i", "query.a3m", "-o", "out.hhr", "-cpu", &threads, "-d", &db]);
    args.extend(strings(&key));
    let inv = Invocation {
        tool: Tool::new("hhsearch", "hhsuite"),
        input_name: "query.a3m",
        input: a3m.to_string(),
        output_name: "out.hhr",
        args,
        key_args: &key,
        databases: vec![&db_file],
    };
    run_cached(inv, options)
}

/// `mmseqs easy-search` of one sequence against a FASTA or mmseqs database; returns the
/// BLAST-tab (m8) hits.
pub fn mmseqs_easy_search(sequence: &str, database: &Path, options: &RunOptions) -> Result<String> {
    mmseqs_easy_search_with(sequence, database, options, &[])
}

/// `mmseqs easy-search` with extra result-changing arguments (part of the cache key).
fn mmseqs_easy_search_with(
    sequence: &str,
    database: &Path,
    options: &RunOptions,
    extra: &[&str],
) -> Result<String> {
    let mut key = vec!["easy-search", "-e", "0.001"];
    key.extend_from_slice(extra);
    let db = database.display().to_string();
    let threads = options.threads.to_string();
    let mut args = strings(&["easy-search", "query.fasta", &db, "hits.tsv", "tmp", "-e", "0.001"]);
    args.extend(strings(extra));
    args.extend(strings(&["--threads", &threads, "-v", "1"]));
    let inv = Invocation {
        tool: Tool::new("mmseqs", "mmseqs2"),
        input_name: "query.fasta",
        input: fasta("query", sequence),
        output_name: "hits.tsv",
        args,
        key_args: &key,
        databases: vec![database],
    };
    run_cached(inv, options)
}

/// mmseqs2 `easy-search` of `sequence` against a FASTA (or mmseqs) database, returned as an
/// A3M alignment (query first, then every hit over the query's columns, target insertions in
/// lower case): the search ColabFold runs, without its server.
pub fn mmseqs_search_a3m(sequence: &str, database: &Path, options: &RunOptions) -> Result<String> {
    let format = "target,qstart,qend,qaln,taln";
    let hits = mmseqs_easy_search_with(sequence, database, options, &["--format-output", format])?;
    hits_to_a3m(sequence, &hits)
}

/// Converts mmseqs2 hits (`target, qstart, qend, qaln, taln` per line, 1-based inclusive query
/// range) into A3M rows over the whole query.
pub fn hits_to_a3m(query: &str, hits: &str) -> Result<String> {
    let mut out = format!(">query\n{query}\n");
    for (number, line) in hits.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |what: &str| {
            FeaturesError::InvalidInput(format!("mmseqs2 hit line {}: {what}", number + 1))
        };
        let fields: Vec<&str> = line.split('\t').collect();
        let [target, qstart, qend, qaln, taln] = fields[..] else {
            return Err(bad("expected 5 tab-separated fields"));
        };
        let qstart: usize = qstart.parse().map_err(|_| bad("query start is not a number"))?;
        let qend: usize = qend.parse().map_err(|_| bad("query end is not a number"))?;
        if qstart == 0 || qend > query.len() || qstart > qend || qaln.len() != taln.len() {
            return Err(bad("alignment does not fit the query"));
        }
        let mut row = "-".repeat(qstart - 1);
        for (q, t) in qaln.bytes().zip(taln.bytes()) {
            match (q, t) {
                (b'-', t) => row.push(char::from(t.to_ascii_lowercase())),
                (_, b'-') => row.push('-'),
                (_, t) => row.push(char::from(t.to_ascii_uppercase())),
            }
        }
        row.push_str(&"-".repeat(query.len() - qend));
        out.push_str(&format!(">{target}\n{row}\n"));
    }
    Ok(out)
}

/// kalign alignment of several sequences; returns the aligned FASTA text (in input order).
pub fn kalign(sequences: &[(&str, &str)], options: &RunOptions) -> Result<String> {
    if sequences.len() < 2 {
        return Err(FeaturesError::InvalidInput("kalign needs at least two sequences".into()));
    }
    let inv = Invocation {
        tool: Tool::new("kalign", "kalign"),
        input_name: "in.fasta",
        input: sequences.iter().map(|(d, q)| fasta(d, q)).collect(),
        output_name: "out.fasta",
        args: strings(&["-i", "in.fasta", "-o", "out.fasta", "-f", "fasta"]),
        key_args: &["-f", "fasta"],
        databases: vec![],
    };
    run_cached(inv, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmseqs_hits_become_a3m_rows_over_the_whole_query() {
        // Query ACDEFGHIK; the hit covers query 3..7 (DEFGH) with an insertion (target W after
        // E) and a deletion (query G).
        let a3m = hits_to_a3m("ACDEFGHIK", "hit1\t3\t7\tDE-FGH\tDEWY-H\n").unwrap();
        assert_eq!(a3m, ">query\nACDEFGHIK\n>hit1\n--DEwY-H--\n");
        let msa = crate::parsers::a3m::parse_a3m(&a3m, "hits").unwrap();
        assert_eq!(msa.sequences[1], "--DEY-H--");
        assert_eq!(msa.deletion_matrix[1], vec![0, 0, 0, 0, 1, 0, 0, 0, 0]);
        assert!(hits_to_a3m("ACD", "x\t2\t9\tCD\tCD\n").is_err());
        assert!(hits_to_a3m("ACD", "only\tthree\tfields\n")
            .unwrap_err()
            .to_string()
            .contains("line 1"));
    }

    #[test]
    fn a_missing_tool_names_its_package() {
        let err = Tool::new("ferrofold-no-such-tool", "ferrofold-pkg").locate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`ferrofold-no-such-tool` was not found on PATH; install the Debian package `ferrofold-pkg` (apt-get install ferrofold-pkg)"
        );
    }

    #[test]
    fn timeouts_kill_the_tool() {
        let start = Instant::now();
        let err = run_tool(
            &Tool::new("sleep", "coreutils"),
            &strings(&["5"]),
            Path::new("."),
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(matches!(err, FeaturesError::ToolTimeout { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn failures_carry_stderr() {
        let err = run_tool(
            &Tool::new("ls", "coreutils"),
            &strings(&["/nonexistent-ferrofold"]),
            Path::new("."),
            Duration::from_secs(10),
        )
        .unwrap_err();
        let FeaturesError::ToolFailed { stderr, .. } = &err else { panic!("{err}") };
        assert!(stderr.contains("nonexistent-ferrofold"), "{stderr}");
    }

    #[test]
    fn cache_keys_change_with_every_input() {
        let base = cache_key("jackhmmer", &["-N", "1"], &["MKV"], &[]);
        assert_ne!(base, cache_key("jackhmmer", &["-N", "2"], &["MKV"], &[]));
        assert_ne!(base, cache_key("jackhmmer", &["-N", "1"], &["MKL"], &[]));
        assert_ne!(base, cache_key("hhblits", &["-N", "1"], &["MKV"], &[]));
        assert_eq!(base, cache_key("jackhmmer", &["-N", "1"], &["MKV"], &[]));
    }
}
