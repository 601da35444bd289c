//! The MSA features AlphaFold-Multimer computes inside its network, once per recycle (DeepMind's
//! v2.3.2 `modules_multimer`: `make_msa_profile`, `sample_msa`, `make_masked_msa`,
//! `nearest_neighbor_clusters`, `create_msa_feat`, `create_extra_msa_feature`), here on the
//! host in float32. The random draws (which rows become cluster centres, which positions are
//! masked for BERT) follow DeepMind's distributions with this crate's seeded generator; the
//! rest is deterministic and equals DeepMind's.

use ndarray::{s, Array1, Array2, Array3, ArrayViewMut1, Axis};
use rand::Rng;

use crate::error::{FeaturesError, Result};
use crate::feature_dict::FeatureDict;

pub use crate::msa_transforms::MaskedMsaConfig;

/// Residue classes of the network's MSA: 20 amino acids, X, gap, and the BERT mask token.
pub const MSA_CLASSES: usize = 23;
const GAP: usize = 21;

/// One MSA with its masks, in the merged example's layout (AlphaFold's residue order).
#[derive(Debug, Clone, PartialEq)]
pub struct MsaBlock {
    /// [s, r] residue classes (0..=22)
    pub msa: Array2<i32>,
    /// [s, r]
    pub deletion_matrix: Array2<f32>,
    /// [s, r]
    pub msa_mask: Array2<f32>,
    /// [s, r]
    pub bert_mask: Array2<f32>,
}

impl MsaBlock {
    fn rows(&self, rows: &[usize]) -> MsaBlock {
        MsaBlock {
            msa: self.msa.select(Axis(0), rows),
            deletion_matrix: self.deletion_matrix.select(Axis(0), rows),
            msa_mask: self.msa_mask.select(Axis(0), rows),
            bert_mask: self.bert_mask.select(Axis(0), rows),
        }
    }
}

/// The per-residue frequency of each class over the rows (masked rows left out), [r, 22]
/// (`make_msa_profile`).
pub fn msa_profile(msa: &MsaBlock) -> Array2<f32> {
    let (s, r) = msa.msa.dim();
    let mut sums = Array2::<f32>::zeros((r, 22));
    let mut counts = Array1::<f32>::zeros(r);
    for row in 0..s {
        for j in 0..r {
            let m = msa.msa_mask[(row, j)];
            let class = msa.msa[(row, j)] as usize;
            if class < 22 {
                sums[(j, class)] += m;
            }
            counts[j] += m;
        }
    }
    for j in 0..r {
        let denominator = counts[j] + 1e-10;
        sums.row_mut(j).mapv_inplace(|v| v / denominator);
    }
    sums
}

impl MsaBlock {
    /// The merged example's MSA (`msa`, `deletion_matrix`, `msa_mask`, `bert_mask`) and its
    /// `cluster_bias_mask`, as [`crate::multimer::multimer_features`] makes them.
    pub fn from_features(features: &FeatureDict) -> Result<(MsaBlock, Array1<f32>)> {
        let matrix = |name: &str| -> Result<Array2<f64>> {
            let array = features.get(name).ok_or_else(|| {
                FeaturesError::InvalidInput(format!("multimer features: `{name}` is missing"))
            })?;
            array.to_f64().into_dimensionality().map_err(|_| {
                FeaturesError::InvalidInput(format!(
                    "multimer features: `{name}` has shape {:?}, expected [rows, residues]",
                    array.shape()
                ))
            })
        };
        let msa = matrix("msa")?;
        let block = MsaBlock {
            msa: msa.mapv(|v| v as i32),
            deletion_matrix: matrix("deletion_matrix")?.mapv(|v| v as f32),
            msa_mask: matrix("msa_mask")?.mapv(|v| v as f32),
            bert_mask: matrix("bert_mask")?.mapv(|v| v as f32),
        };
        let bias: Array1<f32> = features
            .get("cluster_bias_mask")
            .map(|a| a.to_f64().iter().map(|&v| v as f32).collect())
            .unwrap_or_default();
        let dim = block.msa.dim();
        let problem = [
            ("deletion_matrix", block.deletion_matrix.dim()),
            ("msa_mask", block.msa_mask.dim()),
            ("bert_mask", block.bert_mask.dim()),
        ]
        .into_iter()
        .find(|(_, d)| *d != dim)
        .map(|(name, d)| format!("`{name}` has shape {d:?}, `msa` {dim:?}"))
        .or_else(|| {
            (bias.len() != dim.0)
                .then(|| format!("`cluster_bias_mask` has {} rows, `msa` {}", bias.len(), dim.0))
        })
        .or_else(|| {
            block
                .msa
                .iter()
                .any(|&c| !(0..MSA_CLASSES as i32).contains(&c))
                .then(|| format!("`msa` holds a class outside 0..{MSA_CLASSES}"))
        });
        match problem {
            Some(problem) => {
                Err(FeaturesError::InvalidInput(format!("multimer features: {problem}")))
            }
            None => Ok((block, bias)),
        }
    }
}

