//! Output heads (Jumper et al. 2021, Suppl. Sec. 1.9): distogram, masked MSA, experimentally
//! resolved, pLDDT and predicted aligned error; and the confidence summaries computed from
//! their logits (pLDDT per residue, expected aligned error, pTM).

use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::config::HeadsConfig;
use crate::params::ParamBuilder;
use crate::primitives::{LayerNorm, Linear, LinearInit};

#[derive(Module, Debug)]
pub struct DistogramHead<B: Backend> {
    pub half_logits: Linear<B>,
}

impl<B: Backend> DistogramHead<B> {
    /// pair [r, r, c_z] → symmetric logits [r, r, bins].
    pub fn forward(&self, pair: Tensor<B, 3>) -> Tensor<B, 3> {
        let half = self.half_logits.forward(pair);
        half.clone() + half.swap_dims(0, 1)
    }
}

#[derive(Module, Debug)]
pub struct PredictedLddtHead<B: Backend> {
    pub input_layer_norm: LayerNorm<B>,
    pub act_0: Linear<B>,
    pub act_1: Linear<B>,
    pub logits: Linear<B>,
}

impl<B: Backend> PredictedLddtHead<B> {
    /// The structure module's final single representation [r, c] → logits [r, bins].
    pub fn forward(&self, act: Tensor<B, 2>) -> Tensor<B, 2> {
        let act = self.input_layer_norm.forward(act);
        let act = relu(self.act_0.forward(act));
        let act = relu(self.act_1.forward(act));
        self.logits.forward(act)
    }
}

#[derive(Module, Debug)]
pub struct Heads<B: Backend> {
    pub distogram: DistogramHead<B>,
    /// MSA representation → logits over the 23 MSA letters.
    pub masked_msa: Linear<B>,
    /// Single representation → per-atom37 logits.
    pub experimentally_resolved: Linear<B>,
    pub predicted_lddt: PredictedLddtHead<B>,
    /// Pair representation → aligned-error bin logits (`_ptm` presets).
    pub predicted_aligned_error: Option<Linear<B>>,
}

impl<B: Backend> Heads<B> {
    pub fn new(
        b: &mut ParamBuilder<B>,
        c: &HeadsConfig,
        msa: usize,
        pair: usize,
        single: usize,
        structure: usize,
    ) -> Self {
        Self {
            distogram: b.scope("distogram_head", |b| DistogramHead {
                half_logits: Linear::new(
                    b,
                    "half_logits",
                    pair,
                    c.distogram_num_bins,
                    LinearInit::Final,
                ),
            }),
            masked_msa: b.scope("masked_msa_head", |b| {
                Linear::new(b, "logits", msa, c.masked_msa_num_output, LinearInit::Final)
            }),
            experimentally_resolved: b.scope("experimentally_resolved_head", |b| {
                Linear::new(b, "logits", single, 37, LinearInit::Final)
            }),
            predicted_lddt: b.scope("predicted_lddt_head", |b| PredictedLddtHead {
                input_layer_norm: LayerNorm::new(b, "input_layer_norm", structure),
                act_0: Linear::new(
                    b,
                    "act_0",
                    structure,
                    c.predicted_lddt_num_channels,
                    LinearInit::Relu,
                ),
                act_1: Linear::new(
                    b,
                    "act_1",
                    c.predicted_lddt_num_channels,
                    c.predicted_lddt_num_channels,
                    LinearInit::Relu,
                ),
                logits: Linear::new(
                    b,
                    "logits",
                    c.predicted_lddt_num_channels,
                    c.predicted_lddt_num_bins,
                    LinearInit::Final,
                ),
            }),
            predicted_aligned_error: c.predicted_aligned_error_num_bins.map(|bins| {
                b.scope("predicted_aligned_error_head", |b| {
                    Linear::new(b, "logits", pair, bins, LinearInit::Final)
                })
            }),
        }
    }
}

