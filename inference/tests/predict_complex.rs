//! `ferrofold predict` on a complex, as a user runs it: haemoglobin α + β (`A_SEQ:B_SEQ` in one
//! record, and the same as two records with `--complex`) with each chain's jackhmmer alignment
//! in `--msa-dir`, through the `reduced_multimer` network with DeepMind-layout random weights
//! (`tests/fixtures/reference/multimer_2hhb_ab/params.npz`). Checks the files (two chains with
//! their sequences, ipTM and the ranking confidence), that `predict` and `forward` are one
//! pipeline, and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferrofold_features::feature_dict::FeatureDict;
use ferrofold_features::protein::read_structure;
use ferrofold_tests::{data, fixtures, no_installed_weights};

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

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn params() -> String {
    fixtures().join("reference/multimer_2hhb_ab/params.npz").to_str().unwrap().into()
}

/// The chain's sequence: the first row of its alignment.
fn chain_sequence(key: &str) -> String {
    let msa =
        ferrofold_features::parsers::stockholm::parse_stockholm_file(&data(&format!("{key}.sto")))
            .unwrap();
    msa.sequences[0].replace('-', "")
}

/// `hb.fasta` (one record, chains separated by `:`) and `DIR/hb_A.sto`, `DIR/hb_B.sto`.
fn complex_input(dir: &Path) -> (PathBuf, PathBuf, [String; 2]) {
    let sequences = [chain_sequence("2HHB_A"), chain_sequence("2HHB_B")];
    let fasta = dir.join("hb.fasta");
    std::fs::write(&fasta, format!(">hb haemoglobin\n{}:{}\n", sequences[0], sequences[1]))
        .unwrap();
    let msas = dir.join("msas");
    std::fs::create_dir_all(&msas).unwrap();
    for (chain, key) in [("A", "2HHB_A"), ("B", "2HHB_B")] {
        std::fs::copy(data(&format!("{key}.sto")), msas.join(format!("hb_{chain}.sto"))).unwrap();
    }
    (fasta, msas, sequences)
}

fn predict(fasta: &Path, msas: &Path, out_dir: &Path, extra: &[&str]) -> Output {
    let params = params();
    run_predict(fasta, msas, out_dir, (&params, "reduced_multimer"), extra, None)
}

/// `predict` of `fasta` with `model` (parameter file, preset), 1 recycle, and an optional
/// memory limit (bytes).
fn run_predict(
    fasta: &Path,
    msas: &Path,
    out_dir: &Path,
    model: (&str, &str),
    extra: &[&str],
    memory_limit: Option<&str>,
) -> Output {
    let mut args = vec![
        "predict",
        fasta.to_str().unwrap(),
        "--msa-dir",
        msas.to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--params",
        model.0,
        "--preset",
        model.1,
        "--recycles",
        "1",
    ];
    args.extend_from_slice(extra);
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferrofold"));
    command.env("FERROFOLD_WEIGHTS", no_installed_weights()).args(&args);
    if let Some(limit) = memory_limit {
        command.env("FERROFOLD_MEMORY_LIMIT", limit);
    }
    command.output().expect("run ferrofold")
}

