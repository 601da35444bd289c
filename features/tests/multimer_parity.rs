//! AlphaFold-Multimer's merged input features equal DeepMind's (v2.3.2 `pair_and_merge` and
//! `pad_msa`, `tools/reference/make_multimer_features.py`) on real alignments: the haemoglobin
//! heterodimer (2HHB α + β), α2β2, an α homodimer, and three chains with deeper alignments.

use ferrofold_features::multimer::{multimer_features, ChainInput};
use ferrofold_features::parsers::stockholm::parse_stockholm_file;
use ferrofold_features::{FeatureDict, Msa};
use ferrofold_tests::{array, data, reference};

fn check_case(case: &str, keys: &[&str]) {
    let expected = reference(&format!("multimer/{case}.npz"));
    let msas: Vec<Msa> =
        keys.iter().map(|k| parse_stockholm_file(&data(&format!("{k}.sto"))).unwrap()).collect();
    let templates: Vec<FeatureDict> = keys
        .iter()
        .map(|k| {
            let mut t = FeatureDict::default();
            for name in
                ["template_aatype", "template_all_atom_masks", "template_all_atom_positions"]
            {
                t.insert(name, array(&expected, &format!("input_{k}_{name}")).clone());
            }
            t
        })
        .collect();
    let inputs: Vec<ChainInput> = keys
        .iter()
        .zip(&msas)
        .zip(&templates)
        .map(|((key, msa), templates)| ChainInput {
            name: key,
            sequence: &msa.sequences[0],
            msas: std::slice::from_ref(msa),
            pairing_msa: Some(msa),
            templates: Some(templates),
        })
        .collect();
    let ours = multimer_features(&inputs).unwrap();
    let names: Vec<&String> =
        expected.arrays.keys().filter(|name| !name.starts_with("input_")).collect();
    assert_eq!(ours.arrays.keys().collect::<Vec<_>>(), names, "{case}: feature names");
    for name in names {
        let (a, b) = (array(&ours, name), array(&expected, name));
        assert_eq!(a.dtype(), b.dtype(), "{case}/{name}: dtype");
        assert_eq!(a.shape(), b.shape(), "{case}/{name}: shape");
        let (a, b) = (a.to_f64(), b.to_f64());
        let differing: Vec<_> = a.indexed_iter().filter(|(i, v)| **v != b[i]).collect();
        if let Some((index, value)) = differing.first() {
            let expected = b[index.clone()];
            if std::env::var_os("MULTIMER_DUMP").is_some() {
                ours.save_npz(std::path::Path::new(&format!("/tmp/{case}.npz"))).unwrap();
            }
            panic!(
                "{case}/{name}: {} values differ, the first at {index:?}: {value} (DeepMind: {expected})",
                differing.len()
            );
        }
    }
}

#[test]
fn haemoglobin_heterodimer() {
    check_case("2hhb_ab", &["2HHB_A", "2HHB_B"]);
}

#[test]
fn haemoglobin_tetramer_groups_chains_by_entity() {
    check_case("2hhb_abab", &["2HHB_A", "2HHB_B", "2HHB_A", "2HHB_B"]);
}

#[test]
fn homodimer_shares_one_dense_msa() {
    check_case("2hhb_aa", &["2HHB_A", "2HHB_A"]);
}

#[test]
fn three_chains_with_partial_pairings() {
    check_case("three_chains", &["1GBT_A", "1A1F_A", "1H4A_X"]);
}
