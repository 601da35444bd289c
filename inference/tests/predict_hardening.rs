//! `ferrofold predict` against inputs and conditions that once gave exit 0 with wrong or lost
//! results (the hardening campaign): each is now a non-zero exit with one line naming the file
//! or option, and no record directory is left half-written.

use ferrofold_tests::{no_installed_weights, workspace_root};
use std::path::Path;
use std::process::{Command, Output};
fn data(name: &str) -> String {
    workspace_root().join("tests/fixtures/data").join(name).to_str().unwrap().to_string()
}

fn example(name: &str) -> String {
    workspace_root().join("examples").join(name).to_str().unwrap().to_string()
}

fn ferrofold(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrofold"))
        .env("FERROFOLD_WEIGHTS", no_installed_weights())
        .args(args)
        .output()
        .expect("run ferrofold")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The run failed, without a panic, and one `error` line names each of `named`.
fn assert_refused(out: &Output, named: &[&str]) {
    let err = stderr(out);
    assert!(!out.status.success(), "succeeded: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let error_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    for name in named {
        assert!(error_lines.iter().any(|l| l.contains(name)), "no error line names {name}:\n{err}");
    }
}

/// Entries of `dir` (hidden ones too), sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// Only lock files: no record directory and no staging directory.
fn assert_no_record_written(out_dir: &Path) {
    let left: Vec<String> =
        entries(out_dir).into_iter().filter(|n| !n.ends_with(".lock")).collect();
    assert!(left.is_empty(), "left behind in {}: {left:?}", out_dir.display());
}

const UBIQUITIN: &str =
    "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG";

#[test]
fn absurd_option_values_are_refused_by_name() {
    for (option, value) in
        [("--recycles", "100000000"), ("--chunk-size", "0"), ("--key-chunk-size", "0")]
    {
        let out_dir = tempfile::tempdir().unwrap();
        let out = ferrofold(&[
            "predict",
            &example("ubiquitin.fasta"),
            "--out-dir",
            out_dir.path().to_str().unwrap(),
            option,
            value,
        ]);
        assert_refused(&out, &[option]);
        assert_no_record_written(out_dir.path());
    }
}

#[test]
fn records_that_would_share_a_directory_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let fasta = dir.path().join("two.fasta");
    // Different records, one identifier: `a/b` and `a_b` both become the directory `a_b`.
    std::fs::write(&fasta, format!(">a/b first\n{UBIQUITIN}\n>a_b second\nMKVLAAGIV\n")).unwrap();
    let out_dir = dir.path().join("out");
    let out =
        ferrofold(&["predict", fasta.to_str().unwrap(), "--out-dir", out_dir.to_str().unwrap()]);
    assert_refused(&out, &["two.fasta", "a/b first", "a_b second"]);
    assert_no_record_written(&out_dir);
}

#[test]
fn template_hits_searched_for_another_protein_are_refused() {
    // Haemoglobin's hhsearch hits given for ubiquitin.
    let out_dir = tempfile::tempdir().unwrap();
    let out = ferrofold(&[
        "predict",
        &example("ubiquitin.fasta"),
        "--msa-mode",
        "single-sequence",
        "--template-hits",
        &data("templates/2HHB_B_hhsearch.hhr"),
        "--mmcif-dir",
        &data("templates/mmcif"),
        "--out-dir",
        out_dir.path().to_str().unwrap(),
    ]);
    assert_refused(&out, &["2HHB_B_hhsearch.hhr", "another sequence"]);
    assert_no_record_written(out_dir.path());
}

#[test]
fn truncated_and_empty_inputs_are_errors_not_fewer_rows_or_no_templates() {
    let dir = tempfile::tempdir().unwrap();
    let sto = std::fs::read_to_string(example("ubiquitin.sto")).unwrap();
    let lines: Vec<&str> = sto.lines().collect();
    // Cut at a line boundary after two sequences, before the `//`.
    let first = lines.iter().position(|l| !l.is_empty() && !l.starts_with('#')).unwrap();
    let cut = dir.path().join("cut.sto");
    std::fs::write(&cut, lines[..first + 2].join("\n") + "\n").unwrap();
    let empty_hits = dir.path().join("empty.hhr");
    std::fs::write(&empty_hits, "").unwrap();
    let garbage_hits = dir.path().join("garbage.hhr");
    std::fs::write(&garbage_hits, "this is not an hhsearch result\n").unwrap();
    let out_dir = dir.path().join("out");
    let out_dir = out_dir.to_str().unwrap();

    let out = ferrofold(&[
        "predict",
        &example("ubiquitin.fasta"),
        "--msa",
        cut.to_str().unwrap(),
        "--out-dir",
        out_dir,
    ]);
    assert_refused(&out, &["cut.sto", "no `//` line"]);
    for hits in [&empty_hits, &garbage_hits] {
        let out = ferrofold(&[
            "predict",
            &example("ubiquitin.fasta"),
            "--msa",
            &example("ubiquitin.sto"),
            "--template-hits",
            hits.to_str().unwrap(),
            "--mmcif-dir",
            &data("templates/mmcif"),
            "--out-dir",
            out_dir,
        ]);
        assert_refused(&out, &[hits.file_name().unwrap().to_str().unwrap(), "HHR"]);
    }
    assert_no_record_written(Path::new(out_dir));
}

