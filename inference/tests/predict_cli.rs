//! `ferrofold predict` as a user runs it: the bundled example end to end, one pipeline with
//! `forward`, and bad input (each a non-zero exit with one line naming the file, earlier
//! outputs intact).

use std::path::Path;
use std::process::{Command, Output};

use ferrofold_features::feature_dict::FeatureDict;
use ferrofold_features::protein::read_structure;
use ferrofold_tests::{no_installed_weights, workspace_root};
fn example(name: &str) -> String {
    workspace_root().join("examples").join(name).to_str().unwrap().to_string()
}

fn reduced_params() -> String {
    workspace_root()
        .join("tests/fixtures/reference/reduced_s0/params_reduced.npz")
        .to_str()
        .unwrap()
        .into()
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

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

const UBIQUITIN: &str =
    "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG";

#[test]
fn bundled_example_writes_every_output_and_says_it_is_low_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    let out = ferrofold(&[
        "predict",
        &example("ubiquitin.fasta"),
        "--msa",
        &example("ubiquitin.sto"),
        "--out-dir",
        out_dir,
        "--recycles",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let warning = stderr(&out);
    assert!(warning.contains("NOT predictions") && warning.contains("lDDT-Cα"), "{warning}");
    let record = dir.path().join("1UBQ_A");
    for name in [
        "ranked_0.pdb",
        "ranked_0.cif",
        "confidence.json",
        "pae.json",
        "ranking.json",
        "plddt.png",
        "pae.png",
    ] {
        assert!(record.join(name).is_file(), "{name} not written");
    }
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&record)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    for name in ["ranked_0.pdb", "ranked_0.cif"] {
        let protein = read_structure(&record.join(name), None).unwrap();
        assert_eq!(protein.sequence(), UBIQUITIN, "{name}");
        assert!(protein.b_factors.iter().all(|b| (0.0..=100.0).contains(b)), "{name}");
        // Every heavy atom of every residue (atom37 without OXT, as AlphaFold writes them).
        assert_eq!(protein.atom_mask.sum() as usize, 601, "{name}: heavy atoms");
    }
    let pdb = std::fs::read_to_string(record.join("ranked_0.pdb")).unwrap();
    assert!(pdb.contains("LOW-ACCURACY BUNDLED MODEL"), "the PDB must say so too");
    assert!(pdb.lines().all(|l| l.len() <= 80), "PDB lines are at most 80 columns");

    let confidence = json(&record.join("confidence.json"));
    assert_eq!(confidence["low_accuracy_bundled_model"], true);
    assert_eq!(confidence["model"], "ferrofold_small");
    assert_eq!(confidence["plddt"].as_array().unwrap().len(), UBIQUITIN.len());
    let pae = json(&record.join("pae.json"));
    let matrix = pae[0]["predicted_aligned_error"].as_array().unwrap();
    assert_eq!(matrix.len(), UBIQUITIN.len());
    assert!(pae[0]["max_predicted_aligned_error"].as_f64().unwrap() > 30.0);
    let ranking = json(&record.join("ranking.json"));
    assert_eq!(ranking["order"][0], "ferrofold_small");

    read_with_gemmi_and_biotite(&record);
}

/// gemmi and biotite read both files with the right sequence. They run from the Python that
/// `.ci/run` installs (`FERROFOLD_PYTHON`); elsewhere the check is skipped with a message.
fn read_with_gemmi_and_biotite(record: &Path) {
    let Ok(python) = std::env::var("FERROFOLD_PYTHON") else {
        eprintln!("FERROFOLD_PYTHON unset: gemmi/biotite check skipped (.ci/run sets it)");
        return;
    };
    let script = r#"
import sys, gemmi, biotite.structure as bs, biotite.structure.io as bio
for path in sys.argv[1:]:
    st = gemmi.read_structure(path)
    seq = gemmi.one_letter_code([r.name for r in st[0][0]])
    atoms = bio.load_structure(path)
    seq2 = ''.join(bs.info.one_letter_code(r) for r in bs.get_residues(atoms)[1])
    print(path, seq, seq2, bs.get_residue_count(atoms), atoms.b_factor.max() if hasattr(atoms, 'b_factor') else '-')
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
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[1], UBIQUITIN, "gemmi: {line}");
        assert_eq!(fields[2], UBIQUITIN, "biotite: {line}");
    }
    assert_eq!(text.lines().count(), 2);
}

