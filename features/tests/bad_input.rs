//! Malformed input gives a typed error naming the file (and line where there is one), never a
//! panic; property tests feed arbitrary text to every parser.

use ferrofold_features::parsers::hhr::parse_hhr;
use ferrofold_features::parsers::mmcif::{parse_cif, parse_mmcif_entry};
use ferrofold_features::parsers::{
    a3m::parse_a3m, clustal::parse_clustal, fasta::parse_fasta, stockholm::parse_stockholm,
};
use ferrofold_features::protein::{parse_structure, read_structure, StructureFormat};
use ferrofold_features::templates::{get_templates, TemplateConfig};
use ferrofold_features::FeaturesError;
use ferrofold_tests::data;
use proptest::prelude::*;

#[test]
fn empty_and_headerless_fasta() {
    for text in ["", "\n\n", ">only header\n"] {
        let err = parse_fasta(text, "q.fasta").unwrap_err();
        assert!(matches!(err, FeaturesError::Parse { .. }), "{err}");
        assert!(err.to_string().starts_with("q.fasta"), "{err}");
    }
}

#[test]
fn non_finite_coordinates_are_refused_with_the_line() {
    let pdb = std::fs::read_to_string(data("1UBQ_A.pdb")).unwrap();
    let lines: Vec<&str> = pdb.lines().collect();
    let atom = lines.iter().position(|l| l.starts_with("ATOM")).unwrap() + 5;
    for (start, value) in [(30, "     nan"), (38, "     inf"), (60, "   NaN")] {
        let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        edited[atom].replace_range(start..start + value.len(), value);
        let err = parse_structure(&edited.join("\n"), StructureFormat::Pdb, None, "n.pdb")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(&format!("n.pdb:{}:", atom + 1)), "{err}");
        assert!(err.contains("not a finite number"), "{err}");
    }
    let cif = std::fs::read_to_string(data("1UBQ_A.cif")).unwrap();
    let atom = cif.lines().position(|l| l.starts_with("ATOM")).unwrap();
    let mut edited: Vec<String> = cif.lines().map(|l| l.to_string()).collect();
    // Every number of the row: the coordinates are among them.
    let row: Vec<String> = edited[atom]
        .split_whitespace()
        .map(|f| if f.contains('.') && f.parse::<f64>().is_ok() { "nan".into() } else { f.into() })
        .collect();
    edited[atom] = row.join(" ");
    let err = parse_structure(&edited.join("\n"), StructureFormat::Mmcif, None, "n.cif")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&format!("n.cif:{}:", atom + 1)), "{err}");
}

#[test]
fn a3m_with_rows_of_different_length() {
    let err = parse_a3m(">q\nMKVL\n>h1\nMKVL\n>h2\nMKV\n", "x.a3m").unwrap_err();
    assert_eq!(err.to_string(), "x.a3m:5: record `h2` has 3 match columns, the query has 4");
}

#[test]
fn truncated_mmcif_is_an_error() {
    let text = std::fs::read_to_string(data("1UBQ_A.cif")).unwrap();
    let loop_start = text.find("_atom_site.group_PDB").unwrap();
    // Cut inside the atom_site loop header: the table's columns are incomplete.
    let truncated = &text[..loop_start + 60];
    let err = parse_structure(truncated, StructureFormat::Mmcif, None, "t.cif").unwrap_err();
    assert!(err.to_string().starts_with("t.cif: "), "{err}");
    // Cut in the middle of an atom line.
    let mid = text.len() / 2;
    match parse_structure(&text[..mid], StructureFormat::Mmcif, None, "t.cif") {
        Ok(p) => assert!(p.len() < 76, "a half file cannot hold the whole chain"),
        Err(e) => assert!(e.to_string().starts_with("t.cif: "), "{e}"),
    }
}

#[test]
fn pdb_without_ca_atoms() {
    let text: String = std::fs::read_to_string(data("1UBQ_A.pdb"))
        .unwrap()
        .lines()
        .filter(|l| !(l.starts_with("ATOM") && &l[12..16] == " CA "))
        .map(|l| format!("{l}\n"))
        .collect();
    let err = parse_structure(&text, StructureFormat::Pdb, None, "noca.pdb").unwrap_err();
    assert_eq!(err.to_string(), "noca.pdb: chain `A` has no CA atoms");
}