/// How the network's MSA inputs are drawn in each recycling iteration (DeepMind's
/// `embeddings_and_evoformer` settings).
#[derive(Debug, Clone, PartialEq)]
pub struct MsaSampling {
    /// Cluster centres (`num_msa`: 508; fewer when the MSA has fewer rows).
    pub num_msa: usize,
    /// Extra rows read by the extra-MSA stack (`num_extra_msa`: 2,048, or 1,152).
    pub num_extra_msa: usize,
    pub masked_msa: MaskedMsaConfig,
    /// Gumbel noise in the choice of centres, as DeepMind's; without it the centres are the
    /// rows in order (each chain's query first), which makes a run reproducible across programs.
    pub gumbel_noise: bool,
    /// Leave out the rows that only pad the MSA (`pad_msa`'s, whose mask is zero everywhere).
    /// DeepMind's network runs them through the Evoformer, but masked rows never reach the real
    /// ones (attention masks them as keys, the outer product mean weighs them by zero), so the
    /// result is the same and a shallow MSA costs its own depth instead of 508 rows. Off, the
    /// draws have DeepMind's shapes.
    pub drop_padding_rows: bool,
}

/// One recycling iteration's MSA inputs of the network.
#[derive(Debug, Clone, PartialEq)]
pub struct IterationMsa {
    /// The cluster centres' features [c, r, 49] (BERT-masked).
    pub msa_feat: Array3<f32>,
    /// [c, r]
    pub msa_mask: Array2<f32>,
    /// The extra rows' features [e, r, 25].
    pub extra_msa_feat: Array3<f32>,
    /// [e, r]
    pub extra_msa_mask: Array2<f32>,
    /// Positions replaced for the BERT objective [c, r], and the centres before: [c, r].
    pub bert_mask: Array2<f32>,
    pub true_msa: Array2<i32>,
}

/// Draws one iteration's MSA inputs from the merged MSA, in DeepMind's order: the profile of
/// every row, the cluster centres, BERT masking of the centres, the extra rows' assignment to
/// centres, the features.
pub fn sample_iteration_msa(
    msa: &MsaBlock,
    cluster_bias_mask: &Array1<f32>,
    sampling: &MsaSampling,
    rng: &mut impl Rng,
) -> IterationMsa {
    let profile = msa_profile(msa);
    let (clusters, extra) =
        sample_msa(msa, cluster_bias_mask, sampling.num_msa, sampling.gumbel_noise, rng);
    let (masked, true_msa) = make_masked_msa(&clusters, &profile, &sampling.masked_msa, rng);
    let (cluster_profile, cluster_deletion_mean) = nearest_neighbor_clusters(&masked, &extra);
    let (extra_msa_feat, extra_msa_mask) = extra_msa_feat(&extra, sampling.num_extra_msa);
    IterationMsa {
        msa_feat: msa_feat(&masked, &cluster_profile, &cluster_deletion_mean),
        msa_mask: masked.msa_mask,
        extra_msa_feat,
        extra_msa_mask,
        bert_mask: masked.bert_mask,
        true_msa,
    }
}