/// Runs `predict` on the bundled ubiquitin example with `params`, then `forward` on the batch it
/// saved, and checks that both give the same pLDDT, pTM and coordinates.
fn assert_predict_equals_forward(params: &str, preset: &str, recycles: usize) {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().to_str().unwrap();
    let out = ferrofold(&[
        "predict",
        &example("ubiquitin.fasta"),
        "--msa",
        &example("ubiquitin.sto"),
        "--out-dir",
        out_dir,
        "--params",
        params,
        "--preset",
        preset,
        "--recycles",
        &recycles.to_string(),
        "--save-features",
        "--no-plots",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("bundled model"));
    let record = dir.path().join("1UBQ_A");
    let features = record.join(format!("features_{preset}.npz"));
    let batch = FeatureDict::load_npz(&features).unwrap();
    assert_eq!(batch.get("msa_feat").unwrap().shape()[0], recycles + 1, "1 + recycles");
    let forward_out = dir.path().join("forward.npz");
    let out = ferrofold(&[
        "forward",
        "--features",
        features.to_str().unwrap(),
        "--params",
        params,
        "--preset",
        preset,
        "--output",
        forward_out.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let forward = FeatureDict::load_npz(&forward_out).unwrap();

    // forward stores float32; confidence.json holds the same float32 values widened.
    let plddt = forward.get("plddt").unwrap().to_f64();
    let confidence = json(&record.join("confidence.json"));
    for (i, value) in confidence["plddt"].as_array().unwrap().iter().enumerate() {
        assert_eq!(value.as_f64().unwrap() as f32, plddt[i] as f32, "pLDDT {i}");
    }
    let ptm = forward.get("ptm").unwrap().to_f64().iter().next().copied().unwrap();
    assert_eq!(confidence["ptm"].as_f64().unwrap() as f32, ptm as f32);
    let positions = forward.get("structure_module/final_atom_positions").unwrap().to_f64();
    let protein = read_structure(&record.join("ranked_0.pdb"), None).unwrap();
    let mut largest = 0f64;
    for (index, &p) in positions.indexed_iter() {
        if protein.atom_mask[[index[0], index[1]]] > 0.0 {
            let written = protein.atom_positions[[index[0], index[1], index[2]]];
            largest = largest.max((written - p).abs());
        }
    }
    // The PDB has three decimals.
    assert!(largest <= 5.1e-4, "positions differ by {largest}");
}

#[test]
fn predict_and_forward_are_one_pipeline() {
    assert_predict_equals_forward(&reduced_params(), "reduced", 2);
}

/// The same at full size, with the random `model_1_ptm` parameters in AlphaFold's layout that
/// DeepMind's code reads (tools/reference/make_ref.py, see model/tests/full_parity.rs):
///
/// ```sh
/// cd tools/reference && venv/bin/python make_ref.py --preset model_1_ptm --seed 1 --n_res 32 \
///     --n_msa 16 --n_extra 32 --n_templates 2 --max_templates 4 --no_capture \
///     --out ../../target/reference/model_1_ptm_s1
/// cargo test --release -p ferrofold-inference --test predict_cli -- --ignored full_size
/// ```
#[test]
#[ignore = "needs the 373 MB parameter file from tools/reference/make_ref.py; minutes of CPU"]
fn full_size_predict_and_forward_are_one_pipeline() {
    let params =
        workspace_root().join("target/reference/model_1_ptm_s1/params/params_model_1_ptm.npz");
    assert!(params.exists(), "{} missing: see this test's comment", params.display());
    assert_predict_equals_forward(params.to_str().unwrap(), "model_1_ptm", 1);
}

/// With trained weights (DeepMind's `params_model_*.npz` or an OpenFold `.pt`, which cannot be
/// downloaded where the tests run), the backbone is ideal: every Cα–Cα distance of the bundled
/// example within 3.8 ± 0.1 Å (ubiquitin has no cis peptide), in both written files.
///
/// ```sh
/// FERROFOLD_TRAINED_PARAMS=params_model_1_ptm.npz [FERROFOLD_TRAINED_PRESET=model_1_ptm] \
///     cargo test --release -p ferrofold-inference --test predict_cli -- --ignored trained_weights
/// ```
#[test]
#[ignore = "needs trained AlphaFold or OpenFold weights (FERROFOLD_TRAINED_PARAMS)"]
fn trained_weights_give_ideal_backbone_geometry() {
    let params = std::env::var("FERROFOLD_TRAINED_PARAMS")
        .expect("FERROFOLD_TRAINED_PARAMS: path of trained weights");
    let mut args = vec![
        "predict".to_string(),
        example("ubiquitin.fasta"),
        "--msa".into(),
        example("ubiquitin.sto"),
        "--params".into(),
        params,
        "--no-plots".into(),
    ];
    if let Ok(preset) = std::env::var("FERROFOLD_TRAINED_PRESET") {
        args.extend(["--preset".into(), preset]);
    }
    let dir = tempfile::tempdir().unwrap();
    args.extend(["--out-dir".into(), dir.path().to_str().unwrap().into()]);
    let out = ferrofold(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", stderr(&out));
    for name in ["ranked_0.pdb", "ranked_0.cif"] {
        let protein = read_structure(&dir.path().join("1UBQ_A").join(name), None).unwrap();
        assert_eq!(protein.sequence(), UBIQUITIN);
        let ca = |i: usize| protein.atom_positions.slice(ndarray::s![i, 1, ..]).to_owned();
        for i in 0..UBIQUITIN.len() - 1 {
            let distance = (ca(i + 1) - ca(i)).mapv(|x| x * x).sum().sqrt();
            assert!((distance - 3.8).abs() <= 0.1, "{name}: Cα {i}–{} at {distance:.2} Å", i + 1);
        }
    }
}

/// `--threads 1` puts rayon and matrixmultiply on one thread; matmuls split their work by
/// output blocks, so the prediction is the same bytes as on two threads (explicitly two: on a
/// one-core machine the default would also be one).
#[test]
fn the_thread_count_does_not_change_the_prediction() {
    let dir = tempfile::tempdir().unwrap();
    let example_fasta = example("ubiquitin.fasta");
    let predict = |name: &str, threads: &[&str]| {
        let out_dir = dir.path().join(name);
        let mut args = vec!["predict", &example_fasta, "--out-dir", out_dir.to_str().unwrap()];
        args.extend(["--recycles", "1", "--no-plots", "--quiet"]);
        args.extend(threads);
        let out = ferrofold(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        std::fs::read(out_dir.join("1UBQ_A/ranked_0.pdb")).unwrap()
    };
    assert_eq!(predict("one", &["--threads", "1"]), predict("two", &["--threads", "2"]));
}

#[test]
fn bad_input_fails_with_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let write = |name: &str, bytes: &[u8]| std::fs::write(path(name), bytes).unwrap();
    write("empty.fasta", b"");
    write("binary.fasta", &[0u8, 159, 146, 150, 255, 0, 1, 2]);
    write("star.fasta", b">bad\nMKV*LLA\n");
    write("digits.fasta", b">bad\nMKV12LLA\n");
    write("zero.fasta", b">empty\n>next\nMKV\n");
    write("huge.fasta", format!(">huge\n{}\n", "A".repeat(50_000)).as_bytes());
    write("garbage.npz", b"not a zip file");
    let out_dir = path("out");
    let out_dir = out_dir.to_str().unwrap();

    // A first, good prediction whose outputs must survive every failure below.
    let good = ferrofold(&[
        "predict",
        &example("ubiquitin.fasta"),
        "--out-dir",
        out_dir,
        "--recycles",
        "0",
        "--no-plots",
        "--quiet",
    ]);
    assert!(good.status.success(), "{}", stderr(&good));
    let ranked = Path::new(out_dir).join("1UBQ_A/ranked_0.pdb");
    let before = std::fs::read(&ranked).unwrap();

    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![path("empty.fasta").display().to_string()], "empty.fasta"),
        (vec![path("binary.fasta").display().to_string()], "binary.fasta"),
        (vec![path("star.fasta").display().to_string()], "star.fasta"),
        (vec![path("digits.fasta").display().to_string()], "digits.fasta"),
        (vec![path("zero.fasta").display().to_string()], "zero.fasta"),
        (vec![path("huge.fasta").display().to_string()], "huge.fasta"),
        (vec![path("missing.fasta").display().to_string()], "missing.fasta"),
        (
            vec![
                example("ubiquitin.fasta"),
                "--params".into(),
                path("garbage.npz").display().to_string(),
                "--preset".into(),
                "reduced".into(),
            ],
            "garbage.npz",
        ),
        (
            vec![
                example("ubiquitin.fasta"),
                "--params".into(),
                path("absent.npz").display().to_string(),
                "--preset".into(),
                "model_1".into(),
            ],
            "absent.npz",
        ),
        (
            vec![
                example("ubiquitin.fasta"),
                "--params".into(),
                reduced_params(),
                "--preset".into(),
                "model_1_ptm".into(),
            ],
            "params_reduced.npz",
        ),
        (vec![example("ubiquitin.fasta"), "--threads".into(), "0".into()], "--threads"),
    ];
    for (input, named) in cases {
        let mut args: Vec<String> = vec!["predict".into()];
        args.extend(input);
        args.extend(["--out-dir".into(), out_dir.into(), "--quiet".into(), "--no-plots".into()]);
        let out = ferrofold(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let err = stderr(&out);
        assert!(!out.status.success(), "{named}: succeeded");
        assert!(!err.contains("panicked"), "{named}: {err}");
        let error_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
        assert!(
            error_lines.iter().any(|l| l.contains(named)),
            "{named}: no error line names it:\n{err}"
        );
        assert_eq!(std::fs::read(&ranked).unwrap(), before, "{named}: earlier output changed");
    }

    // The 50,000-residue record is refused with the estimate and advice.
    let out = ferrofold(&["predict", path("huge.fasta").to_str().unwrap(), "--out-dir", out_dir]);
    let err = stderr(&out);
    assert!(err.contains("50000 residues need about") && err.contains("GiB"), "{err}");
}

#[test]
fn msa_search_with_each_tool_feeds_the_prediction_and_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    // A small database: the fixture chains' sequences, ubiquitin among them.
    let mut database = String::new();
    for key in ["1UBQ_A", "5PTI_A", "1AKE_A", "1A1F_A"] {
        let text = std::fs::read_to_string(
            workspace_root().join(format!("tests/fixtures/data/{key}.fasta")),
        )
        .unwrap();
        let sequence: String = text.lines().skip(1).take_while(|l| !l.starts_with('>')).collect();
        database.push_str(&format!(">{key}\n{sequence}\n"));
    }
    let db = dir.path().join("db.fasta");
    std::fs::write(&db, database).unwrap();
    for (tool, file) in [("jackhmmer", "jackhmmer_0_db.sto"), ("mmseqs2", "mmseqs2_0_db.a3m")] {
        let out_dir = dir.path().join(tool);
        // With `path` as PATH (None: this process's).
        let run = |path: Option<&str>| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_ferrofold"));
            command.env("FERROFOLD_WEIGHTS", no_installed_weights());
            command.args([
                "predict",
                &example("ubiquitin.fasta"),
                "--out-dir",
                out_dir.to_str().unwrap(),
                "--msa-tool",
                tool,
                "--database",
                db.to_str().unwrap(),
                "--recycles",
                "0",
                "--no-plots",
                "--quiet",
            ]);
            if let Some(path) = path {
                command.env("PATH", path);
            }
            command.output().unwrap()
        };
        let first = run(None);
        assert!(first.status.success(), "{tool}: {}", stderr(&first));
        let msa = out_dir.join("1UBQ_A/msas").join(file);
        let text = std::fs::read_to_string(&msa).unwrap();
        assert!(text.contains("1UBQ_A"), "{tool}: ubiquitin finds itself:\n{text}");
        assert!(!text.contains("5PTI_A"), "{tool}: unrelated chains are not hits");
        assert!(out_dir.join("1UBQ_A/ranked_0.pdb").is_file());
        let cached: Vec<_> = std::fs::read_dir(out_dir.join("msa_cache")).unwrap().collect();
        assert_eq!(cached.len(), 1, "{tool}: one cached result");
        // The second run reads the cache: same alignment, even with the tool gone from PATH.
        std::fs::remove_file(&msa).unwrap();
        let second = run(Some(""));
        assert!(second.status.success(), "{tool}: {}", stderr(&second));
        assert_eq!(std::fs::read_to_string(&msa).unwrap(), text);
    }
}

#[test]
fn a_missing_search_tool_or_database_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.fasta");
    std::fs::write(&db, ">x\nMKV\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferrofold"))
        .env("FERROFOLD_WEIGHTS", no_installed_weights())
        .args([
            "predict",
            &example("ubiquitin.fasta"),
            "--out-dir",
            dir.path().join("out").to_str().unwrap(),
            "--msa-tool",
            "jackhmmer",
            "--database",
            db.to_str().unwrap(),
            "--quiet",
        ])
        .env("PATH", "")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(!err.contains("panicked"), "{err}");
    let line =
        err.lines().find(|l| l.starts_with("error") && l.contains("ubiquitin.fasta")).expect(&err);
    assert!(line.contains("jackhmmer") && line.contains("hmmer"), "{line}");
    // A database that does not exist is named too.
    let out = ferrofold(&[
        "predict",
        &example("ubiquitin.fasta"),
        "--out-dir",
        dir.path().join("out").to_str().unwrap(),
        "--msa-tool",
        "mmseqs2",
        "--database",
        "/nonexistent/uniref.fasta",
        "--quiet",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("/nonexistent/uniref.fasta"), "{}", stderr(&out));
}

