//! The README's walk-through ("From a clone to a structure") as a biologist follows it: its
//! commands, read from the README and run in order in a fresh directory with a fresh home (so
//! the weights go to the default directory), DeepMind's archive and ColabFold's MSA server
//! served on 127.0.0.1 (no test touches the internet). Its first command, `cargo install`,
//! is the build of the binary under test.

use std::process::Command;

use ferrofold_inference::bundled;
use ferrofold_tests::http::{Reply, TestServer};
use ferrofold_tests::served::{colabfold_result, colabfold_server, example_a3m, params_npz, tar};
use ferrofold_tests::workspace_root;

/// The walk-through's commands, comments dropped.
fn walkthrough() -> Vec<String> {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let start = readme.find("<!-- walkthrough").expect("the README has a walk-through");
    let code = readme[start..].split("```sh\n").nth(1).unwrap().split("```").next().unwrap();
    code.lines()
        .map(|line| line.split(" #").next().unwrap().trim().to_string())
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
fn the_readme_walkthrough_predicts_with_the_weights_it_installed() {
    let commands = walkthrough();
    assert_eq!(commands[0], "cargo install --path inference --locked");

    let model = params_npz(&bundled::params().unwrap());
    let archive = tar(&[
        ("params_model_1_ptm.npz", &model),
        ("params_model_2_ptm.npz", &model),
        ("params_model_1.npz", &model),
    ]);
    let weights_server = TestServer::start(move |request| Reply::file(request, &archive));
    let (a3m, _) = example_a3m();
    let msa_server = colabfold_server(colabfold_result(&a3m, ""));

    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(workspace_root().join("examples"), work.path().join("examples"))
        .unwrap();
    let mut verbs = Vec::new();
    for command in &commands[1..] {
        let mut words: Vec<String> = command.split_whitespace().map(String::from).collect();
        assert_eq!(words[0], "ferrofold", "{command}");
        verbs.push(words[1].clone());
        if words[1..3] == ["weights", "download"] {
            let url = weights_server.url("alphafold_params_2022-12-06.tar");
            words.extend(["--url", &url, "--preset", "small", "--quiet"].map(String::from));
        }
        if let Some(flag) = words.iter_mut().find(|w| *w == "--msa-server") {
            *flag = format!("--msa-server={}", msa_server.url(""));
            words.extend(["--msa-server-poll", "1"].map(String::from));
        }
        let out = Command::new(env!("CARGO_BIN_EXE_ferrofold"))
            .args(&words[1..])
            .current_dir(work.path())
            .env("HOME", home.path())
            .env_remove("XDG_DATA_HOME")
            .env_remove("FERROFOLD_WEIGHTS")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{command}: {stderr}");
        assert!(!stderr.contains("bundled"), "{command}: {stderr}");
    }
    assert_eq!(verbs, ["weights", "weights", "predict"]);

    let weights = home.path().join(".local/share/ferrofold/weights");
    assert!(weights.join("manifest.json").is_file(), "installed in the default directory");
    let record = work.path().join("predictions/1UBQ_A");
    assert!(record.join("ranked_0.pdb").is_file());
    assert!(record.join("ranked_1.pdb").is_file(), "both pTM models ran");
    assert!(!record.join("ranked_2.pdb").exists(), "model_1 (no pTM) is not a default");
    assert!(record.join("msas/colabfold_mmseqs2.a3m").is_file());
    let confidence = std::fs::read_to_string(record.join("confidence.json")).unwrap();
    assert!(confidence.contains(weights.join("alphafold").to_str().unwrap()), "{confidence}");
}
