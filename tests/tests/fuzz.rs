//! Every parser and loader, fuzzed briefly (longer runs: `src/bin/fuzz.rs`), and every input
//! that a fuzzing run ever found a problem with, replayed.

use ferrofold_tests::fixtures;
use ferrofold_tests::fuzz::{fuzz, run_one, targets, Budget, Target};

#[test]
fn a_short_fuzzing_run_finds_nothing_in_any_reader() {
    let mut problems = Vec::new();
    for target in targets() {
        let report = fuzz(&target, Budget::Executions(300), 1);
        assert_eq!(report.executions, 300);
        problems.extend(report.findings.into_iter().map(|f| {
            format!("{}: {} (input: {:?})", f.target, f.problem, String::from_utf8_lossy(&f.input))
        }));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn earlier_findings_stay_fixed() {
    let scratch = tempfile::tempdir().unwrap();
    let mut replayed = 0;
    for target in targets() {
        let dir = fixtures().join("fuzz/regressions").join(target.name);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            let input = std::fs::read(&path).unwrap();
            if let Err(problem) = run_one(&target, &input, scratch.path()) {
                panic!("{}: {problem}", path.display());
            }
            replayed += 1;
        }
    }
    // The directory holds at least the inputs found while the fuzzer was written.
    assert!(replayed > 0, "no regression input found");
}

#[test]
fn the_fuzzer_reports_panics_and_errors_that_hide_the_input() {
    // The harness must be able to fail: a reader that panics, and one whose errors do not name
    // the input, are both reported with the input that caused it.
    let panics = Target {
        name: "panics",
        seeds: &["data/1UBQ_A.fasta"],
        run: |b, _| {
            assert!(b.len() < 40, "boom");
            Ok(())
        },
    };
    let report = fuzz(&panics, Budget::Executions(50), 2);
    assert!(report.findings.iter().any(|f| f.problem == "panic: boom" && f.input.len() >= 40));
    let silent = Target {
        name: "silent",
        seeds: &["data/1UBQ_A.fasta"],
        run: |_, _| Err("error without the input's name".into()),
    };
    assert_eq!(fuzz(&silent, Budget::Executions(10), 3).findings.len(), 1);
}
