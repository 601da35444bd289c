//! Side-chain torsion supervision (Jumper et al. 2021, Suppl. Alg. 27): the predicted chi
//! angles' sine and cosine against the truth (π-periodic chis compared both ways), and a penalty
//! keeping the unnormalised (sin, cos) pairs near unit length.

use burn::prelude::*;
use ferrofold_features::residue_constants::CHI_PI_PERIODIC;

use super::to_device;
use crate::labels::LabelTensors;

/// Squared chi error, masked mean over layers × residues × chis. `angles_sin_cos`: every
/// layer's [L, r, 7, 2] (the chis are torsions 3..7).
pub fn supervised_chi_loss<B: Backend>(
    angles_sin_cos: Tensor<B, 4>,
    labels: &LabelTensors<B>,
) -> Tensor<B, 1> {
    let [layers, r, _, _] = angles_sin_cos.dims();
    let device = angles_sin_cos.device();
    let pred = angles_sin_cos.narrow(2, 3, 4);
    let true_sin_cos = Tensor::stack::<3>(
        vec![labels.chi_angles.clone().sin(), labels.chi_angles.clone().cos()],
        2,
    )
    .unsqueeze_dim::<4>(0);
    // −1 for π-periodic chis (whose true angle may be flipped by π), +1 otherwise.
    let shift: Vec<f64> = labels
        .aatype
        .iter()
        .flat_map(|&a| CHI_PI_PERIODIC[a.clamp(0, 20) as usize].map(|p| if p { -1.0 } else { 1.0 }))
        .collect();
    let shift = to_device::<B, 3>(
        ndarray::Array::from_shape_vec((1, r, 4), shift).expect("r × 4").into_dyn(),
        &device,
    )
    .unsqueeze_dim::<4>(3);
    let error = (true_sin_cos.clone() - pred.clone()).powi_scalar(2).sum_dim(3);
    let error_shifted = (true_sin_cos * shift - pred).powi_scalar(2).sum_dim(3);
    let error = error.clone().min_pair(error_shifted).reshape([layers, r, 4]);
    let mask = labels.chi_mask.clone().unsqueeze_dim::<3>(0);
    (error * mask.clone()).sum() / (mask.sum().mul_scalar(layers as f64).add_scalar(1e-10))
}

/// |‖(sin, cos)‖ − 1| of the unnormalised angles, masked mean over layers × residues × 7.
pub fn angle_norm_loss<B: Backend>(
    unnormalized_angles_sin_cos: Tensor<B, 4>,
    labels: &LabelTensors<B>,
) -> Tensor<B, 1> {
    let [layers, r, torsions, _] = unnormalized_angles_sin_cos.dims();
    let norm = unnormalized_angles_sin_cos.powi_scalar(2).sum_dim(3).add_scalar(1e-6).sqrt();
    let error = norm.reshape([layers, r, torsions]).sub_scalar(1.0).abs();
    let mask = labels.seq_mask.clone().reshape([1, r, 1]);
    (error * mask.clone()).sum()
        / (mask.sum().mul_scalar((layers * torsions) as f64).add_scalar(1e-10))
}