#[test]
fn other_programs_columns_after_the_element_are_ignored() {
    // theseus-style files put a serial and an atom label in columns 79+ (the charge).
    let original = std::fs::read_to_string(data("1UBQ_A.pdb")).unwrap();
    let text: String = original
        .lines()
        .map(
            |l| if l.starts_with("ATOM") { format!("{l:<78}0057 N98\n") } else { format!("{l}\n") },
        )
        .collect();
    let ours = parse_structure(&text, StructureFormat::Pdb, None, "wide.pdb").unwrap();
    let plain = parse_structure(&original, StructureFormat::Pdb, None, "1UBQ_A.pdb").unwrap();
    assert_eq!(ours.atom_positions, plain.atom_positions);

    // A file broken on every line is refused with a message of a few problems, not thousands.
    let broken: String = original
        .lines()
        .map(|l| {
            if l.starts_with("ATOM") {
                l.replacen("ATOM  ", "ATOM  x", 1) + "\n"
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let message =
        parse_structure(&broken, StructureFormat::Pdb, None, "broken.pdb").unwrap_err().to_string();
    assert!(message.starts_with("broken.pdb: ") && message.len() < 2_000, "{message}");
    assert!(message.contains("more problems"), "{message}");
}

#[test]
fn missing_files_and_unknown_formats() {
    let err = read_structure(std::path::Path::new("/nonexistent/x.pdb"), None).unwrap_err();
    assert!(matches!(err, FeaturesError::Io { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/x.pdb"));
    let err = read_structure(&data("1UBQ_A.fasta"), None).unwrap_err();
    assert!(err.to_string().contains("unknown structure format `.fasta`"), "{err}");
}

#[test]
fn wrong_chain_is_named() {
    let err = read_structure(&data("1UBQ_A.pdb"), Some("B")).unwrap_err();
    assert!(err.to_string().ends_with("no chain `B` (chains: A)"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    // Arbitrary text of the characters these formats use, including the structural ones: no
    // panic, and every refusal names the file.
    #[test]
    fn alignment_parsers_never_panic(text in "[>#/= \\n\\t.\\-a-zA-Z0-9*]{0,300}") {
        let results = [
            parse_fasta(&text, "in.aln").map(drop),
            parse_a3m(&text, "in.aln").map(drop),
            parse_stockholm(&text, "in.aln").map(drop),
            parse_clustal(&text, "in.aln").map(drop),
            parse_hhr(&text, "in.aln").map(drop),
        ];
        for error in results.into_iter().filter_map(Result::err) {
            prop_assert!(error.to_string().starts_with("in.aln"), "{}", error);
        }
    }

    #[test]
    fn parsed_a3m_rows_all_have_query_length(rows in proptest::collection::vec("[A-Za-z\\-.]{1,30}", 1..6)) {
        let text: String = rows.iter().enumerate().map(|(i, r)| format!(">r{i}\n{r}\n")).collect();
        if let Ok(msa) = parse_a3m(&text, "p") {
            let n = msa.query_len();
            prop_assert!(msa.sequences.iter().all(|s| s.len() == n));
            prop_assert!(msa.deletion_matrix.iter().all(|d| d.len() == n));
        }
    }

    #[test]
    fn cif_reader_never_panics(text in "(data_x\n)?[_a-z0-9.;'\" \n\té#]{0,300}") {
        if let Ok(block) = parse_cif(&text, "p") {
            prop_assert!(text.to_ascii_lowercase().contains("data_"));
            let _ = block.get("_x.a");
        }
        let _ = parse_mmcif_entry(&text, "x", "p");
    }

    #[test]
    fn structure_parsers_never_panic(cut in 0usize..40_000, junk in "[ -~\\n]{0,80}") {
        for (name, format) in [("1UBQ_A.pdb", StructureFormat::Pdb), ("1UBQ_A.cif", StructureFormat::Mmcif)] {
            let text = std::fs::read_to_string(data(name)).unwrap();
            let cut = cut.min(text.len());
            let mangled = format!("{}{}", &text[..cut], junk);
            if let Err(e) = parse_structure(&mangled, format, None, "in.pdb") {
                prop_assert!(e.to_string().starts_with("in.pdb"), "{}", e);
            }
        }
        let text = std::fs::read_to_string(data("templates/mmcif/2hhb.cif")).unwrap();
        let cut = cut.min(text.len());
        let _ = parse_mmcif_entry(&format!("{}{}", &text[..cut], junk), "2hhb", "p");
    }
}

proptest! {
    // Each case may run kalign (the realigned hit): fewer cases.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    // Damaged hhsearch output: hits that still parse go through the template featurizer.
    #[test]
    fn template_featurizer_never_panics(cut in 0usize..8_000, junk in "[ -~\n]{0,60}") {
        let text = std::fs::read_to_string(data("templates/2HHB_B_hhsearch.hhr")).unwrap();
        let cut = cut.min(text.len());
        if let Ok(hits) = parse_hhr(&format!("{}{}", &text[..cut], junk), "p") {
            let config = TemplateConfig::new(data("templates/mmcif"), Some("2005-01-01")).unwrap();
            let query = "VHLTPEEKSAVTALWGKVNVDEVGGEALGRLLVVYPWTQRFFESFGDLSTPDAVMGNPKVKAHGKKVLG";
            let _ = get_templates(query, None, &hits, &config);
        }
    }
}
