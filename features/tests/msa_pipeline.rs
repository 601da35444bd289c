//! The MSA transforms against DeepMind's (`tools/reference/make_pipeline_fixtures.py`: each
//! transform of `alphafold.model.tf.data_transforms` run in turn on the raw features of 1A1F
//! chain A), and the sampled steps and the whole inference pipeline by their properties.

use ferrofold_features::msa_transforms::{
    correct_msa_restypes, make_hhblits_profile, make_masked_msa, make_msa_feat,
    nearest_neighbor_clusters, sample_msa, summarize_clusters, MaskedMsaConfig, MsaRows,
    MASK_TOKEN,
};
use ferrofold_features::process::{process_monomer_features, PipelineConfig};
use ferrofold_features::FeatureDict;
use ferrofold_tests::{array, assert_close, reference};
use ndarray::{Array2, ArrayD, Axis, Ix1, Ix2, Ix3};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn int2(dict: &FeatureDict, name: &str) -> Array2<i32> {
    array(dict, name).to_f64().mapv(|v| v as i32).into_dimensionality::<Ix2>().unwrap()
}

fn f32_2(dict: &FeatureDict, name: &str) -> Array2<f32> {
    array(dict, name).to_f64().mapv(|v| v as f32).into_dimensionality::<Ix2>().unwrap()
}

fn rows(msa: Array2<i32>, deletion_matrix: Array2<f32>) -> MsaRows {
    let msa_mask = Array2::ones(msa.raw_dim());
    MsaRows { msa, deletion_matrix, msa_mask }
}

#[test]
fn deterministic_msa_transforms_match_deepmind() {
    let raw = reference("raw_1A1F_A.npz");
    let expected = reference("pipeline_1A1F_A.npz");

    let corrected = correct_msa_restypes(int2(&raw, "msa").view()).unwrap();
    assert_eq!(corrected, int2(&expected, "msa_corrected"));
    let profile = make_hhblits_profile(corrected.view());
    assert_close(
        "hhblits_profile",
        &profile.mapv(f64::from).into_dyn(),
        &array(&expected, "hhblits_profile").to_f64(),
        1e-7,
    );

    // DeepMind's random draws (sample, BERT corruption) are this test's inputs.
    let mut sampled =
        rows(int2(&expected, "bert_msa"), f32_2(&expected, "sampled_deletion_matrix"));
    let extra = rows(int2(&expected, "extra_msa"), f32_2(&expected, "extra_deletion_matrix"));
    let assignment = nearest_neighbor_clusters(&sampled, &extra);
    let expected_assignment =
        array(&expected, "extra_cluster_assignment").to_f64().into_dimensionality::<Ix1>().unwrap();
    assert_eq!(assignment.mapv(|a| a as f64), expected_assignment);
    // The assignment is not trivial: several clusters receive rows.
    let mut used = assignment.to_vec();
    used.sort_unstable();
    used.dedup();
    assert!(used.len() > 3, "clusters used: {used:?}");

    let (cluster_profile, cluster_deletion_mean) =
        summarize_clusters(&sampled, &extra, &assignment);
    assert_close(
        "cluster_profile",
        &cluster_profile.mapv(f64::from).into_dyn(),
        &array(&expected, "cluster_profile").to_f64(),
        1e-6,
    );
    assert_close(
        "cluster_deletion_mean",
        &cluster_deletion_mean.mapv(f64::from).into_dyn(),
        &array(&expected, "cluster_deletion_mean").to_f64(),
        1e-5,
    );
    sampled.msa_mask.fill(1.0);
    let msa_feat = make_msa_feat(&sampled, &cluster_profile, &cluster_deletion_mean);
    assert_close(
        "msa_feat",
        &msa_feat.mapv(f64::from).into_dyn(),
        &array(&expected, "msa_feat").to_f64(),
        1e-6,
    );
}

#[test]
fn sampling_keeps_the_query_first_and_partitions_the_rows() {
    let raw = reference("raw_1A1F_A.npz");
    let msa = correct_msa_restypes(int2(&raw, "msa").view()).unwrap();
    let all = rows(msa.clone(), Array2::zeros(msa.raw_dim()));
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (sampled, extra) = sample_msa(&all, 16, &mut rng);
    assert_eq!(sampled.num_rows(), 16);
    assert_eq!(extra.num_rows(), msa.nrows() - 16);
    assert_eq!(sampled.msa.row(0), msa.row(0));
    // Every row of the input appears once in sampled ∪ extra.
    let mut seen: Vec<Vec<i32>> =
        sampled.msa.outer_iter().chain(extra.msa.outer_iter()).map(|r| r.to_vec()).collect();
    let mut original: Vec<Vec<i32>> = msa.outer_iter().map(|r| r.to_vec()).collect();
    seen.sort();
    original.sort();
    assert_eq!(seen, original);
    // The draw is random: not simply the first 16 rows.
    assert_ne!(sampled.msa, msa.slice(ndarray::s![..16, ..]).to_owned());
}

