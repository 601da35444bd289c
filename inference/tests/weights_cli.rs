//! `ferrofold weights` against a server on 127.0.0.1 that serves archives in DeepMind's layout
//! (the bundled small-preset parameters under AlphaFold's file names) and OpenFold's files:
//! a full download, one cut midway and resumed, bad files refused with nothing installed,
//! every network failure one line; then `predict` without `--params` runs what was installed.

use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ferrofold_inference::bundled;
use ferrofold_tests::http::{refused_url, Fault, Reply, TestServer};
use ferrofold_tests::served::{self, tar};
use ferrofold_tests::{run_ferrofold, workspace_root};
use sha2::{Digest, Sha256};

const ARCHIVE: &str = "alphafold_params_2022-12-06.tar";

fn ferrofold(weights: &Path, args: &[&str]) -> Output {
    run_ferrofold(env!("CARGO_BIN_EXE_ferrofold"), weights, args)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The failure's one line (and nothing else on stderr).
fn one_error_line(out: &Output) -> String {
    assert!(!out.status.success(), "succeeded: {}", stderr(out));
    let text = stderr(out);
    let lines: Vec<_> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].starts_with("error: "), "{text}");
    lines[0].to_string()
}

/// The bundled parameters as DeepMind's `.npz`, with `edit` applied to the tensors first.
fn params_npz(edit: impl FnOnce(&mut ferrofold_model::ParamFile)) -> Vec<u8> {
    let mut params = bundled::params().unwrap();
    edit(&mut params);
    served::params_npz(&params)
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

fn download(weights: &Path, url: &str, extra: &[&str]) -> Output {
    let mut args = vec!["weights", "download", "alphafold", "--url", url, "--quiet"];
    args.extend_from_slice(extra);
    ferrofold(weights, &args)
}

fn nothing_installed(weights: &Path) {
    assert!(!weights.join("manifest.json").exists());
    assert!(!weights.join("alphafold").exists());
    let leftovers: Vec<_> = std::fs::read_dir(weights)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        leftovers.iter().all(|n| n == ".downloads"),
        "left in the weights directory: {leftovers:?}"
    );
}

fn example(name: &str) -> String {
    workspace_root().join("examples").join(name).to_str().unwrap().to_string()
}

fn predict(weights: &Path, out_dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "predict",
        &example("ubiquitin.fasta")[..],
        "--msa",
        &example("ubiquitin.sto")[..],
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--recycles",
        "0",
        "--no-plots",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ferrofold(weights, &args)
}

