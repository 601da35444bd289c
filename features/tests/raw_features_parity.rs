//! Raw sequence and MSA features equal DeepMind's `make_sequence_features` /
//! `make_msa_features` on real chains (jackhmmer Stockholm MSAs) and on the model fixture's A3M.

use ferrofold_features::parsers::{
    a3m::parse_a3m_file, fasta::parse_fasta_file, stockholm::parse_stockholm_file,
};
use ferrofold_features::raw_features::{make_monomer_raw_features, make_msa_features};
use ferrofold_tests::{array, assert_exact, data, fixtures, reference};

const KEYS: [&str; 4] = ["1UBQ_A", "5PTI_A", "1A1F_A", "1AKE_A"];
const RAW_KEYS: [&str; 7] = [
    "aatype",
    "between_segment_residues",
    "residue_index",
    "seq_length",
    "msa",
    "deletion_matrix_int",
    "num_alignments",
];

#[test]
fn real_chains_with_stockholm_msas() {
    for key in KEYS {
        let record = &parse_fasta_file(&data(&format!("{key}.fasta"))).unwrap()[0];
        let msa = parse_stockholm_file(&data(&format!("{key}.sto"))).unwrap();
        let ours =
            make_monomer_raw_features(&record.sequence, &record.description, &[msa]).unwrap();
        let expected = reference(&format!("raw_{key}.npz"));
        for name in RAW_KEYS {
            assert_exact(&format!("{key}/{name}"), array(&ours, name), array(&expected, name));
        }
        assert_eq!(ours.strings["sequence"], vec![record.sequence.clone()]);
    }
}

#[test]
fn deduplication_across_alignments() {
    let mut sto = parse_stockholm_file(&data("1UBQ_A.sto")).unwrap();
    let mut a3m = parse_a3m_file(&fixtures().join("reference/1UBQ_A_from_sto.a3m")).unwrap();
    sto.truncate(5);
    a3m.sequences.reverse();
    a3m.deletion_matrix.reverse();
    a3m.descriptions.reverse();
    let ours = make_msa_features(&[sto, a3m]).unwrap();
    let expected = reference("raw_dedup_1UBQ_A.npz");
    for name in ["msa", "deletion_matrix_int", "num_alignments"] {
        assert_exact(name, array(&ours, name), array(&expected, name));
    }
}

#[test]
fn model_fixture_a3m() {
    // The A3M and raw features the model fixtures (tests/fixtures/reference/reduced_s0) were made from.
    let msa = parse_a3m_file(&data("reduced_s0_query.a3m")).unwrap();
    let query = msa.sequences[0].clone();
    let ours = make_monomer_raw_features(&query, "random_query", &[msa]).unwrap();
    let expected =
        ferrofold_features::FeatureDict::load_npz(&data("reduced_s0_raw_features.npz")).unwrap();
    for name in RAW_KEYS {
        assert_exact(name, array(&ours, name), array(&expected, name));
    }
}
