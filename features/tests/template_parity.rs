//! Template features from hhsearch hits + mmCIF files equal DeepMind's TemplateHitFeaturizer
//! (alphafold 2.0.0) on the case tools/reference/make_template_fixtures.py builds: a real
//! homolog realigned with kalign (its SEQRES was changed), a selenomethionine, a swapped
//! arginine, duplicates and short alignments filtered, release-date cut-offs, max hits.
//! Needs `kalign` (Debian package kalign) on PATH.

use ferrofold_features::parsers::hhr::{parse_hhr_file, HhrHit};
use ferrofold_features::parsers::mmcif::{parse_cif, read_mmcif_entry};
use ferrofold_features::templates::{get_templates, TemplateConfig};
use ferrofold_tests::{array, assert_exact, data, fixtures, reference};
use serde_json::Value;

fn report() -> Value {
    let text = std::fs::read_to_string(fixtures().join("reference/templates_2HHB_B.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The fixture's hhsearch hits and its query sequence.
fn hits_and_query() -> (Vec<HhrHit>, String) {
    let hits = parse_hhr_file(&data("templates/2HHB_B_hhsearch.hhr")).unwrap();
    (hits, report()["query_sequence"].as_str().unwrap().to_string())
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[test]
fn template_features_equal_deepminds() {
    let report = report();
    let expected = reference("templates_2HHB_B.npz");
    let (hits, query) = hits_and_query();
    let query = query.as_str();
    for run in report["runs"].as_array().unwrap() {
        let name = run["name"].as_str().unwrap();
        let mut config =
            TemplateConfig::new(data("templates/mmcif"), run["max_template_date"].as_str())
                .unwrap();
        config.max_hits = run["max_hits"].as_u64().unwrap() as usize;
        let result =
            get_templates(query, run["query_release_date"].as_str(), &hits, &config).unwrap();
        let names: Vec<String> = result.templates.iter().map(|t| t.domain_name.clone()).collect();
        assert_eq!(names, strings(&run["template_domain_names"]), "{name}: templates");
        let sequences: Vec<String> = result.templates.iter().map(|t| t.sequence.clone()).collect();
        assert_eq!(sequences, strings(&run["template_sequence"]), "{name}: sequences");
        let dates: Vec<String> = result.templates.iter().map(|t| t.release_date.clone()).collect();
        assert_eq!(dates, strings(&run["template_release_date"]), "{name}: release dates");
        assert_eq!(result.errors.len(), run["errors"].as_array().unwrap().len(), "{name}");
        assert_eq!(result.warnings.len(), run["warnings"].as_array().unwrap().len(), "{name}");
        for feature in [
            "template_aatype",
            "template_all_atom_positions",
            "template_all_atom_masks",
            "template_confidence_scores",
            "template_sum_probs",
            "template_e_value",
            "template_prob_true",
            "template_score",
            "template_neff",
            "template_similarity",
        ] {
            let key = format!("{name}/{feature}");
            assert_exact(&key, array(&result.features, feature), array(&expected, &key));
        }
    }
}

#[test]
fn mmcif_entry_maps_seqres_to_observed_residues() {
    // 2HHB: chains A and B in one file; Met 32 of A is MSE.
    let entry = read_mmcif_entry(&data("templates/mmcif/2hhb.cif"), "2hhb").unwrap();
    let chains: Vec<&str> = entry.chain_to_seqres.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(chains, ["A", "B"]);
    assert_eq!(entry.release_date.as_deref(), Some("1990-01-01"));
    assert_eq!(entry.resolution, 1.85);
    let a = &entry.seqres_to_structure["A"];
    assert_eq!(a.len(), entry.seqres("A").unwrap().len());
    let mse = a.iter().flatten().find(|r| r.name == "MSE").unwrap();
    assert!(mse.atoms.iter().any(|atom| atom.name == "SE"));
    // SEQRES residues 50-52 of chain A have no atoms.
    let missing: Vec<usize> = (0..a.len()).filter(|&i| a[i].is_none()).collect();
    assert_eq!(missing, [49, 50, 51]);
}

#[test]
fn damaged_mmcif_is_an_error_naming_the_file() {
    let text = std::fs::read_to_string(data("templates/mmcif/1ubq.cif")).unwrap();
    // Truncated in the middle of the atom records.
    let cut = &text[..text.len() * 2 / 3];
    let cut = &cut[..cut.rfind('\n').unwrap()];
    let truncated = format!("{}\n1.0 2.0", cut);
    let err = ferrofold_features::parsers::mmcif::parse_mmcif_entry(&truncated, "1ubq", "cut.cif")
        .unwrap_err()
        .to_string();
    assert!(err.contains("cut.cif"), "{err}");
    assert!(parse_cif("not a cif", "x.cif").unwrap_err().to_string().contains("x.cif"));
}

#[test]
fn missing_mmcif_files_are_reported_per_hit() {
    let (hits, query) = hits_and_query();
    let query = query.as_str();
    let empty = tempfile::tempdir().unwrap();
    let config = TemplateConfig::new(empty.path(), Some("2005-01-01")).unwrap();
    let result = get_templates(query, None, &hits, &config).unwrap();
    assert!(result.templates.is_empty() && result.features.arrays.is_empty());
    assert!(!result.errors.is_empty());
    assert!(result.errors[0].contains("2hhb.cif"), "{}", result.errors[0]);
    assert!(TemplateConfig::new(empty.path(), Some("05/01/2005")).is_err());
}

#[test]
fn entries_without_a_release_date_need_no_cut_off() {
    let (hits, query) = hits_and_query();
    let query = query.as_str();
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(data("templates/mmcif")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        // 1UBQ loses its release dates (the loop keeps its shape under another name).
        let text = if path.ends_with("1ubq.cif") {
            text.replace("_pdbx_audit_revision_history.revision_date", "_pdbx_audit_x.date")
        } else {
            text
        };
        std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
    }
    let names = |date: Option<&str>| {
        let config = TemplateConfig::new(dir.path(), date).unwrap();
        let result = get_templates(query, None, &hits, &config).unwrap();
        let names: Vec<String> = result.templates.iter().map(|t| t.domain_name.clone()).collect();
        (names, result.errors)
    };
    let (with_cut_off, errors) = names(Some("2005-01-01"));
    assert!(!with_cut_off.contains(&"1ubq_A".to_string()), "{with_cut_off:?}");
    assert!(errors.iter().any(|e| e.contains("1ubq") && e.contains("release date")), "{errors:?}");
    let (without, _) = names(None);
    assert!(without.contains(&"1ubq_A".to_string()), "{without:?}");
}

#[test]
fn featurizing_many_records_reads_each_records_hits() {
    use ferrofold_features::featurize::{featurize_many, TemplateHitsDir};
    use ferrofold_features::parsers::fasta::parse_fasta_file;
    let records = parse_fasta_file(&data("templates/2HHB_B.fasta")).unwrap();
    let hits = tempfile::tempdir().unwrap();
    std::fs::copy(data("templates/2HHB_B_hhsearch.hhr"), hits.path().join("2HHB_B.hhr")).unwrap();
    let config = TemplateConfig::new(data("templates/mmcif"), Some("2005-01-01")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let templates = TemplateHitsDir { dir: hits.path(), config: &config };
    let results = featurize_many(&records, None, Some(&templates), out.path(), || {}).unwrap();
    let written = results[0].1.as_ref().unwrap();
    let features = ferrofold_features::FeatureDict::load_npz(written).unwrap();
    let expected = reference("templates_2HHB_B.npz");
    assert_exact(
        "template_all_atom_positions",
        array(&features, "template_all_atom_positions"),
        array(&expected, "max20/template_all_atom_positions"),
    );
    // Without a hits file for the record: no templates, no error.
    let empty = tempfile::tempdir().unwrap();
    let templates = TemplateHitsDir { dir: empty.path(), config: &config };
    let results = featurize_many(&records, None, Some(&templates), out.path(), || {}).unwrap();
    let features = ferrofold_features::FeatureDict::load_npz(results[0].1.as_ref().unwrap());
    assert!(features.unwrap().get("template_aatype").is_none());
}