#[test]
fn templates_from_hhsearch_hits_reach_the_network() {
    let templates = workspace_root().join("tests/fixtures/data/templates");
    let path = |name: &str| templates.join(name).to_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let raw_path = dir.path().join("raw.npz");
    let featurize = |mmcif_dir: &str| {
        ferrofold(&[
            "featurize",
            "--fasta",
            &path("2HHB_B.fasta"),
            "--template-hits",
            &path("2HHB_B_hhsearch.hhr"),
            "--mmcif-dir",
            mmcif_dir,
            "--max-template-date",
            "2005-01-01",
            "--output",
            raw_path.to_str().unwrap(),
        ])
    };
    let out = featurize(&path("mmcif"));
    assert!(out.status.success(), "{}", stderr(&out));
    // The same features as DeepMind's featurizer (features/tests/template_parity.rs).
    let raw = FeatureDict::load_npz(&raw_path).unwrap();
    let expected = FeatureDict::load_npz(
        &workspace_root().join("tests/fixtures/reference/templates_2HHB_B.npz"),
    )
    .unwrap();
    for name in ["template_aatype", "template_all_atom_positions", "template_sum_probs"] {
        assert_eq!(
            raw.get(name).unwrap().to_f64(),
            expected.get(&format!("max20/{name}")).unwrap().to_f64(),
            "{name}"
        );
    }

    // predict: the network reads the first 4 templates, and they change its output.
    let run = |with_templates: bool, out_dir: &Path| {
        let mut args = vec![
            "predict".to_string(),
            path("2HHB_B.fasta"),
            "--msa-mode".into(),
            "single-sequence".into(),
            "--out-dir".into(),
            out_dir.to_str().unwrap().into(),
            "--params".into(),
            reduced_params(),
            "--preset".into(),
            "reduced".into(),
            "--recycles".into(),
            "0".into(),
            "--save-features".into(),
            "--no-plots".into(),
        ];
        if with_templates {
            for a in ["--template-hits", "2HHB_B_hhsearch.hhr", "--mmcif-dir", "mmcif"] {
                args.push(if a.starts_with("--") { a.into() } else { path(a) });
            }
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = ferrofold(&refs);
        assert!(out.status.success(), "{}", stderr(&out));
        out_dir.join("2HHB_B")
    };
    let with = run(true, &dir.path().join("with"));
    let without = run(false, &dir.path().join("without"));
    let batch = FeatureDict::load_npz(&with.join("features_reduced.npz")).unwrap();
    assert_eq!(batch.get("template_mask").unwrap().shape(), [1, 4]);
    // The network's templates are the featurizer's four, atom for atom.
    for name in ["template_all_atom_positions", "template_all_atom_masks"] {
        let ours = batch.get(name).unwrap_or_else(|| panic!("{name} in the batch")).to_f64();
        assert_eq!(
            ours.index_axis(ndarray::Axis(0), 0).to_owned(),
            expected.get(&format!("max20/{name}")).unwrap().to_f64(),
            "{name}"
        );
    }
    assert!(FeatureDict::load_npz(&without.join("features_reduced.npz"))
        .unwrap()
        .get("template_mask")
        .is_none());
    let plddt = |d: &Path| json(&d.join("confidence.json"))["mean_plddt"].as_f64().unwrap();
    assert_ne!(plddt(&with), plddt(&without));

    // A hits file whose mmCIF directory is missing is named.
    let out = featurize("/nonexistent/mmcif");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("/nonexistent/mmcif"), "{}", stderr(&out));
}

