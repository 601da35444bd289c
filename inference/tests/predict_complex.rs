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
use ferrofold_tests::{data, fixtures, no_installed_weights, workspace_root};

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

    assert_forward_equals_predict(&record, (&params(), "reduced_multimer"), 2);

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

/// `forward` on the batch that `predict --save-features` saved in `record` (with `model`:
/// parameter file, preset) gives the prediction's ipTM and pTM as float32 and its coordinates
/// to the PDB's three decimals.
fn assert_forward_equals_predict(record: &Path, model: (&str, &str), iterations: usize) {
    let confidence = json(&record.join("confidence.json"));
    let (iptm, ptm) = (confidence["iptm"].as_f64().unwrap(), confidence["ptm"].as_f64().unwrap());
    // `features_<model>.npz`, the model named after its parameter file.
    let features = std::fs::read_dir(record)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.file_name().unwrap().to_string_lossy().starts_with("features_"))
        .expect("a saved batch");
    let batch = FeatureDict::load_npz(&features).unwrap();
    assert_eq!(batch.get("msa_feat").unwrap().shape()[0], iterations, "1 + recycles");
    let forward_out = record.join("forward.npz");
    let out = ferrofold(&[
        "forward",
        "--features",
        features.to_str().unwrap(),
        "--params",
        model.0,
        "--preset",
        model.1,
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
}

/// The same at full size: `model_1_multimer_v3` with the random parameters in DeepMind's layout
/// that DeepMind's code ran in model/tests/multimer_parity.rs, on the first 40 residues of each
/// haemoglobin chain (single-sequence alignments, to keep it to minutes):
///
/// ```sh
/// tools/reference/venv/bin/python tools/reference/make_multimer_ref.py 2hhb_ab --full
/// cargo test --release -p ferrofold-inference --test predict_complex -- --ignored full_size
/// ```
#[test]
#[ignore = "needs the 373 MB parameters from make_multimer_ref.py --full; minutes of CPU"]
fn full_size_predict_and_forward_are_one_pipeline() {
    let params = workspace_root()
        .join("target/reference/multimer_full_2hhb_ab/params_model_1_multimer_v3.npz");
    assert!(params.exists(), "{} missing: see this test's comment", params.display());
    let dir = tempfile::tempdir().unwrap();
    let sequences = ["2HHB_A", "2HHB_B"].map(|key| chain_sequence(key)[..40].to_string());
    let fasta = dir.path().join("hb.fasta");
    std::fs::write(&fasta, format!(">hb\n{}:{}\n", sequences[0], sequences[1])).unwrap();
    let msas = dir.path().join("msas");
    std::fs::create_dir_all(&msas).unwrap();
    for (chain, sequence) in ["A", "B"].iter().zip(&sequences) {
        std::fs::write(msas.join(format!("hb_{chain}.a3m")), format!(">query\n{sequence}\n"))
            .unwrap();
    }
    let out_dir = dir.path().join("out");
    let model = (params.to_str().unwrap(), "model_1_multimer_v3");
    let out = run_predict(&fasta, &msas, &out_dir, model, &["--save-features"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let record = out_dir.join("hb");
    for (chain, sequence) in ["A", "B"].iter().zip(&sequences) {
        let protein = read_structure(&record.join("ranked_0.cif"), Some(chain)).unwrap();
        assert_eq!(&protein.sequence(), sequence, "chain {chain}");
    }
    read_chains_with_gemmi_and_biotite(&record, &sequences);
    assert_forward_equals_predict(&record, model, 2);
}

/// `--msa-tool` on a complex: one jackhmmer search per chain against a database with UniProt
/// headers (the human chains and a mouse variant of each), kept in `msas/A/` and `msas/B/`;
/// rows of the same species are paired across the chains (and none are without species in the
/// headers); a homodimer searches once.
#[test]
fn a_complexs_chains_are_searched_and_paired_by_species() {
    let dir = tempfile::tempdir().unwrap();
    let (fasta, _, sequences) = complex_input(dir.path());
    // The mouse variants: every seventh residue changed.
    let variant = |sequence: &str| -> String {
        let swap = |c: char| if c == 'A' { 'S' } else { 'A' };
        sequence.chars().enumerate().map(|(i, c)| if i % 7 == 3 { swap(c) } else { c }).collect()
    };
    let mut with_species = String::new();
    let mut without_species = String::new();
    for (name, sequence) in [("HBA", &sequences[0]), ("HBB", &sequences[1])] {
        for (species, organism, residues) in [
            ("HUMAN", "Homo sapiens OX=9606", sequence.to_string()),
            ("MOUSE", "Mus musculus OX=10090", variant(sequence)),
        ] {
            with_species.push_str(&format!(
                ">sp|P{name}{species}|{name}_{species} Hemoglobin OS={organism}\n{residues}\n"
            ));
            without_species.push_str(&format!(">{name}{species}\n{residues}\n"));
        }
    }
    let search = |fasta: &Path, database: &str, out_dir: &Path| {
        let db = dir.path().join(format!("{database}.fasta"));
        let text = if database == "globins" { &with_species } else { &without_species };
        std::fs::write(&db, text).unwrap();
        let out = ferrofold(&[
            "predict",
            fasta.to_str().unwrap(),
            "--msa-tool",
            "jackhmmer",
            "--database",
            db.to_str().unwrap(),
            "--out-dir",
            out_dir.to_str().unwrap(),
            "--params",
            &params(),
            "--preset",
            "reduced_multimer",
            "--recycles",
            "0",
            "--save-features",
            "--no-plots",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    // Rows of the merged MSA (not padding) with residues in both chains.
    let paired_rows = |record: &Path| {
        let batch = FeatureDict::load_npz(&record.join("features_params.npz")).unwrap();
        let msa = batch.get("true_msa").unwrap().to_f64();
        let mask = batch.get("msa_mask").unwrap().to_f64();
        let length_a = sequences[0].len();
        const GAP: f64 = 21.0;
        let has_residues = |part: ndarray::ArrayView1<f64>| part.iter().any(|&x| x != GAP);
        let first_iteration = msa.index_axis(ndarray::Axis(0), 0);
        let first_mask = mask.index_axis(ndarray::Axis(0), 0);
        first_iteration
            .outer_iter()
            .zip(first_mask.outer_iter())
            .filter(|(row, mask)| {
                mask.iter().any(|&m| m > 0.0)
                    && has_residues(row.slice(ndarray::s![..length_a]))
                    && has_residues(row.slice(ndarray::s![length_a..]))
            })
            .count()
    };

    let out_dir = dir.path().join("out");
    search(&fasta, "globins", &out_dir);
    let record = out_dir.join("hb");
    for (chain, mouse) in [("A", "HBA_MOUSE"), ("B", "HBB_MOUSE")] {
        let msa = record.join("msas").join(chain).join("jackhmmer_0_globins.sto");
        let text =
            std::fs::read_to_string(&msa).unwrap_or_else(|e| panic!("{}: {e}", msa.display()));
        assert!(text.contains(mouse), "chain {chain} finds its mouse variant");
    }
    assert!(record.join("ranked_0.pdb").is_file());
    // The queries; each globin finds the other (α's search hits β and the reverse), so the
    // species pair up as: human β–human α (each human self-hit is dropped as a copy of its
    // query), and two mouse rows (mouse α and β in both alignments).
    assert_eq!(paired_rows(&record), 4, "the queries, one human and two mouse pairs");

    let unnamed = dir.path().join("unnamed");
    search(&fasta, "globins_without_species", &unnamed);
    assert_eq!(paired_rows(&unnamed.join("hb")), 1, "without species only the query is paired");

    // A homodimer: one search, for the first copy.
    let homodimer = dir.path().join("hbaa.fasta");
    std::fs::write(&homodimer, format!(">hbaa\n{}:{}\n", sequences[0], sequences[0])).unwrap();
    search(&homodimer, "globins", &out_dir);
    let searched: Vec<_> = std::fs::read_dir(out_dir.join("hbaa/msas")).unwrap().collect();
    assert_eq!(searched.len(), 1, "the second copy reuses the first's alignment");
    assert!(out_dir.join("hbaa/ranked_0.pdb").is_file());
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
