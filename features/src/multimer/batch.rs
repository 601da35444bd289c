//! The network's input batch of a complex: the merged features ([`super::multimer_features`])
//! with one draw of the MSA inputs per recycling iteration.

use ndarray::{ArrayD, Axis};

use super::msa_features;
use crate::error::{FeaturesError, Result};
use crate::feature_dict::{FeatureArray, FeatureDict};

/// The per-residue features the network reads, repeated in every iteration of a batch.
const NETWORK_RESIDUE_FEATURES: [&str; 6] =
    ["aatype", "residue_index", "asym_id", "entity_id", "sym_id", "seq_mask"];
/// The template features the network reads (all or none).
const NETWORK_TEMPLATE_FEATURES: [&str; 3] =
    ["template_aatype", "template_all_atom_positions", "template_all_atom_mask"];

/// The network's input batch of a complex: `iterations` recycling iterations on the leading
/// axis of every feature, each with its own draw of the MSA inputs (`msa_feat`, `msa_mask`,
/// `extra_msa_feat`, `extra_msa_mask`, [`msa_features::sample_iteration_msa`]); the per-residue
/// and template features of `features` ([`super::multimer_features`]) repeated.
pub fn multimer_batch(
    features: &FeatureDict,
    iterations: usize,
    sampling: &msa_features::MsaSampling,
    rng: &mut impl rand::Rng,
) -> Result<FeatureDict> {
    let (msa, cluster_bias_mask) = msa_features::MsaBlock::from_features(features)?;
    let mut batch = FeatureDict::default();
    let templates = NETWORK_TEMPLATE_FEATURES.iter().all(|name| features.get(name).is_some());
    let names = NETWORK_RESIDUE_FEATURES
        .iter()
        .chain(NETWORK_TEMPLATE_FEATURES.iter().filter(|_| templates));
    for &name in names {
        let array = features.get(name).ok_or_else(|| {
            FeaturesError::InvalidInput(format!("multimer features: `{name}` is missing"))
        })?;
        batch.insert(name, repeat(array, iterations));
    }
    let draws: Vec<msa_features::IterationMsa> = (0..iterations)
        .map(|_| msa_features::sample_iteration_msa(&msa, &cluster_bias_mask, sampling, rng))
        .collect();
    fn stacked<'a, A: Clone + 'a, D: ndarray::Dimension + 'a>(
        arrays: impl Iterator<Item = ndarray::ArrayView<'a, A, D>>,
    ) -> ArrayD<A> {
        let views: Vec<_> = arrays.collect();
        ndarray::stack(Axis(0), &views).expect("every draw has one shape").into_dyn()
    }
    batch.insert("msa_feat", stacked(draws.iter().map(|d| d.msa_feat.view())));
    batch.insert("msa_mask", stacked(draws.iter().map(|d| d.msa_mask.view())));
    batch.insert("extra_msa_feat", stacked(draws.iter().map(|d| d.extra_msa_feat.view())));
    batch.insert("extra_msa_mask", stacked(draws.iter().map(|d| d.extra_msa_mask.view())));
    batch.insert("bert_mask", stacked(draws.iter().map(|d| d.bert_mask.view())));
    batch.insert("true_msa", stacked(draws.iter().map(|d| d.true_msa.view())));
    Ok(batch)
}

/// `array` repeated `n` times on a new leading axis.
fn repeat(array: &FeatureArray, n: usize) -> FeatureArray {
    use FeatureArray as F;
    fn tile<A: Clone>(a: &ArrayD<A>, n: usize) -> ArrayD<A> {
        let mut shape = vec![n];
        shape.extend_from_slice(a.shape());
        a.view().insert_axis(Axis(0)).broadcast(shape).expect("a new leading axis").to_owned()
    }
    match array {
        F::I32(a) => F::I32(tile(a, n)),
        F::I64(a) => F::I64(tile(a, n)),
        F::F32(a) => F::F32(tile(a, n)),
        F::F64(a) => F::F64(tile(a, n)),
        F::Bool(a) => F::Bool(tile(a, n)),
    }
}