#[test]
fn templates_searched_with_hhsearch_reach_the_network() {
    let templates = workspace_root().join("tests/fixtures/data/templates");
    let dir = tempfile::tempdir().unwrap();
    // A PDB70-like database of four template chains, their SEQRES from the fixture's mmCIF.
    let entries: Vec<(String, String)> =
        [("2hhb", "A"), ("1ubq", "A"), ("2e12", "A"), ("1a1x", "A")]
            .iter()
            .map(|(id, chain)| {
                let path = templates.join(format!("mmcif/{id}.cif"));
                let entry =
                    ferrofold_features::parsers::mmcif::read_mmcif_entry(&path, id).unwrap();
                (format!("{}_{chain}", id.to_uppercase()), entry.seqres(chain).unwrap().to_string())
            })
            .collect();
    let db_dir = dir.path().join("pdb70");
    std::fs::create_dir_all(&db_dir).unwrap();
    let database = ferrofold_tests::hhsuite_database(&db_dir, &entries);
    let out_dir = dir.path().join("out");
    let out = ferrofold(&[
        "predict",
        templates.join("2HHB_B.fasta").to_str().unwrap(),
        "--msa-mode",
        "single-sequence",
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--params",
        &reduced_params(),
        "--preset",
        "reduced",
        "--recycles",
        "0",
        "--template-database",
        database.to_str().unwrap(),
        "--mmcif-dir",
        templates.join("mmcif").to_str().unwrap(),
        "--save-features",
        "--no-plots",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let hits_path = out_dir.join("2HHB_B/msas/hhsearch_db.hhr");
    let hits = std::fs::read_to_string(&hits_path).unwrap();
    assert!(hits.contains("2HHB_A"), "haemoglobin α is a hit:\n{hits}");
    let batch = FeatureDict::load_npz(&out_dir.join("2HHB_B/features_reduced.npz")).unwrap();
    let templates_used = batch.get("template_mask").unwrap().shape()[1];
    assert!(templates_used >= 1, "{templates_used} templates");
    // The network's templates are what the template featurizer makes of the search's hits.
    let record =
        ferrofold_features::parsers::fasta::parse_fasta_file(&templates.join("2HHB_B.fasta"))
            .unwrap()
            .remove(0);
    let mut raw = ferrofold_features::featurize::featurize_query(&record, &[]).unwrap();
    let config =
        ferrofold_features::templates::TemplateConfig::new(templates.join("mmcif"), None).unwrap();
    ferrofold_features::templates::add_template_features(
        &mut raw,
        &record.sequence,
        &hits_path,
        &config,
    )
    .unwrap();
    for name in ["template_all_atom_positions", "template_all_atom_masks"] {
        let ours = batch.get(name).unwrap().to_f64();
        let featurized = raw.get(name).unwrap().to_f64();
        assert_eq!(
            ours.index_axis(ndarray::Axis(0), 0).to_owned(),
            featurized.slice_axis(ndarray::Axis(0), (..templates_used).into()).to_owned(),
            "{name}"
        );
    }

    // A database that is not one is named.
    let out = ferrofold(&[
        "predict",
        templates.join("2HHB_B.fasta").to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--template-database",
        "/nonexistent/pdb70",
        "--mmcif-dir",
        templates.join("mmcif").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("/nonexistent/pdb70"), "{}", stderr(&out));
}

/// `--device wgpu` (Mesa's lavapipe where there is no GPU; `--features wgpu`) predicts the
/// example as the CPU does: coordinates within 0.01 Å, pLDDT within 0.01.
#[cfg(feature = "wgpu")]
#[test]
fn predict_on_wgpu_agrees_with_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let example_fasta = example("ubiquitin.fasta");
    let example_msa = example("ubiquitin.sto");
    let predict = |device: &str| {
        let out_dir = dir.path().join(device);
        let out = ferrofold(&[
            "predict",
            &example_fasta,
            "--msa",
            &example_msa,
            "--out-dir",
            out_dir.to_str().unwrap(),
            "--device",
            device,
            "--no-plots",
            "--quiet",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let record = out_dir.join("1UBQ_A");
        let protein = read_structure(&record.join("ranked_0.pdb"), None).unwrap();
        let confidence = json(&record.join("confidence.json"));
        let plddt: Vec<f64> =
            confidence["plddt"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        (protein, plddt)
    };
    let (gpu, gpu_plddt) = predict("wgpu");
    let (cpu, cpu_plddt) = predict("cpu");
    assert_eq!(gpu.atom_mask, cpu.atom_mask);
    let largest =
        |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    let coordinates =
        largest(gpu.atom_positions.as_slice().unwrap(), cpu.atom_positions.as_slice().unwrap());
    assert!(coordinates <= 0.01, "coordinates differ by {coordinates} Å");
    let plddt = largest(&gpu_plddt, &cpu_plddt);
    assert!(plddt <= 0.01, "pLDDT differs by {plddt}");
}

/// On a GPU, a chain whose pair representation (or triangle projection) exceeds the device's largest buffer (128 MiB on
/// lavapipe) is refused before the network runs, naming the tensor and the limit, instead of
/// computing garbage (a CubeCL device thread swallows the failed allocation).
#[cfg(feature = "wgpu")]
#[test]
fn a_chain_above_the_gpus_largest_buffer_is_refused() {
    use burn::backend::wgpu::Wgpu;
    let limit = ferrofold_model::kernels::largest_buffer_bytes::<Wgpu>(&Default::default())
        .expect("wgpu reports its largest buffer");
    // The bundled model's pair representation: residues² × 32 float32 channels.
    let residues = ((limit as f64 / 128.0).sqrt() as usize) + 1;
    if residues > 3_000 {
        eprintln!("this device's buffers hold {limit} bytes: not tested here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fasta = dir.path().join("long.fasta");
    std::fs::write(&fasta, format!(">long\n{}\n", "MKV".repeat(residues / 3 + 1))).unwrap();
    let out_dir = dir.path().join("out");
    let out = ferrofold(&[
        "predict",
        fasta.to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--device",
        "wgpu",
        "--quiet",
    ]);
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(
        message.contains("would take") && message.contains("than this device's largest buffer"),
        "{message}"
    );
    assert!(!out_dir.join("long").exists());
}

/// A backend missing from the build is one line saying how to build it.
#[test]
fn a_device_not_in_the_build_says_how_to_get_it() {
    for (device, built) in [("cuda", cfg!(feature = "cuda")), ("wgpu", cfg!(feature = "wgpu"))] {
        if built {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = ferrofold(&[
            "predict",
            &example("ubiquitin.fasta"),
            "--out-dir",
            dir.path().to_str().unwrap(),
            "--device",
            device,
            "--quiet",
        ]);
        assert!(!out.status.success());
        let message = stderr(&out);
        assert!(message.contains(&format!("--features {device}")), "{message}");
    }
}