#[test]
fn a_download_cut_midway_resumes_installs_verifies_and_predict_runs_it() {
    let model_1 = params_npz(|_| {});
    // A second model that differs, so that the ranking has something to choose.
    let model_2 = params_npz(|p| {
        for tensor in p.tensors.values_mut() {
            tensor.data.iter_mut().for_each(|x| *x *= 0.9);
        }
    });
    let archive = Arc::new(tar(&[
        ("params_model_1_ptm.npz", &model_1),
        ("params_model_2_ptm.npz", &model_2),
        ("LICENSE", b"CC BY 4.0"),
    ]));
    let half = archive.len() / 2;
    let served = Arc::new(AtomicUsize::new(0));
    let server = {
        let (archive, served) = (Arc::clone(&archive), Arc::clone(&served));
        TestServer::start(move |request| {
            let reply = Reply::file(request, &archive);
            if served.fetch_add(1, Ordering::SeqCst) == 0 {
                reply.with_fault(Fault::CloseAfter(half))
            } else {
                reply
            }
        })
    };
    let weights = tempfile::tempdir().unwrap();
    let url = server.url(ARCHIVE);

    let line = one_error_line(&download(weights.path(), &url, &["--preset", "small"]));
    assert!(line.contains("run the same command again to resume"), "{line}");
    nothing_installed(weights.path());

    let out = download(weights.path(), &url, &["--preset", "small"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].range_start(), Some(half as u64), "the second run resumes");

    let installed = manifest(weights.path());
    let models = installed["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    for (model, bytes) in models.iter().zip([&model_1, &model_2]) {
        assert_eq!(model["preset"], "small");
        assert_eq!(model["sha256"], sha256(bytes));
        assert_eq!(model["bytes"], bytes.len());
        let file = weights.path().join(model["file"].as_str().unwrap());
        assert_eq!(std::fs::read(file).unwrap(), **bytes);
    }
    assert_eq!(models[0]["name"], "model_1_ptm");
    assert!(weights.path().join("alphafold/LICENSE").is_file());
    assert!(!weights.path().join(".downloads").exists(), "the archive is removed");

    let list = ferrofold(weights.path(), &["weights", "list"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.contains("model_2_ptm") && listed.contains("CC BY 4.0"), "{listed}");
    let verified = ferrofold(weights.path(), &["weights", "verify"]);
    assert!(verified.status.success(), "{}", stderr(&verified));

    // predict without --params runs both installed models and ranks them.
    let out_dir = tempfile::tempdir().unwrap();
    let out = predict(weights.path(), out_dir.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("bundled"), "{}", stderr(&out));
    let record = out_dir.path().join("1UBQ_A");
    assert!(record.join("ranked_1.pdb").is_file(), "both models ran");
    let confidence: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(record.join("confidence.json")).unwrap())
            .unwrap();
    let best = confidence["model"].as_str().unwrap();
    assert!(["model_1_ptm", "model_2_ptm"].contains(&best), "{confidence}");
    assert_eq!(confidence["low_accuracy_bundled_model"], false);
    let expected = weights.path().join(format!("alphafold/params_{best}.npz"));
    assert_eq!(confidence["weights"], expected.to_str().unwrap());

    // --models picks one; an unknown name is one line naming what is installed.
    let chosen_dir = tempfile::tempdir().unwrap();
    let out = predict(weights.path(), chosen_dir.path(), &["--models", "model_2_ptm"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let record = chosen_dir.path().join("1UBQ_A");
    assert!(!record.join("ranked_1.pdb").exists(), "one model ran");
    let confidence = std::fs::read_to_string(record.join("confidence.json")).unwrap();
    assert!(confidence.contains("\"model\": \"model_2_ptm\""), "{confidence}");
    let line = one_error_line(&predict(weights.path(), out_dir.path(), &["--models", "model_9"]));
    assert!(line.contains("model_9") && line.contains("model_1_ptm, model_2_ptm"), "{line}");

    // A file changed after installation fails `weights verify`, naming it.
    let file = weights.path().join("alphafold/params_model_2_ptm.npz");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.push(0);
    std::fs::write(&file, bytes).unwrap();
    let out = ferrofold(weights.path(), &["weights", "verify"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("model_2_ptm") && stderr(&out).contains("bytes"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_file_is_refused_and_nothing_is_installed() {
    let with_nan = params_npz(|p| {
        let tensor = p.tensors.values_mut().next().unwrap();
        tensor.data[0] = f32::NAN;
    });
    let good = params_npz(|_| {});
    let cases: [(&str, Vec<u8>, &[&str], &str); 4] = [
        (
            "NaN",
            tar(&[("params_model_1_ptm.npz", &with_nan)]),
            &["--preset", "small"],
            "non-finite",
        ),
        (
            "garbage",
            tar(&[("params_model_1_ptm.npz", b"not a zip")]),
            &["--preset", "small"],
            "params_model_1_ptm.npz",
        ),
        ("not a tar", b"<html>a login page</html>".to_vec(), &[], "tar"),
        // Small parameters checked against model_1_ptm, the preset the name gives.
        (
            "wrong preset",
            tar(&[("params_model_1_ptm.npz", &good)]),
            &[],
            "do not fit preset model_1_ptm",
        ),
    ];
    for (case, archive, extra, expected) in cases {
        let server = TestServer::start(move |request| Reply::file(request, &archive));
        let weights = tempfile::tempdir().unwrap();
        let line = one_error_line(&download(weights.path(), &server.url(ARCHIVE), extra));
        assert!(
            line.contains(expected) && line.contains("nothing was installed"),
            "{case}: {line}"
        );
        nothing_installed(weights.path());
        let downloads = weights.path().join(".downloads");
        let kept = std::fs::read_dir(&downloads).map(|d| d.count()).unwrap_or(0);
        assert_eq!(kept, 0, "{case}: a bad download is not kept for the next run");
    }
}

#[test]
fn every_network_failure_is_one_clear_line() {
    let archive = Arc::new(tar(&[("params_model_1_ptm.npz", &params_npz(|_| {}))]));
    let server = {
        let archive = Arc::clone(&archive);
        TestServer::start(move |request| match request.path.as_str() {
            "/silent.tar" => Reply::file(request, &archive).with_fault(Fault::Silent),
            "/stalls.tar" => Reply::file(request, &archive).with_fault(Fault::StallAfter(1000)),
            _ => Reply::not_found(),
        })
    };
    let cases = [
        (server.url("missing.tar"), "HTTP 404"),
        (refused_url(ARCHIVE), "refused"),
        (server.url("silent.tar"), "sent nothing for 1 s"),
        (server.url("stalls.tar"), "sent nothing for 1 s (1000 B kept; run the same command again"),
    ];
    for (url, expected) in cases {
        let weights = tempfile::tempdir().unwrap();
        let line = one_error_line(&download(weights.path(), &url, &["--timeout", "1"]));
        assert!(line.contains(expected) && line.contains(&url), "{url}: {line}");
        nothing_installed(weights.path());
    }
}

#[test]
fn openfold_checkpoints_install_file_by_file() {
    let checkpoint = std::fs::read(
        workspace_root().join("tests/fixtures/reference/reduced_s0/openfold_reduced.pt"),
    )
    .unwrap();
    let server = TestServer::start(move |request| Reply::file(request, &checkpoint));
    let weights = tempfile::tempdir().unwrap();
    let base = server.url("openfold_params/");
    let out = ferrofold(
        weights.path(),
        &["weights", "download", "openfold", "--url", &base, "--preset", "reduced", "--quiet"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let requested: Vec<_> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        requested.contains(&"/openfold_params/finetuning_ptm_2.pt".to_string()),
        "{requested:?}"
    );
    let installed = manifest(weights.path());
    let names: Vec<_> =
        installed["models"].as_array().unwrap().iter().map(|m| m["name"].clone()).collect();
    assert!(names.contains(&"openfold_finetuning_ptm_2".into()), "{names:?}");
    assert!(weights.path().join("openfold/finetuning_no_templ_1.pt").is_file());
}