/// Splits the MSA into `max_seq` cluster centres and the rest (`sample_msa`): rows with no
/// unmasked position last, rows of `cluster_bias_mask` (each chain's query) first, the others in
/// a random order (Gumbel keys, as DeepMind's) or, without `gumbel_noise`, in their order.
pub fn sample_msa(
    msa: &MsaBlock,
    cluster_bias_mask: &Array1<f32>,
    max_seq: usize,
    gumbel_noise: bool,
    rng: &mut impl Rng,
) -> (MsaBlock, MsaBlock) {
    let s = msa.msa.nrows();
    let keys: Vec<f32> = (0..s)
        .map(|row| {
            let any = msa.msa_mask.row(row).sum().clamp(0.0, 1.0);
            let noise = if gumbel_noise { gumbel(rng) } else { 0.0 };
            (any - 1.0) * 1e6 + cluster_bias_mask[row] * 1e6 + noise
        })
        .collect();
    let mut order: Vec<usize> = (0..s).collect();
    order.sort_by(|&a, &b| keys[b].total_cmp(&keys[a]));
    let split = max_seq.min(s);
    (msa.rows(&order[..split]), msa.rows(&order[split..]))
}

fn gumbel(rng: &mut impl Rng) -> f32 {
    let epsilon = 1e-6f32;
    let uniform: f32 = rng.random();
    -(-(uniform + epsilon).ln() + epsilon).ln()
}

/// Replaces a random `replace_fraction` of the cluster centres' unmasked positions by a draw
/// from: a uniform amino acid, the profile, the same residue, or the mask token
/// (`make_masked_msa`; the monomer's draw, then DeepMind's multimer masking). Returns the masked
/// MSA's rows and the true MSA; `bert_mask` keeps the replaced positions it had.
pub fn make_masked_msa(
    clusters: &MsaBlock,
    profile: &Array2<f32>,
    config: &MaskedMsaConfig,
    rng: &mut impl Rng,
) -> (MsaBlock, Array2<i32>) {
    let masked =
        crate::msa_transforms::make_masked_msa(clusters.msa.view(), profile.view(), config, rng);
    let mut out = clusters.clone();
    for ((position, &unmasked), (&replaced, &letter)) in
        clusters.msa_mask.indexed_iter().zip(masked.bert_mask.iter().zip(&masked.msa))
    {
        let replace = replaced > 0.0 && unmasked != 0.0;
        out.msa[position] = if replace { letter } else { clusters.msa[position] } * unmasked as i32;
        out.bert_mask[position] *= if replace { 1.0 } else { 0.0 };
    }
    (out, masked.true_msa)
}

