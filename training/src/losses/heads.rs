//! The losses of the auxiliary heads (Jumper et al. 2021, Suppl. Sec. 1.9.6–1.9.10): distogram,
//! masked MSA, pLDDT, experimentally resolved and predicted aligned error. Their targets are
//! built on the host: they are labels (or predictions with gradients stopped).

use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax};
use ferrofold_features::residue_constants::ATOM_CA;
use ndarray::{Array2, ArrayD, ArrayView2, ArrayView3, IxDyn};

use super::{host, to_device};
use crate::labels::LabelTensors;

/// Cross entropy of `logits` [.., k] against integer classes `targets` (same leading shape),
/// per element: [..] with the class axis summed away.
fn softmax_cross_entropy<B: Backend, const D: usize>(
    logits: Tensor<B, D>,
    targets: &ArrayD<usize>,
) -> Tensor<B, D> {
    let dims = logits.dims();
    let classes = dims[D - 1];
    let mut one_hot = ArrayD::<f64>::zeros(IxDyn(&dims));
    for (index, &class) in targets.indexed_iter() {
        let mut at = ndarray::Dimension::slice(&index).to_vec();
        at.push(class.min(classes - 1));
        one_hot[IxDyn(&at)] = 1.0;
    }
    let one_hot = to_device::<B, D>(one_hot, &logits.device());
    (one_hot * log_softmax(logits, D - 1)).sum_dim(D - 1).neg()
}

/// Number of `breaks` that `value` exceeds (AlphaFold compares squared distances).
fn bin(value: f64, squared_breaks: &[f64]) -> usize {
    squared_breaks.iter().filter(|&&b| value > b).count()
}

fn linspace(start: f64, end: f64, n: usize) -> Vec<f64> {
    ferrofold_model::batch::linspace(start, end, n)
}

/// 1.0 when the structure's resolution lies in [min, max] (NMR and predicted structures have
/// resolution 0 and are left out of the confidence heads' losses).
pub fn resolution_filter(resolution: f64, min: f64, max: f64) -> f64 {
    f64::from(u8::from(resolution >= min && resolution <= max))
}

/// Distogram loss: `logits` [r, r, bins] against the binned true pseudo-beta distances.
pub fn distogram_loss<B: Backend>(
    logits: Tensor<B, 3>,
    labels: &LabelTensors<B>,
    first_break: f64,
    last_break: f64,
) -> Tensor<B, 1> {
    let [r, _, bins] = logits.dims();
    let squared: Vec<f64> =
        linspace(first_break, last_break, bins - 1).iter().map(|b| b * b).collect();
    let pos = &labels.pseudo_beta;
    let targets = ArrayD::from_shape_fn(IxDyn(&[r, r]), |ix| {
        let d2: f64 = (0..3).map(|k| (pos[(ix[0], k)] - pos[(ix[1], k)]).powi(2)).sum();
        bin(d2, &squared)
    });
    let mask = &labels.pseudo_beta_mask;
    let square_mask = Array2::from_shape_fn((r, r), |(i, j)| mask[i] * mask[j]);
    let denominator = square_mask.sum() + 1e-6;
    let square_mask = to_device::<B, 2>(square_mask.into_dyn(), &logits.device());
    (softmax_cross_entropy(logits, &targets).reshape([r, r]) * square_mask)
        .sum()
        .div_scalar(denominator)
}

/// Masked-MSA loss: `logits` [s, r, 23] against the original residues where BERT masked them.
pub fn masked_msa_loss<B: Backend>(
    logits: Tensor<B, 3>,
    true_msa: &Array2<i32>,
    bert_mask: &Array2<f64>,
) -> Tensor<B, 1> {
    let [s, r, _] = logits.dims();
    let targets = true_msa.mapv(|a| a.max(0) as usize).into_dyn();
    let denominator = bert_mask.sum() + 1e-8;
    let mask = to_device::<B, 2>(bert_mask.clone().into_dyn(), &logits.device());
    (softmax_cross_entropy(logits, &targets).reshape([s, r]) * mask).sum().div_scalar(denominator)
}