#[test]
fn a_rerun_replaces_the_record_directory_as_a_whole() {
    let dir = tempfile::tempdir().unwrap();
    let params = workspace_root().join("tests/fixtures/reference/reduced_s0/params_reduced.npz");
    // Two models, so two ranked files; the copy's name makes it a second model.
    let copy = dir.path().join("other_reduced.npz");
    std::fs::copy(&params, &copy).unwrap();
    let out_dir = dir.path().join("out");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "predict",
            &example("ubiquitin.fasta"),
            "--msa-mode",
            "single-sequence",
            "--recycles",
            "0",
            "--no-plots",
            "--quiet",
            "--out-dir",
            out_dir.to_str().unwrap(),
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = ferrofold(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.status.success(), "{}", stderr(&out));
    };
    run(&[
        "--params",
        params.to_str().unwrap(),
        "--params",
        copy.to_str().unwrap(),
        "--preset",
        "reduced",
    ]);
    let record = out_dir.join("1UBQ_A");
    assert!(record.join("ranked_1.pdb").is_file());
    // A file of the user's in the record directory, and the search cache that must survive.
    std::fs::create_dir_all(record.join("msas")).unwrap();
    std::fs::write(record.join("msas/cached.sto"), "kept").unwrap();

    run(&[]);
    assert_eq!(
        entries(&record),
        ["confidence.json", "msas", "pae.json", "ranked_0.cif", "ranked_0.pdb", "ranking.json"],
        "the earlier run's ranked_1 must not stand beside the new ranking"
    );
    assert_eq!(std::fs::read_to_string(record.join("msas/cached.sto")).unwrap(), "kept");
    // No staging or replaced directory is left beside the record.
    assert_eq!(entries(&out_dir), [".1UBQ_A.lock", "1UBQ_A"]);
}

#[test]
fn a_second_run_on_a_record_being_written_is_refused() {
    let out_dir = tempfile::tempdir().unwrap();
    // The lock a running prediction of 1UBQ_A holds.
    let lock = std::fs::File::create(out_dir.path().join(".1UBQ_A.lock")).unwrap();
    lock.lock().unwrap();
    let out = ferrofold(&[
        "predict",
        &example("ubiquitin.fasta"),
        "--msa-mode",
        "single-sequence",
        "--out-dir",
        out_dir.path().to_str().unwrap(),
    ]);
    assert_refused(&out, &["1UBQ_A", "another ferrofold run"]);
    drop(lock);
    assert_no_record_written(out_dir.path());
}

#[test]
fn a_write_failure_stops_the_run_at_the_first_record() {
    let dir = tempfile::tempdir().unwrap();
    let fasta = dir.path().join("three.fasta");
    std::fs::write(
        &fasta,
        format!(">first\n{UBIQUITIN}\n>second\n{UBIQUITIN}\n>third\n{UBIQUITIN}\n"),
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    // Files may grow to 8 KiB only (as on a full disk, writes fail; root ignores permissions,
    // so a size limit stands in). SIGXFSZ is ignored, so writes fail with EFBIG instead of
    // killing the process; ignored signals stay ignored across exec.
    let out = Command::new("bash")
        .env("FERROFOLD_WEIGHTS", no_installed_weights())
        .args([
            "-c",
            "trap '' XFSZ; ulimit -f 8; exec \"$@\"",
            "bash",
            env!("CARGO_BIN_EXE_ferrofold"),
            "predict",
            fasta.to_str().unwrap(),
            "--msa-mode",
            "single-sequence",
            "--recycles",
            "0",
            "--no-plots",
            "--out-dir",
            out_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_refused(&out, &["first", "ranked_0.pdb", "3 of 3 records not predicted"]);
    let err = stderr(&out);
    assert_eq!(err.lines().filter(|l| l.starts_with("error")).count(), 1, "{err}");
    assert_no_record_written(&out_dir);
}

#[test]
fn error_messages_name_the_users_file_once_and_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    // gzip's magic bytes, then anything.
    std::fs::write(path("query.fasta.gz"), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).unwrap();
    std::fs::write(path("bom.fasta"), format!("\u{feff}>bom\n{UBIQUITIN}\n")).unwrap();
    let output = path("raw.npz");
    let featurize = |fasta: &Path| {
        ferrofold(&[
            "featurize",
            "--fasta",
            fasta.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ])
    };

    // A UTF-8 byte-order mark is not an error.
    let out = featurize(&path("bom.fasta"));
    assert!(out.status.success(), "{}", stderr(&out));

    let out = featurize(&path("query.fasta.gz"));
    assert_refused(&out, &["query.fasta.gz", "gzip"]);
    assert_eq!(stderr(&out).lines().filter(|l| l.starts_with("error")).count(), 1);

    // The system's message once, not repeated by each layer.
    let out = featurize(&path("absent.fasta"));
    assert_refused(&out, &["absent.fasta"]);
    assert_eq!(stderr(&out).matches("No such file or directory").count(), 1, "{}", stderr(&out));
}
