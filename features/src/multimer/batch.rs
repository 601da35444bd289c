//! The network's input batch of a complex: the merged features ([`super::multimer_features`])
//! with one draw of the MSA inputs per recycling iteration.

use ndarray::{Array1, ArrayD, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::msa_features::{self, MsaBlock, MsaSampling};
use crate::error::{FeaturesError, Result};
use crate::feature_dict::{FeatureArray, FeatureDict};
use crate::process::concatenate;

/// The per-residue features the network reads, the same in every iteration.
const NETWORK_RESIDUE_FEATURES: [&str; 6] =
    ["aatype", "residue_index", "asym_id", "entity_id", "sym_id", "seq_mask"];
/// The template features the network reads (all or none).
const NETWORK_TEMPLATE_FEATURES: [&str; 3] =
    ["template_aatype", "template_all_atom_positions", "template_all_atom_mask"];

/// A complex's network inputs one recycling iteration at a time, each a batch with a leading
/// axis of one: the per-residue and template features of the merged features
/// ([`super::multimer_features`]) and the iteration's own draw of the MSA inputs (`msa_feat`,
/// `msa_mask`, `extra_msa_feat`, `extra_msa_mask`, `bert_mask`, `true_msa`;
/// [`msa_features::sample_iteration_msa`]) from one generator seeded with `seed`. Only the
/// iteration being run is in memory, however many recycles are asked for.
pub struct MultimerIterations {
    msa: MsaBlock,
    cluster_bias_mask: Array1<f32>,
    sampling: MsaSampling,
    rng: ChaCha8Rng,
    /// What every iteration shares, leading axis of one.
    shared: FeatureDict,
    remaining: usize,
}

impl MultimerIterations {
    pub fn new(
        features: &FeatureDict,
        iterations: usize,
        sampling: &MsaSampling,
        seed: u64,
    ) -> Result<Self> {
        let (msa, cluster_bias_mask) = MsaBlock::from_features(features)?;
        let mut shared = FeatureDict::default();
        let templates = NETWORK_TEMPLATE_FEATURES.iter().all(|name| features.get(name).is_some());
        let names = NETWORK_RESIDUE_FEATURES
            .iter()
            .chain(NETWORK_TEMPLATE_FEATURES.iter().filter(|_| templates));
        for &name in names {
            let array = features.get(name).ok_or_else(|| {
                FeaturesError::InvalidInput(format!("multimer features: `{name}` is missing"))
            })?;
            shared.insert(name, with_leading_axis(array));
        }
        Ok(Self {
            msa,
            cluster_bias_mask,
            sampling: sampling.clone(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            shared,
            remaining: iterations,
        })
    }
}

impl Iterator for MultimerIterations {
    type Item = FeatureDict;

    fn next(&mut self) -> Option<FeatureDict> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let draw = msa_features::sample_iteration_msa(
            &self.msa,
            &self.cluster_bias_mask,
            &self.sampling,
            &mut self.rng,
        );
        let draw = if self.sampling.drop_padding_rows { without_padding_rows(draw) } else { draw };
        let mut iteration = self.shared.clone();
        fn one<A, D: ndarray::Dimension>(a: ndarray::Array<A, D>) -> ArrayD<A> {
            a.into_dyn().insert_axis(Axis(0))
        }
        iteration.insert("msa_feat", one(draw.msa_feat));
        iteration.insert("msa_mask", one(draw.msa_mask));
        iteration.insert("extra_msa_feat", one(draw.extra_msa_feat));
        iteration.insert("extra_msa_mask", one(draw.extra_msa_mask));
        iteration.insert("bert_mask", one(draw.bert_mask));
        iteration.insert("true_msa", one(draw.true_msa));
        Some(iteration)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for MultimerIterations {}

/// The network's input batch of a complex: [`MultimerIterations`]' `iterations` iterations on
/// the leading axis of every feature (the same draws, in order).
pub fn multimer_batch(
    features: &FeatureDict,
    iterations: usize,
    sampling: &MsaSampling,
    seed: u64,
) -> Result<FeatureDict> {
    let draws: Vec<FeatureDict> =
        MultimerIterations::new(features, iterations, sampling, seed)?.collect();
    let mut batch = FeatureDict::default();
    let Some(first) = draws.first() else {
        return Err(FeaturesError::InvalidInput("a batch of no iterations".into()));
    };
    for name in first.arrays.keys() {
        let slices: Vec<&FeatureArray> = draws.iter().map(|f| &f.arrays[name]).collect();
        batch.insert(name.clone(), concatenate(name, &slices)?);
    }
    Ok(batch)
}

/// `draw` without its cluster centres and extra rows that are all mask (at least one of each
/// kept, so that every stack has a row).
fn without_padding_rows(draw: msa_features::IterationMsa) -> msa_features::IterationMsa {
    fn real_rows(mask: &ndarray::Array2<f32>) -> Vec<usize> {
        let rows: Vec<usize> = mask
            .outer_iter()
            .enumerate()
            .filter(|(_, row)| row.iter().any(|&m| m > 0.0))
            .map(|(k, _)| k)
            .collect();
        if rows.is_empty() {
            vec![0]
        } else {
            rows
        }
    }
    let centres = real_rows(&draw.msa_mask);
    let extra = real_rows(&draw.extra_msa_mask);
    msa_features::IterationMsa {
        msa_feat: draw.msa_feat.select(Axis(0), &centres),
        msa_mask: draw.msa_mask.select(Axis(0), &centres),
        bert_mask: draw.bert_mask.select(Axis(0), &centres),
        true_msa: draw.true_msa.select(Axis(0), &centres),
        extra_msa_feat: draw.extra_msa_feat.select(Axis(0), &extra),
        extra_msa_mask: draw.extra_msa_mask.select(Axis(0), &extra),
    }
}

/// `array` with a new leading axis of one.
fn with_leading_axis(array: &FeatureArray) -> FeatureArray {
    use FeatureArray as F;
    fn lift<A: Clone>(a: &ArrayD<A>) -> ArrayD<A> {
        a.view().insert_axis(Axis(0)).to_owned()
    }
    match array {
        F::I32(a) => F::I32(lift(a)),
        F::I64(a) => F::I64(lift(a)),
        F::F32(a) => F::F32(lift(a)),
        F::F64(a) => F::F64(lift(a)),
        F::Bool(a) => F::Bool(lift(a)),
    }
}