#[test]
fn a_complex_is_predicted_with_both_chains_and_interface_confidence() {
    let dir = tempfile::tempdir().unwrap();
    let (fasta, msas, sequences) = complex_input(dir.path());
    let out_dir = dir.path().join("out");
    let out = predict(&fasta, &msas, &out_dir, &["--save-features"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let record = out_dir.join("hb");
    for name in ["ranked_0.pdb", "ranked_0.cif", "confidence.json", "pae.json", "pae.png"] {
        assert!(record.join(name).is_file(), "{name} missing");
    }
    // Each chain reads back with its sequence, from both formats.
    for file in ["ranked_0.pdb", "ranked_0.cif"] {
        for (chain, sequence) in ["A", "B"].iter().zip(&sequences) {
            let protein = read_structure(&record.join(file), Some(chain)).unwrap();
            assert_eq!(&protein.sequence(), sequence, "{file} chain {chain}");
        }
    }
    let pdb = std::fs::read_to_string(record.join("ranked_0.pdb")).unwrap();
    assert_eq!(pdb.lines().filter(|l| l.starts_with("TER")).count(), 2, "TER after each chain");

    let confidence = json(&record.join("confidence.json"));
    let (iptm, ptm) = (confidence["iptm"].as_f64().unwrap(), confidence["ptm"].as_f64().unwrap());
    assert!((0.0..=1.0).contains(&iptm) && (0.0..=1.0).contains(&ptm));
    let ranking = confidence["ranking_confidence"].as_f64().unwrap();
    assert!((ranking - (0.8 * iptm + 0.2 * ptm)).abs() < 1e-12);
    assert_eq!(confidence["sequence"], format!("{}:{}", sequences[0], sequences[1]));
    let chains = confidence["chains"].as_array().unwrap();
    assert_eq!(chains.len(), 2);
    assert_eq!(chains[1]["id"], "B");
    assert_eq!(chains[1]["residues"], sequences[1].len());
    read_chains_with_gemmi_and_biotite(&record, &sequences);

    // `forward` on the saved batch gives the same structure and confidences.
    let features = record.join("features_params.npz");
    let batch = FeatureDict::load_npz(&features).unwrap();
    assert_eq!(batch.get("msa_feat").unwrap().shape()[0], 2, "1 + recycles");
    let forward_out = dir.path().join("forward.npz");
    let params = params();
    let out = ferrofold(&[
        "forward",
        "--features",
        features.to_str().unwrap(),
        "--params",
        &params,
        "--preset",
        "reduced_multimer",
        "--output",
        forward_out.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let forward = FeatureDict::load_npz(&forward_out).unwrap();
    let scalar = |name: &str| forward.get(name).unwrap().to_f64().iter().next().copied().unwrap();
    assert_eq!(scalar("iptm") as f32, iptm as f32);
    assert_eq!(scalar("ptm") as f32, ptm as f32);
    let positions = forward.get("structure_module/final_atom_positions").unwrap().to_f64();
    let mut largest = 0f64;
    let mut offset = 0;
    for chain in ["A", "B"] {
        let protein = read_structure(&record.join("ranked_0.pdb"), Some(chain)).unwrap();
        for ((i, atom, x), &written) in protein.atom_positions.indexed_iter() {
            if protein.atom_mask[[i, atom]] > 0.0 {
                largest = largest.max((written - positions[[offset + i, atom, x]]).abs());
            }
        }
        offset += protein.len();
    }
    // The PDB has three decimals.
    assert!(largest <= 5.1e-4, "positions differ by {largest}");

    // The same complex as two records of one file, with --complex.
    let two_records = dir.path().join("hb2").join("hb.fasta");
    std::fs::create_dir_all(two_records.parent().unwrap()).unwrap();
    std::fs::write(&two_records, format!(">a\n{}\n>b\n{}\n", sequences[0], sequences[1])).unwrap();
    let out_dir2 = dir.path().join("out2");
    let out = predict(&two_records, &msas, &out_dir2, &["--complex", "--no-plots"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let again = json(&out_dir2.join("hb").join("confidence.json"));
    assert_eq!(again["iptm"], confidence["iptm"], "one record or --complex: the same complex");
}

/// gemmi and biotite read both chains with their sequences (from `.ci/run`'s Python,
/// `FERROFOLD_PYTHON`; elsewhere skipped with a message).
fn read_chains_with_gemmi_and_biotite(record: &Path, sequences: &[String; 2]) {
    let Ok(python) = std::env::var("FERROFOLD_PYTHON") else {
        eprintln!("FERROFOLD_PYTHON unset: gemmi/biotite check skipped (.ci/run sets it)");
        return;
    };
    let script = r#"
import sys, gemmi, biotite.structure as bs, biotite.structure.io as bio
for path in sys.argv[1:]:
    st = gemmi.read_structure(path)
    for chain in st[0]:
        print('gemmi', path, chain.name, gemmi.one_letter_code([r.name for r in chain]))
    atoms = bio.load_structure(path)
    for chain in bs.get_chains(atoms):
        residues = bs.get_residues(atoms[atoms.chain_id == chain])[1]
        print('biotite', path, chain, ''.join(bs.info.one_letter_code(r) for r in residues))
"#;
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(record.join("ranked_0.pdb"))
        .arg(record.join("ranked_0.cif"))
        .output()
        .expect("run python");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines.len(), 8, "two readers, two files, two chains: {text}");
    for fields in lines {
        let expected = if fields[2] == "A" { &sequences[0] } else { &sequences[1] };
        assert_eq!(fields[3], expected, "{fields:?}");
    }
}

#[test]
fn bad_complex_input_fails_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (fasta, msas, sequences) = complex_input(dir.path());
    let out_dir = dir.path().join("out");
    let params = params();

    // A chain with no residues.
    let empty = dir.path().join("empty.fasta");
    std::fs::write(&empty, format!(">hb\n{}::{}\n", sequences[0], sequences[1])).unwrap();
    let out = predict(&empty, &msas, &out_dir, &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("chain B has no residues"), "{}", stderr(&out));

    // One alignment for the whole complex instead of one per chain.
    let whole = dir.path().join("whole");
    std::fs::create_dir_all(&whole).unwrap();
    std::fs::copy(data("2HHB_A.sto"), whole.join("hb.sto")).unwrap();
    let out = predict(&fasta, &whole, &out_dir, &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("a complex needs one per chain: hb_A.a3m, hb_B.a3m"),
        "{}",
        stderr(&out)
    );

    // Chain B's alignment is of another protein.
    let swapped = dir.path().join("swapped");
    std::fs::create_dir_all(&swapped).unwrap();
    std::fs::copy(data("2HHB_A.sto"), swapped.join("hb_A.sto")).unwrap();
    std::fs::copy(data("2HHB_A.sto"), swapped.join("hb_B.sto")).unwrap();
    let out = predict(&fasta, &swapped, &out_dir, &[]);
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(message.contains("hb_B.sto") && message.contains("is not chain B"), "{message}");

    // A single-chain model on a complex.
    let reduced = fixtures().join("reference/reduced_s0/params_reduced.npz");
    let out =
        run_predict(&fasta, &msas, &out_dir, (reduced.to_str().unwrap(), "reduced"), &[], None);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("a complex needs AlphaFold-Multimer weights"),
        "{}",
        stderr(&out)
    );

    // A complex over the memory estimate.
    let model = (params.as_str(), "reduced_multimer");
    let out = run_predict(&fasta, &msas, &out_dir, model, &[], Some("1000000"));
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(
        message.contains("hb: 287 residues need about") && message.contains("of memory"),
        "{message}"
    );
    // Nothing was written for the failed record.
    assert!(!out_dir.join("hb").exists(), "no half-written record");
}

/// Chain B's hhsearch hits (`--template-dir DIR/hb_B.hhr`) give it templates that change the
/// prediction; hits for the whole complex (`--template-hits`) are refused.
#[test]
fn a_chains_templates_reach_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let (fasta, msas, _) = complex_input(dir.path());
    let hits = dir.path().join("hits");
    std::fs::create_dir_all(&hits).unwrap();
    let templates = data("templates");
    std::fs::copy(templates.join("2HHB_B_hhsearch.hhr"), hits.join("hb_B.hhr")).unwrap();
    let mmcif = templates.join("mmcif");
    let with = dir.path().join("with");
    let args = ["--template-dir", hits.to_str().unwrap(), "--mmcif-dir", mmcif.to_str().unwrap()];
    let out = predict(&fasta, &msas, &with, &[&args[..], &["--no-plots"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stderr(&out);
    let line = log.lines().find(|l| l.contains("hb chain B:") && l.contains("templates")).unwrap();
    assert!(!line.contains(": 0 templates"), "{line}");
    let without = dir.path().join("without");
    let out = predict(&fasta, &msas, &without, &["--no-plots"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plddt = |dir: &Path| json(&dir.join("hb/confidence.json"))["plddt"].clone();
    assert_ne!(plddt(&with), plddt(&without), "the templates changed nothing");

    let whole = templates.join("2HHB_B_hhsearch.hhr");
    let args = ["--template-hits", whole.to_str().unwrap(), "--mmcif-dir", mmcif.to_str().unwrap()];
    let out = predict(&fasta, &msas, &dir.path().join("refused"), &args);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--template-hits is for a single chain"), "{}", stderr(&out));
}