#[test]
fn masked_msa_replaces_the_configured_fraction() {
    let raw = reference("raw_1A1F_A.npz");
    let msa = correct_msa_restypes(int2(&raw, "msa").view()).unwrap();
    let profile = make_hhblits_profile(msa.view());
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let config = MaskedMsaConfig::default();
    let masked = make_masked_msa(msa.view(), profile.view(), &config, &mut rng);
    let positions = msa.len() as f64;
    let chosen = masked.bert_mask.sum() as f64;
    // 9,828 positions at 15%: a binomial standard deviation of 35; allow 5.
    assert!((chosen / positions - 0.15).abs() < 5.0 * (0.15 * 0.85 / positions).sqrt());
    let mut mask_tokens = 0.0;
    for ((index, &letter), &chosen) in masked.msa.indexed_iter().zip(masked.bert_mask.iter()) {
        if chosen == 0.0 {
            assert_eq!(letter, msa[index], "an unchosen position changed");
        } else if letter == MASK_TOKEN {
            mask_tokens += 1.0;
        }
    }
    // 70% of the chosen positions become the mask token.
    let fraction = mask_tokens / masked.bert_mask.sum() as f64;
    assert!((fraction - 0.7).abs() < 0.05, "mask-token fraction {fraction}");
    assert_eq!(masked.true_msa, msa);
}

#[test]
fn inference_pipeline_shapes_seeds_and_resampling() {
    let raw = reference("raw_1A1F_A.npz");
    let config = PipelineConfig { max_msa_clusters: 32, max_extra_msa: 40, ..Default::default() };
    let batch = process_monomer_features(&raw, &config, 5).unwrap();
    let msa_feat =
        array(&batch, "msa_feat").to_f64().into_dimensionality::<ndarray::Ix4>().unwrap();
    assert_eq!(msa_feat.shape(), &[4, 32, 84, 49]);
    assert_eq!(array(&batch, "extra_msa").shape(), &[4, 40, 84]);
    assert_eq!(array(&batch, "target_feat").shape(), &[4, 84, 22]);
    assert_eq!(array(&batch, "aatype").shape(), &[4, 84]);
    // Row 0 is the query in every iteration (up to BERT corruption): its one-hot letter agrees
    // with aatype wherever it was not masked.
    let aatype = array(&batch, "aatype").to_f64();
    let bert_mask = array(&batch, "bert_mask").to_f64();
    for i in 0..4 {
        for c in 0..84 {
            if bert_mask[[i, 0, c]] == 0.0 {
                assert_eq!(msa_feat[[i, 0, c, aatype[[i, c]] as usize]], 1.0);
            }
        }
    }
    // Each iteration draws anew; the same seed gives the same batch.
    let iterations: Vec<ArrayD<f64>> =
        msa_feat.axis_iter(Axis(0)).map(|a| a.to_owned().into_dyn()).collect();
    assert_ne!(iterations[0], iterations[1]);
    assert_eq!(batch, process_monomer_features(&raw, &config, 5).unwrap());
    assert_ne!(batch, process_monomer_features(&raw, &config, 6).unwrap());
    // Cluster profiles are distributions over 23 letters.
    for profile in msa_feat.slice(ndarray::s![.., .., .., 25..48]).lanes(Axis(3)) {
        assert!((profile.sum() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn iterations_one_at_a_time_are_the_batch_slices() {
    use ferrofold_features::process::MonomerIterations;
    let raw = reference("raw_1A1F_A.npz");
    for resample in [true, false] {
        let config = PipelineConfig {
            max_msa_clusters: 32,
            max_extra_msa: 40,
            resample_msa_in_recycling: resample,
            ..Default::default()
        };
        let batch = process_monomer_features(&raw, &config, 5).unwrap();
        let iterations = MonomerIterations::new(&raw, &config, 5).unwrap();
        assert_eq!(iterations.len(), 4);
        let mut count = 0;
        for (i, iteration) in iterations.enumerate() {
            assert_eq!(
                iteration.arrays.keys().collect::<Vec<_>>(),
                batch.arrays.keys().collect::<Vec<_>>()
            );
            for (name, slice) in &iteration.arrays {
                let whole = array(&batch, name).to_f64();
                assert_eq!(slice.shape()[0], 1, "{name}");
                assert_eq!(
                    slice.to_f64().index_axis(Axis(0), 0),
                    whole.index_axis(Axis(0), i),
                    "{name}, iteration {i}"
                );
            }
            count += 1;
        }
        assert_eq!(count, 4);
    }
}

#[test]
fn single_sequence_gets_one_masked_extra_row() {
    let mut raw = reference("raw_1A1F_A.npz");
    let msa = int2(&raw, "msa");
    raw.insert("msa", msa.slice(ndarray::s![..1, ..]).to_owned().into_dyn());
    let deletions = int2(&raw, "deletion_matrix_int");
    raw.insert("deletion_matrix_int", deletions.slice(ndarray::s![..1, ..]).to_owned().into_dyn());
    let batch = process_monomer_features(&raw, &PipelineConfig::default(), 0).unwrap();
    assert_eq!(array(&batch, "msa_feat").shape(), &[4, 1, 84, 49]);
    let extra_mask = array(&batch, "extra_msa_mask").to_f64().into_dimensionality::<Ix3>().unwrap();
    assert_eq!(extra_mask.shape(), &[4, 1, 84]);
    assert_eq!(extra_mask.sum(), 0.0);
}

#[test]
fn malformed_raw_features_are_errors() {
    let mut raw = reference("raw_1A1F_A.npz");
    raw.arrays.remove("msa");
    let err = process_monomer_features(&raw, &PipelineConfig::default(), 0).unwrap_err();
    assert!(err.to_string().contains("`msa` is missing"), "{err}");
    let mut raw = reference("raw_1A1F_A.npz");
    raw.insert("msa", Array2::<i32>::from_elem((2, 84), 40).into_dyn());
    raw.insert("deletion_matrix_int", Array2::<i32>::zeros((2, 84)).into_dyn());
    let err = process_monomer_features(&raw, &PipelineConfig::default(), 0).unwrap_err();
    assert!(err.to_string().contains("outside the HHblits alphabet"), "{err}");
}
