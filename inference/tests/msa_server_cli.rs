//! `ferrofold predict --msa-server` against a server on 127.0.0.1 that speaks ColabFold's
//! MMseqs2 API and answers with a real alignment (the example's jackhmmer search, packed as
//! ColabFold packs its results): the features equal those from the alignment given directly,
//! a rerun is served from the cache, and a server error, a stalled job and a malformed
//! archive each fail the record with a line naming the server and the problem.

use std::path::Path;
use std::process::Output;

use ferrofold_features::feature_dict::FeatureDict;
use ferrofold_tests::http::{Reply, Request, TestServer};
use ferrofold_tests::served::{colabfold_result, colabfold_server, example_a3m};
use ferrofold_tests::{no_installed_weights, run_ferrofold, workspace_root};

fn example(name: &str) -> String {
    workspace_root().join("examples").join(name).to_str().unwrap().to_string()
}

fn ferrofold(args: &[&str]) -> Output {
    run_ferrofold(env!("CARGO_BIN_EXE_ferrofold"), &no_installed_weights(), args)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `predict` of the example with its features saved; `alignment`: the alignment options.
fn predict(out_dir: &Path, alignment: &[&str]) -> Output {
    let mut args = vec![
        "predict".to_string(),
        example("ubiquitin.fasta"),
        "--out-dir".into(),
        out_dir.to_str().unwrap().into(),
        "--recycles".into(),
        "0".into(),
        "--no-plots".into(),
        "--save-features".into(),
    ];
    args.extend(alignment.iter().map(|s| s.to_string()));
    ferrofold(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn features(dir: &Path) -> FeatureDict {
    let record = dir.join("1UBQ_A");
    let file = std::fs::read_dir(&record)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("features_"))
        .expect("features saved");
    FeatureDict::load_npz(&file).unwrap()
}

#[test]
fn the_server_alignment_gives_the_features_of_the_alignment_itself_and_is_cached() {
    let (a3m, query) = example_a3m();
    // The environmental file repeats some of UniRef's rows, which the merge keeps once.
    let environmental: String = a3m.lines().take(8).map(|l| format!("{l}\n")).collect();
    let server = colabfold_server(colabfold_result(&a3m, &environmental));
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let server_flag = format!("--msa-server={}", server.url(""));
    let server_options =
        [&server_flag[..], "--msa-server-poll", "1", "--msa-cache", cache.to_str().unwrap()];

    let from_server = work.path().join("server");
    let out = predict(&from_server, &server_options);
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = server.requests();
    let paths: Vec<_> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/ticket/msa", "/ticket/msa", "/ticket/job1", "/ticket/job1", "/result/download/job1"]
    );
    let form = requests[1].form();
    assert_eq!(form["q"], format!(">101\n{query}\n"));
    assert_eq!(form["mode"], "env");
    assert!(requests[0].headers["user-agent"].starts_with("ferrofold/"));
    assert!(from_server.join("1UBQ_A/msas/colabfold_mmseqs2.a3m").is_file());

    let given = work.path().join("given");
    let out = predict(&given, &["--msa", &example("ubiquitin.sto")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (a, b) = (features(&from_server), features(&given));
    assert_eq!(a.arrays.keys().collect::<Vec<_>>(), b.arrays.keys().collect::<Vec<_>>());
    for (name, array) in &a.arrays {
        assert!(array == &b.arrays[name], "{name} differs");
    }

    // The same sequence again: from the cache, no request.
    let out = predict(&work.path().join("again"), &server_options);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.requests().len(), requests.len());
}

#[test]
fn server_failures_fail_the_record_with_the_server_and_the_problem() {
    let stalled = TestServer::start(|request: &Request| match request.path.as_str() {
        "/ticket/msa" => Reply::json(r#"{"id": "slow", "status": "PENDING"}"#),
        _ => Reply::json(r#"{"id": "slow", "status": "RUNNING"}"#),
    });
    let refused = TestServer::start(|_: &Request| Reply::json(r#"{"status": "ERROR"}"#));
    let broken = TestServer::start(|_: &Request| Reply::new(500, "internal error"));
    let malformed = TestServer::start(|request: &Request| match request.path.as_str() {
        "/result/download/job1" => Reply::new(200, "<html>not an archive</html>"),
        _ => Reply::json(r#"{"id": "job1", "status": "COMPLETE"}"#),
    });
    let cases = [
        (&stalled, "job slow still queued or running (status RUNNING) after 2 s"),
        (&refused, "status ERROR"),
        (&broken, "HTTP 500"),
        (&malformed, "job job1's result archive is malformed: not a .tar.gz"),
    ];
    for (server, expected) in cases {
        let work = tempfile::tempdir().unwrap();
        let flag = format!("--msa-server={}", server.url(""));
        let out =
            predict(work.path(), &[&flag, "--msa-server-poll", "1", "--msa-server-wait", "2"]);
        assert!(!out.status.success());
        let text = stderr(&out);
        let line = text.lines().find(|l| l.contains("MSA server")).unwrap_or_default();
        let url = server.url("");
        assert!(
            line.contains(expected) && line.contains(url.trim_end_matches('/')),
            "{expected}: {text}"
        );
        assert!(!text.contains("panicked"), "{text}");
    }
}