/// Each extra row's share of each cluster centre (`nearest_neighbor_clusters`): the centres
/// it agrees with most (ties shared), and per centre the class profile [c, r, 23] and mean
/// deletions [c, r] over the centre and its share of the extra rows.
pub fn nearest_neighbor_clusters(
    clusters: &MsaBlock,
    extra: &MsaBlock,
) -> (Array3<f32>, Array2<f32>) {
    let (c, r) = clusters.msa.dim();
    let e = extra.msa.nrows();
    // Agreement on residues and X; gaps and the mask token count nothing.
    let counts = |class: i32| (class as usize) < GAP;
    let mut assignment = Array2::<f32>::zeros((c, e));
    for m in 0..e {
        let agreement: Vec<f32> = (0..c)
            .map(|n| {
                (0..r)
                    .filter(|&j| {
                        extra.msa[(m, j)] == clusters.msa[(n, j)] && counts(clusters.msa[(n, j)])
                    })
                    .map(|j| extra.msa_mask[(m, j)] * clusters.msa_mask[(n, j)])
                    .sum()
            })
            .collect();
        // softmax(1e3 · agreement) over the centres.
        let best = agreement.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let weights: Vec<f32> = agreement.iter().map(|a| (1e3 * (a - best)).exp()).collect();
        let total: f32 = weights.iter().sum();
        for n in 0..c {
            // DeepMind scales the share by the number of positions both rows have (not by
            // whether they share one): kept, as it weights the profiles.
            let shared: f32 =
                (0..r).map(|j| clusters.msa_mask[(n, j)] * extra.msa_mask[(m, j)]).sum();
            assignment[(n, m)] = weights[n] / total * shared;
        }
    }
    let mut profile = Array3::<f32>::zeros((c, r, MSA_CLASSES));
    let mut deletion_mean = Array2::<f32>::zeros((c, r));
    for n in 0..c {
        let count = assignment.row(n).sum() + 1.0;
        for j in 0..r {
            let mut deletions = 0.0;
            for m in 0..e {
                let w = assignment[(n, m)];
                if w != 0.0 {
                    let mask = extra.msa_mask[(m, j)];
                    profile[(n, j, extra.msa[(m, j)] as usize)] += w * mask;
                    deletions += w * mask * extra.deletion_matrix[(m, j)];
                }
            }
            profile[(n, j, clusters.msa[(n, j)] as usize)] += clusters.msa_mask[(n, j)];
            deletion_mean[(n, j)] = (deletions + clusters.deletion_matrix[(n, j)]) / count;
            profile.slice_mut(s![n, j, ..]).mapv_inplace(|v| v / count);
        }
    }
    (profile, deletion_mean)
}

fn deletion_value(d: f32) -> f32 {
    (d / 3.0).atan() * (2.0 / std::f64::consts::PI) as f32
}

/// The features every MSA row has at a position: one-hot class (23), has deletion, deletion
/// value.
fn row_features(mut features: ArrayViewMut1<f32>, class: i32, deletions: f32) {
    features[class as usize] = 1.0;
    features[MSA_CLASSES] = deletions.clamp(0.0, 1.0);
    features[MSA_CLASSES + 1] = deletion_value(deletions);
}

/// The cluster centres' features [c, r, 49] (`create_msa_feat`): one-hot class (23), has
/// deletion, deletion value, cluster profile (23), cluster mean deletion value.
pub fn msa_feat(
    clusters: &MsaBlock,
    cluster_profile: &Array3<f32>,
    cluster_deletion_mean: &Array2<f32>,
) -> Array3<f32> {
    let (c, r) = clusters.msa.dim();
    let width = MSA_CLASSES + 2 + MSA_CLASSES + 1;
    let mut feat = Array3::<f32>::zeros((c, r, width));
    for n in 0..c {
        for j in 0..r {
            row_features(
                feat.slice_mut(s![n, j, ..]),
                clusters.msa[(n, j)],
                clusters.deletion_matrix[(n, j)],
            );
            feat.slice_mut(s![n, j, MSA_CLASSES + 2..2 * MSA_CLASSES + 2])
                .assign(&cluster_profile.slice(s![n, j, ..]));
            feat[(n, j, width - 1)] = deletion_value(cluster_deletion_mean[(n, j)]);
        }
    }
    feat
}

/// The extra rows' features [e, r, 25] (`create_extra_msa_feature`): one-hot class (23), has
/// deletion, deletion value; at most `num_extra` rows.
pub fn extra_msa_feat(extra: &MsaBlock, num_extra: usize) -> (Array3<f32>, Array2<f32>) {
    let e = extra.msa.nrows().min(num_extra);
    let r = extra.msa.ncols();
    let mut feat = Array3::<f32>::zeros((e, r, MSA_CLASSES + 2));
    for m in 0..e {
        for j in 0..r {
            row_features(
                feat.slice_mut(s![m, j, ..]),
                extra.msa[(m, j)],
                extra.deletion_matrix[(m, j)],
            );
        }
    }
    (feat, extra.msa_mask.slice(s![..e, ..]).to_owned())
}