/// Per residue: the scored weight and the number of true pairs closer than `cutoff` Å
/// (AlphaFold's approximate lDDT: no stereochemistry check).
fn lddt_pairs(
    predicted: &Array2<f64>,
    truth: &Array2<f64>,
    mask: &[f64],
    cutoff: f64,
) -> Vec<(f64, f64)> {
    let r = mask.len();
    let dist = |x: &Array2<f64>, i: usize, j: usize| {
        (1e-10 + (0..3).map(|k| (x[(i, k)] - x[(j, k)]).powi(2)).sum::<f64>()).sqrt()
    };
    (0..r)
        .map(|i| {
            let (mut scored, mut total) = (0.0, 0.0);
            for j in (0..r).filter(|&j| j != i) {
                let true_d = dist(truth, i, j);
                let weight = f64::from(u8::from(true_d < cutoff)) * mask[i] * mask[j];
                let l1 = (true_d - dist(predicted, i, j)).abs();
                let score = [0.5, 1.0, 2.0, 4.0].iter().filter(|&&t| l1 < t).count() as f64 * 0.25;
                scored += weight * score;
                total += weight;
            }
            (scored, total)
        })
        .collect()
}

/// lDDT-Cα per residue, over true pairs closer than `cutoff` Å: \[r\].
pub fn lddt_per_residue(
    predicted: &Array2<f64>,
    truth: &Array2<f64>,
    mask: &[f64],
    cutoff: f64,
) -> Vec<f64> {
    lddt_pairs(predicted, truth, mask, cutoff)
        .into_iter()
        .map(|(scored, total)| (1e-10 + scored) / (1e-10 + total))
        .collect()
}

/// lDDT-Cα of predicted atom37 positions against the structure's, with the structure's Cα
/// mask: per residue, and over all pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct CaLddt {
    pub per_residue: Vec<f64>,
    pub mask: Vec<f64>,
    /// Scored weight and true pairs of each residue.
    pairs: Vec<(f64, f64)>,
}

impl CaLddt {
    /// `predicted` and `truth` [r, 37, 3], `mask` [r, 37].
    pub fn compute(
        predicted: ArrayView3<f64>,
        truth: ArrayView3<f64>,
        mask: ArrayView2<f64>,
        cutoff: f64,
    ) -> Self {
        let ca = |x: ArrayView3<f64>| x.index_axis(ndarray::Axis(1), ATOM_CA).to_owned();
        let mask = mask.column(ATOM_CA).to_vec();
        let pairs = lddt_pairs(&ca(predicted), &ca(truth), &mask, cutoff);
        let per_residue =
            pairs.iter().map(|(scored, total)| (1e-10 + scored) / (1e-10 + total)).collect();
        Self { per_residue, mask, pairs }
    }

    /// The mean over residues with a Cα.
    pub fn mean(&self) -> f64 {
        let total: f64 = self.mask.iter().sum();
        let scored: f64 = self.per_residue.iter().zip(&self.mask).map(|(l, m)| l * m).sum();
        scored / total.max(1e-10)
    }

    /// Over all pairs at once (AlphaFold's `lddt(per_residue=False)`, and what `ferrofold
    /// score` and the usual lDDT tools report): residues with more neighbours weigh more than
    /// in [`Self::mean`].
    pub fn global(&self) -> f64 {
        let (scored, total) =
            self.pairs.iter().fold((0.0, 0.0), |(s, t), (scored, total)| (s + scored, t + total));
        (1e-10 + scored) / (1e-10 + total)
    }
}