fn softmax_row(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = logits.iter().map(|x| (x - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.into_iter().map(|x| x / sum).collect()
}

/// Per-residue pLDDT (0–100) from pLDDT logits, row-major [r, bins].
pub fn compute_plddt(logits: &[f64], bins: usize) -> Vec<f64> {
    let width = 1.0 / bins as f64;
    logits
        .chunks(bins)
        .map(|row| {
            softmax_row(row)
                .iter()
                .enumerate()
                .map(|(k, p)| p * (k as f64 + 0.5) * width)
                .sum::<f64>()
                * 100.0
        })
        .collect()
}

/// The aligned-error bin edges `linspace(0, max_error_bin, bins − 1)` and their centres (the
/// last open bin's centre one step further).
pub fn aligned_error_bin_centers(bins: usize, max_error_bin: f64) -> (Vec<f64>, Vec<f64>) {
    let breaks = crate::batch::linspace(0.0, max_error_bin, bins - 1);
    let step = breaks[1] - breaks[0];
    let mut centers: Vec<f64> = breaks.iter().map(|b| b + step / 2.0).collect();
    centers.push(centers[centers.len() - 1] + step);
    (breaks, centers)
}

/// Expected aligned error [r·r] and the per-pair probabilities, from logits [r, r, bins].
pub fn compute_predicted_aligned_error(
    logits: &[f64],
    bins: usize,
    max_error_bin: f64,
) -> (Vec<f64>, Vec<f64>, f64) {
    let (_, centers) = aligned_error_bin_centers(bins, max_error_bin);
    let probs: Vec<f64> = logits.chunks(bins).flat_map(softmax_row).collect();
    let pae =
        probs.chunks(bins).map(|p| p.iter().zip(&centers).map(|(p, c)| p * c).sum()).collect();
    (pae, probs, centers[bins - 1])
}

/// pTM: the predicted TM-score of the best-aligned residue's frame, from PAE logits [r, r, bins].
pub fn predicted_tm_score(logits: &[f64], residues: usize, bins: usize, max_error_bin: f64) -> f64 {
    best_frame_tm_score(logits, residues, bins, max_error_bin, |_, _| true)
}

/// ipTM (AlphaFold-Multimer): pTM over the pairs of residues of different chains (`asym_id`
/// per residue), from PAE logits [r, r, bins].
pub fn predicted_interface_tm_score(
    logits: &[f64],
    asym_id: &[i64],
    bins: usize,
    max_error_bin: f64,
) -> f64 {
    best_frame_tm_score(logits, asym_id.len(), bins, max_error_bin, |i, j| asym_id[i] != asym_id[j])
}

/// AlphaFold-Multimer's ranking confidence: 0.8·ipTM + 0.2·pTM.
pub fn multimer_ranking_confidence(ptm: f64, iptm: f64) -> f64 {
    0.8 * iptm + 0.2 * ptm
}

/// The expected TM-score term of each aligned pair, averaged over the pairs `counts` keeps in
/// each residue's frame; the best frame's (DeepMind's `predicted_tm_score`). d0 follows the
/// number of residues.
fn best_frame_tm_score(
    logits: &[f64],
    residues: usize,
    bins: usize,
    max_error_bin: f64,
    counts: impl Fn(usize, usize) -> bool,
) -> f64 {
    let (_, centers) = aligned_error_bin_centers(bins, max_error_bin);
    let clipped = (residues as f64).max(19.0);
    let d0 = 1.24 * (clipped - 15.0).powf(1.0 / 3.0) - 1.8;
    let tm_per_bin: Vec<f64> = centers.iter().map(|c| 1.0 / (1.0 + c * c / (d0 * d0))).collect();
    let per_alignment: Vec<f64> = logits
        .chunks(bins * residues)
        .enumerate()
        .map(|(i, row)| {
            let pairs = (0..residues).filter(|&j| counts(i, j)).count();
            let weight = 1.0 / (1e-8 + pairs as f64);
            row.chunks(bins)
                .enumerate()
                .filter(|&(j, _)| counts(i, j))
                .map(|(_, l)| {
                    softmax_row(l).iter().zip(&tm_per_bin).map(|(p, t)| p * t).sum::<f64>() * weight
                })
                .sum()
        })
        .collect();
    per_alignment.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}
