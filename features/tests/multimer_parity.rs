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

/// The MSA features the multimer network computes each recycle, against DeepMind's functions
/// (`make_multimer_block_fixtures.py`, block `msa_features`: the three-chain example's merged
/// MSA, cut to 100 residues). The random draws are DeepMind's (its sampled rows are the input of
/// the deterministic steps); ferrofold's own draws are checked for their properties below.
#[test]
fn network_msa_features_match_deepmind() {
    use ferrofold_features::multimer::msa_features::*;
    use ndarray::{Array2, Ix2};
    let fixture = reference("multimer_blocks_f32.npz");
    let get = |name: &str| array(&fixture, &format!("msa_features/{name}")).to_f64();
    let f32_2d = |name: &str| get(name).mapv(|v| v as f32).into_dimensionality::<Ix2>().unwrap();
    let i32_2d = |name: &str| get(name).mapv(|v| v as i32).into_dimensionality::<Ix2>().unwrap();
    let close = |name: &str, ours: ndarray::ArrayD<f32>| {
        let expected = get(name);
        assert_eq!(ours.shape(), expected.shape(), "{name}: shape");
        let scale = expected.iter().fold(0f64, |m, v| m.max(v.abs()));
        let error = ours
            .iter()
            .zip(expected.iter())
            .fold(0f64, |m, (a, b)| m.max((f64::from(*a) - b).abs()));
        assert!(error <= 1e-6 * scale.max(1.0), "{name}: max difference {error:e}");
    };
    let input = MsaBlock {
        msa: i32_2d("input_msa"),
        deletion_matrix: f32_2d("input_deletion_matrix"),
        msa_mask: f32_2d("input_msa_mask"),
        bert_mask: f32_2d("input_bert_mask"),
    };
    close("msa_profile", msa_profile(&input).into_dyn());

    let clusters = MsaBlock {
        msa: i32_2d("sampled_msa"),
        deletion_matrix: f32_2d("sampled_deletion_matrix"),
        msa_mask: f32_2d("sampled_msa_mask"),
        bert_mask: f32_2d("sampled_bert_mask"),
    };
    let extra_msa = i32_2d("sampled_extra_msa");
    let extra = MsaBlock {
        bert_mask: Array2::zeros(extra_msa.dim()),
        msa: extra_msa,
        deletion_matrix: f32_2d("sampled_extra_deletion_matrix"),
        msa_mask: f32_2d("sampled_extra_msa_mask"),
    };
    let (profile, deletion_mean) = nearest_neighbor_clusters(&clusters, &extra);
    close("cluster_profile", profile.clone().into_dyn());
    close("cluster_deletion_mean", deletion_mean.clone().into_dyn());
    close("msa_feat", msa_feat(&clusters, &profile, &deletion_mean).into_dyn());
    let (extra_feat, _) = extra_msa_feat(&extra, 100);
    close("extra_msa_feat", extra_feat.into_dyn());
}

/// ferrofold's own draws: each chain's query row is always a cluster centre, the rows are split
/// without loss, and BERT replaces about 15% of the unmasked positions of the centres, nothing
/// where the MSA is masked.
#[test]
fn network_msa_sampling_keeps_queries_and_masks_about_fifteen_percent() {
    use ferrofold_features::multimer::msa_features::*;
    use rand::SeedableRng;
    let merged = reference("multimer/three_chains.npz");
    let get = |name: &str| array(&merged, name).to_f64();
    let rows = get("num_alignments").iter().next().copied().unwrap() as usize;
    let cut = |name: &str| {
        get(name).slice_move(ndarray::s![..rows, ..]).into_dimensionality::<ndarray::Ix2>().unwrap()
    };
    let msa = MsaBlock {
        msa: cut("msa").mapv(|v| v as i32),
        deletion_matrix: cut("deletion_matrix").mapv(|v| v as f32),
        msa_mask: cut("msa_mask").mapv(|v| v as f32),
        bert_mask: cut("bert_mask").mapv(|v| v as f32),
    };
    let bias = get("cluster_bias_mask").mapv(|v| v as f32);
    let bias = bias.slice(ndarray::s![..rows]).to_owned();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let (clusters, extra) = sample_msa(&msa, &bias, 64, true, &mut rng);
    assert_eq!((clusters.msa.nrows(), extra.msa.nrows()), (64, rows - 64));
    assert_eq!(clusters.msa.row(0), msa.msa.row(0), "the query row is the first centre");
    let mut all: Vec<Vec<i32>> =
        clusters.msa.rows().into_iter().chain(extra.msa.rows()).map(|r| r.to_vec()).collect();
    let mut original: Vec<Vec<i32>> = msa.msa.rows().into_iter().map(|r| r.to_vec()).collect();
    all.sort();
    original.sort();
    assert_eq!(all, original, "every row once");

    let profile = msa_profile(&msa);
    let (masked, true_msa) =
        make_masked_msa(&clusters, &profile, &MaskedMsaConfig::default(), &mut rng);
    assert_eq!(true_msa, clusters.msa);
    // Positions BERT may use: unmasked and in the chain's own block.
    let eligible: f32 = clusters.msa_mask.iter().zip(&clusters.bert_mask).map(|(a, b)| a * b).sum();
    let replaced = masked.bert_mask.iter().filter(|m| **m > 0.0).count();
    let fraction = replaced as f32 / eligible;
    assert!((0.13..0.17).contains(&fraction), "replaced fraction {fraction}");
    for (((bert, before), mask), (after, original)) in masked
        .bert_mask
        .iter()
        .zip(&clusters.bert_mask)
        .zip(&clusters.msa_mask)
        .zip(masked.msa.iter().zip(&clusters.msa))
    {
        assert!(*mask > 0.0 || *bert == 0.0, "a BERT position where the MSA is masked");
        if *before > 0.0 && *bert == 0.0 {
            assert_eq!(after, original, "a residue changed outside the BERT positions");
        }
    }
}
