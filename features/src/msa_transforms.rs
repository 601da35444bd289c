//! AlphaFold's MSA transforms of the input pipeline: restype correction, the MSA profile,
//! cluster sampling, masked-MSA (BERT) corruption, nearest-neighbour clustering of the extra
//! sequences, cluster summaries and the `msa_feat` encoding.
//!
//! The deterministic transforms reproduce DeepMind's numbers (tested against
//! `alphafold.model.tf.data_transforms`); the sampled ones draw from the same distributions
//! with ferrofold's own seeded generator (DeepMind's TensorFlow random streams are not
//! reproducible outside TensorFlow), so they are tested by their properties.

use ndarray::{Array1, Array2, Array3, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::Rng;

use crate::error::{FeaturesError, Result};
use crate::residue_constants::MAP_HHBLITS_AATYPE_TO_OUR_AATYPE;

/// Letters of the MSA alphabet after restype correction: 20 amino acids, X, gap.
pub const MSA_ALPHABET: usize = 22;
/// The BERT mask token, one past the MSA alphabet.
pub const MASK_TOKEN: i32 = 22;
/// Channels of `msa_feat`: one-hot over 23, has-deletion, deletion value, cluster profile
/// over 23, deletion mean.
pub const MSA_FEAT_CHANNELS: usize = 49;

/// MSA rows with their per-letter features, in one order.
#[derive(Debug, Clone, PartialEq)]
pub struct MsaRows {
    /// AlphaFold restype ids (0..=21; 22 after masking), [S, N]
    pub msa: Array2<i32>,
    /// [S, N]
    pub deletion_matrix: Array2<f32>,
    /// 1 for a real letter, [S, N]
    pub msa_mask: Array2<f32>,
}

impl MsaRows {
    pub fn num_rows(&self) -> usize {
        self.msa.nrows()
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Self {
        Self {
            msa: self.msa.select(Axis(0), indices),
            deletion_matrix: self.deletion_matrix.select(Axis(0), indices),
            msa_mask: self.msa_mask.select(Axis(0), indices),
        }
    }
}

/// HHblits letter ids (the raw `msa` feature) → AlphaFold restype ids
/// (`correct_msa_restypes`).
pub fn correct_msa_restypes(msa: ArrayView2<i32>) -> Result<Array2<i32>> {
    let mut out = Array2::zeros(msa.raw_dim());
    for ((row, col), &id) in msa.indexed_iter() {
        let mapped = usize::try_from(id)
            .ok()
            .and_then(|i| MAP_HHBLITS_AATYPE_TO_OUR_AATYPE.get(i))
            .ok_or_else(|| {
                FeaturesError::InvalidInput(format!(
                    "msa letter id {id} at row {row}, column {col} is outside the HHblits alphabet 0..22"
                ))
            })?;
        out[(row, col)] = *mapped as i32;
    }
    Ok(out)
}

/// Frequency of each of the 22 letters per column over all rows (`make_hhblits_profile`):
/// [N, 22].
pub fn make_hhblits_profile(msa: ArrayView2<i32>) -> Array2<f32> {
    let (rows, columns) = msa.dim();
    let mut counts = Array2::<f32>::zeros((columns, MSA_ALPHABET));
    for ((_, col), &letter) in msa.indexed_iter() {
        counts[(col, letter as usize)] += 1.0;
    }
    counts / rows as f32
}

/// Keeps the query row first and draws `max_seq - 1` further rows at random (`sample_msa`);
/// the rows not drawn are returned second, in the drawn order, as the extra MSA.
pub fn sample_msa(rows: &MsaRows, max_seq: usize, rng: &mut impl Rng) -> (MsaRows, MsaRows) {
    let count = rows.num_rows();
    let mut order: Vec<usize> = (1..count).collect();
    order.shuffle(rng);
    order.insert(0, 0);
    let selected = max_seq.min(count);
    (rows.select(&order[..selected]), rows.select(&order[selected..]))
}

/// Keeps `max_extra_msa` of the extra rows, drawn at random (`crop_extra_msa`).
pub fn crop_extra_msa(extra: &MsaRows, max_extra_msa: usize, rng: &mut impl Rng) -> MsaRows {
    let mut order: Vec<usize> = (0..extra.num_rows()).collect();
    order.shuffle(rng);
    order.truncate(max_extra_msa);
    extra.select(&order)
}

/// Probabilities of the replacement letter at a masked position (AlphaFold's `masked_msa`
/// config); the rest of the probability goes to the mask token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaskedMsaConfig {
    /// A uniformly random amino acid.
    pub uniform_prob: f32,
    /// A letter drawn from the column's profile.
    pub profile_prob: f32,
    /// The letter itself.
    pub same_prob: f32,
    /// Fraction of positions replaced.
    pub replace_fraction: f32,
}

impl Default for MaskedMsaConfig {
    /// AlphaFold's values, used in training and (unchanged) at inference.
    fn default() -> Self {
        Self { uniform_prob: 0.1, profile_prob: 0.1, same_prob: 0.1, replace_fraction: 0.15 }
    }
}

/// The corrupted MSA of the BERT objective (`make_masked_msa`).
#[derive(Debug, Clone)]
pub struct MaskedMsa {
    /// The MSA with replacements, letters 0..=22: [S, N]
    pub msa: Array2<i32>,
    /// 1 where a position was chosen for replacement: [S, N]
    pub bert_mask: Array2<f32>,
    /// The MSA before replacement: [S, N]
    pub true_msa: Array2<i32>,
}

pub fn make_masked_msa(
    msa: ArrayView2<i32>,
    hhblits_profile: ArrayView2<f32>,
    config: &MaskedMsaConfig,
    rng: &mut impl Rng,
) -> MaskedMsa {
    let mask_prob = 1.0 - config.profile_prob - config.same_prob - config.uniform_prob;
    let mut out = msa.to_owned();
    let mut bert_mask = Array2::zeros(msa.raw_dim());
    let mut probs = [0f32; MSA_ALPHABET + 1];
    for ((row, col), &letter) in msa.indexed_iter() {
        if rng.random::<f32>() >= config.replace_fraction {
            continue;
        }
        bert_mask[(row, col)] = 1.0;
        for (k, p) in probs.iter_mut().enumerate().take(MSA_ALPHABET) {
            let uniform = if k < 20 { 0.05 } else { 0.0 };
            *p = config.uniform_prob * uniform + config.profile_prob * hhblits_profile[(col, k)];
        }
        probs[letter as usize] += config.same_prob;
        probs[MSA_ALPHABET] = mask_prob;
        out[(row, col)] = draw_categorical(&probs, rng) as i32;
    }
    MaskedMsa { msa: out, bert_mask, true_msa: msa.to_owned() }
}

fn draw_categorical(probs: &[f32], rng: &mut impl Rng) -> usize {
    let total: f32 = probs.iter().sum();
    let mut u = rng.random::<f32>() * total;
    for (k, &p) in probs.iter().enumerate() {
        if u < p {
            return k;
        }
        u -= p;
    }
    // Rounding left `u` past the last bin: take the last letter with any probability.
    probs.iter().rposition(|&p| p > 0.0).unwrap_or(0)
}

/// Assigns each extra row to the sampled row it agrees with at most positions
/// (`nearest_neighbor_clusters` with gap agreement weight 0): agreement counts amino acids and
/// X, never gaps or mask tokens, and only where both letters are unmasked. Ties go to the
/// first sampled row, as `argmax` does.
pub fn nearest_neighbor_clusters(sampled: &MsaRows, extra: &MsaRows) -> Array1<usize> {
    let columns = sampled.msa.ncols();
    Array1::from_iter(extra.msa.outer_iter().zip(extra.msa_mask.outer_iter()).map(
        |(extra_row, extra_mask)| {
            let mut best = (0, f32::NEG_INFINITY);
            for (s, (row, mask)) in
                sampled.msa.outer_iter().zip(sampled.msa_mask.outer_iter()).enumerate()
            {
                let mut agreement = 0f32;
                for c in 0..columns {
                    if row[c] == extra_row[c] && row[c] < 21 {
                        agreement += mask[c] * extra_mask[c];
                    }
                }
                if agreement > best.1 {
                    best = (s, agreement);
                }
            }
            best.0
        },
    ))
}

/// Per sampled row, the letter profile and mean deletion count of its cluster (the row itself
/// plus the extra rows assigned to it), `summarize_clusters`: ([S, N, 23], [S, N]).
pub fn summarize_clusters(
    sampled: &MsaRows,
    extra: &MsaRows,
    assignment: &Array1<usize>,
) -> (Array3<f32>, Array2<f32>) {
    let (rows, columns) = sampled.msa.dim();
    let mut counts = Array2::<f32>::zeros((rows, columns));
    let mut letter_sums = Array3::<f32>::zeros((rows, columns, MSA_ALPHABET + 1));
    let mut deletion_sums = Array2::<f32>::zeros((rows, columns));
    for (e, &cluster) in assignment.iter().enumerate() {
        for c in 0..columns {
            let mask = extra.msa_mask[(e, c)];
            counts[(cluster, c)] += mask;
            letter_sums[(cluster, c, extra.msa[(e, c)] as usize)] += mask;
            deletion_sums[(cluster, c)] += mask * extra.deletion_matrix[(e, c)];
        }
    }
    for s in 0..rows {
        for c in 0..columns {
            // The centre counts once whatever its mask, as in DeepMind's code.
            letter_sums[(s, c, sampled.msa[(s, c)] as usize)] += 1.0;
            deletion_sums[(s, c)] += sampled.deletion_matrix[(s, c)];
            counts[(s, c)] += 1e-6 + sampled.msa_mask[(s, c)];
        }
    }
    let profile = letter_sums / &counts.clone().insert_axis(Axis(2));
    (profile, deletion_sums / counts)
}

/// Deletion counts squashed into [0, 1): atan(d / 3) · 2 / π.
pub fn deletion_value(deletions: f32) -> f32 {
    (deletions / 3.0).atan() * (2.0 / std::f32::consts::PI)
}

/// `msa_feat` [S, N, 49] (`make_msa_feat`).
pub fn make_msa_feat(
    sampled: &MsaRows,
    cluster_profile: &Array3<f32>,
    cluster_deletion_mean: &Array2<f32>,
) -> Array3<f32> {
    let (rows, columns) = sampled.msa.dim();
    let mut feat = Array3::<f32>::zeros((rows, columns, MSA_FEAT_CHANNELS));
    for s in 0..rows {
        for c in 0..columns {
            let deletions = sampled.deletion_matrix[(s, c)];
            feat[(s, c, sampled.msa[(s, c)] as usize)] = 1.0;
            feat[(s, c, 23)] = deletions.clamp(0.0, 1.0);
            feat[(s, c, 24)] = deletion_value(deletions);
            for k in 0..=MSA_ALPHABET {
                feat[(s, c, 25 + k)] = cluster_profile[(s, c, k)];
            }
            feat[(s, c, 48)] = deletion_value(cluster_deletion_mean[(s, c)]);
        }
    }
    feat
}