/// pLDDT loss: `logits` [r, bins] against the binned lDDT-Cα of the predicted structure
/// (`final_atom_positions` [r, 37, 3], gradients stopped). Returns the loss and the lDDT-Cα.
pub fn predicted_lddt_loss<B: Backend>(
    logits: Tensor<B, 2>,
    final_atom_positions: Tensor<B, 3>,
    labels: &LabelTensors<B>,
    cutoff: f64,
) -> (Tensor<B, 1>, CaLddt) {
    let [r, bins] = logits.dims();
    let dim3 = |a: ArrayD<f64>| a.into_dimensionality::<ndarray::Ix3>().expect("[r, 37, 3]");
    let pred = dim3(host(final_atom_positions));
    let truth = dim3(host(labels.all_atom_positions.clone()));
    let mask =
        host(labels.all_atom_mask.clone()).into_dimensionality::<ndarray::Ix2>().expect("[r, 37]");
    let lddt = CaLddt::compute(pred.view(), truth.view(), mask.view(), cutoff);
    let targets = ArrayD::from_shape_fn(IxDyn(&[r]), |ix| {
        ((lddt.per_residue[ix[0]] * bins as f64).floor() as usize).min(bins - 1)
    });
    let denominator = lddt.mask.iter().sum::<f64>() + 1e-8;
    let ca_mask =
        to_device::<B, 1>(ndarray::Array1::from(lddt.mask.clone()).into_dyn(), &logits.device());
    let loss = (softmax_cross_entropy(logits, &targets).reshape([r]) * ca_mask)
        .sum()
        .div_scalar(denominator);
    (loss, lddt)
}

/// Experimentally-resolved loss: sigmoid cross entropy of `logits` [r, 37] against the atoms
/// present in the structure, over the residue types' atoms.
pub fn experimentally_resolved_loss<B: Backend>(
    logits: Tensor<B, 2>,
    labels: &LabelTensors<B>,
) -> Tensor<B, 1> {
    let resolved = labels.all_atom_mask.clone();
    let exists = labels.atom37_atom_exists.clone();
    let xent = resolved.clone().neg() * log_sigmoid(logits.clone())
        - resolved.neg().add_scalar(1.0) * log_sigmoid(logits.neg());
    (xent * exists.clone()).sum() / exists.sum().add_scalar(1e-8)
}

/// Predicted-aligned-error loss: `logits` [r, r, bins] against the binned error of each
/// residue's Cα seen from each residue's predicted frame (`final_affine` [r, 7], gradients
/// stopped) versus its true frame.
pub fn predicted_aligned_error_loss<B: Backend>(
    logits: Tensor<B, 3>,
    final_affine: Tensor<B, 2>,
    labels: &LabelTensors<B>,
    max_error_bin: f64,
) -> Tensor<B, 1> {
    let [r, _, bins] = logits.dims();
    let pred = super::fape::Frames::from_quaternion_affine(final_affine.detach());
    let local_pred = host(pred.local_points(pred.translation.clone()));
    let truth = super::fape::Frames {
        rotation: labels.backbone_rotation.clone(),
        translation: labels.backbone_translation.clone(),
    };
    let local_true = host(truth.local_points(truth.translation.clone()));
    let squared: Vec<f64> = linspace(0.0, max_error_bin, bins - 1).iter().map(|b| b * b).collect();
    let targets = ArrayD::from_shape_fn(IxDyn(&[r, r]), |ix| {
        let d2: f64 = (0..3)
            .map(|k| (local_pred[[ix[0], ix[1], k]] - local_true[[ix[0], ix[1], k]]).powi(2))
            .sum();
        bin(d2, &squared)
    });
    let mask = host(labels.backbone_mask.clone());
    let square_mask = Array2::from_shape_fn((r, r), |(i, j)| mask[[i]] * mask[[j]]);
    let denominator = square_mask.sum() + 1e-8;
    let square_mask = to_device::<B, 2>(square_mask.into_dyn(), &logits.device());
    (softmax_cross_entropy(logits, &targets).reshape([r, r]) * square_mask)
        .sum()
        .div_scalar(denominator)
}
