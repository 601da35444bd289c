//! Frame-aligned point error (Jumper et al. 2021, Suppl. Alg. 28) on the backbone trajectory
//! and on all side-chain frames and atoms, after choosing the naming of symmetric side-chain
//! atoms that fits the prediction best (Suppl. Alg. 26).

use burn::prelude::*;
use ferrofold_model::structure::rigid::quat_to_rot;
use ndarray::Array1;

use super::{host, to_device};
use crate::labels::LabelTensors;

/// Rigid frames: rotations [F, 3, 3] and translations [F, 3].
#[derive(Debug, Clone)]
pub struct Frames<B: Backend> {
    pub rotation: Tensor<B, 3>,
    pub translation: Tensor<B, 2>,
}

impl<B: Backend> Frames<B> {
    /// From AlphaFold's flat12 layout (rotation row-major, then translation): [F, 12].
    pub fn from_flat12(flat: Tensor<B, 2>) -> Self {
        let f = flat.dims()[0];
        Self {
            rotation: flat.clone().narrow(1, 0, 9).reshape([f, 3, 3]),
            translation: flat.narrow(1, 9, 3),
        }
    }

    /// From quaternion (w, x, y, z) + translation: [F, 7].
    pub fn from_quaternion_affine(affine: Tensor<B, 2>) -> Self {
        Self {
            rotation: quat_to_rot(&affine.clone().narrow(1, 0, 4)),
            translation: affine.narrow(1, 4, 3),
        }
    }

    /// Every point [P, 3] in every frame's local coordinates: [F, P, 3] (`Rᵀ (x − t)`).
    pub fn local_points(&self, points: Tensor<B, 2>) -> Tensor<B, 3> {
        (points.unsqueeze_dim::<3>(0) - self.translation.clone().unsqueeze_dim::<3>(1))
            .matmul(self.rotation.clone())
    }
}

/// FAPE: the mean over frame × point pairs of the distance between a point seen from its
/// predicted frame and seen from its true frame, clamped at `clamp` (Å) when given and divided
/// by `length_scale`. Returns a one-element tensor.
#[allow(clippy::too_many_arguments)]
pub fn frame_aligned_point_error<B: Backend>(
    pred_frames: &Frames<B>,
    target_frames: &Frames<B>,
    frames_mask: Tensor<B, 1>,
    pred_positions: Tensor<B, 2>,
    target_positions: Tensor<B, 2>,
    positions_mask: Tensor<B, 1>,
    length_scale: f64,
    clamp: Option<f64>,
) -> Tensor<B, 1> {
    const EPSILON: f64 = 1e-4;
    let pred_local = pred_frames.local_points(pred_positions);
    let target_local = target_frames.local_points(target_positions);
    let mut error =
        (pred_local - target_local).powi_scalar(2).sum_dim(2).add_scalar(EPSILON).sqrt();
    if let Some(clamp) = clamp {
        error = error.clamp_max(clamp);
    }
    let [f, p, _] = error.dims();
    let pair_mask =
        frames_mask.clone().reshape([f, 1, 1]) * positions_mask.clone().reshape([1, p, 1]);
    let normalization = frames_mask.sum() * positions_mask.sum();
    (error * pair_mask).sum().div_scalar(length_scale) / normalization.add_scalar(EPSILON)
}

/// Backbone FAPE of every structure-module layer: `traj` [L, r, 7] (quaternion, translation in
/// Å) against the true backbone frames; the frames' origins (Cα) are the points. Returns \[L\].
/// `clamped_fraction` below 1 mixes in the unclamped loss (AlphaFold clamps 90% of samples).
pub fn backbone_fape_per_layer<B: Backend>(
    traj: Tensor<B, 3>,
    labels: &LabelTensors<B>,
    length_scale: f64,
    clamp: f64,
    clamped_fraction: f64,
) -> Tensor<B, 1> {
    let [layers, r, _] = traj.dims();
    let target = Frames {
        rotation: labels.backbone_rotation.clone(),
        translation: labels.backbone_translation.clone(),
    };
    let mask = labels.backbone_mask.clone();
    let per_layer = (0..layers)
        .map(|l| {
            let pred = Frames::from_quaternion_affine(traj.clone().narrow(0, l, 1).reshape([r, 7]));
            let fape = |clamp| {
                frame_aligned_point_error(
                    &pred,
                    &target,
                    mask.clone(),
                    pred.translation.clone(),
                    target.translation.clone(),
                    mask.clone(),
                    length_scale,
                    clamp,
                )
            };
            if clamped_fraction >= 1.0 {
                fape(Some(clamp))
            } else {
                fape(Some(clamp)).mul_scalar(clamped_fraction)
                    + fape(None).mul_scalar(1.0 - clamped_fraction)
            }
        })
        .collect();
    Tensor::cat(per_layer, 0)
}

/// The ground truth renamed to fit the prediction: 1.0 per residue where the alternative
/// naming of its symmetric atoms is closer (AlphaFold's `find_optimal_renaming`, computed on
/// the host: it carries no gradient), and the renamed atom14 positions and masks.
pub struct RenamedGroundTruth<B: Backend> {
    pub alt_naming_is_better: Array1<f64>,
    pub positions: Tensor<B, 3>,
    pub exists: Tensor<B, 2>,
}

pub fn rename_symmetric_ground_truth<B: Backend>(
    atom14_pred_positions: Tensor<B, 3>,
    labels: &LabelTensors<B>,
) -> RenamedGroundTruth<B> {
    let device = atom14_pred_positions.device();
    let pred = host(atom14_pred_positions);
    let gt = host(labels.atom14_gt_positions.clone());
    let alt = host(labels.atom14_alt_gt_positions.clone());
    let gt_exists = host(labels.atom14_gt_exists.clone());
    let ambiguous = host(labels.atom14_atom_is_ambiguous.clone());
    let r = pred.shape()[0];
    let dist = |x: &ndarray::ArrayD<f64>, i: usize, a: usize, j: usize, b: usize| {
        let d2: f64 = (0..3).map(|k| (x[[i, a, k]] - x[[j, b, k]]).powi(2)).sum();
        (1e-10 + d2).sqrt()
    };
    let mut alt_better = Array1::<f64>::zeros(r);
    for i in 0..r {
        let rows: Vec<usize> =
            (0..14).filter(|&a| gt_exists[[i, a]] * ambiguous[[i, a]] != 0.0).collect();
        if rows.is_empty() {
            continue;
        }
        let (mut per_res, mut alt_per_res) = (0.0, 0.0);
        for j in 0..r {
            for b in (0..14).filter(|&b| gt_exists[[j, b]] * (1.0 - ambiguous[[j, b]]) != 0.0) {
                let weight = gt_exists[[j, b]] * (1.0 - ambiguous[[j, b]]);
                for &a in &rows {
                    let w = gt_exists[[i, a]] * ambiguous[[i, a]] * weight;
                    let pd = dist(&pred, i, a, j, b);
                    per_res += w * (1e-10 + (pd - dist(&gt, i, a, j, b)).powi(2)).sqrt();
                    alt_per_res += w * (1e-10 + (pd - dist(&alt, i, a, j, b)).powi(2)).sqrt();
                }
            }
        }
        alt_better[i] = f64::from(u8::from(alt_per_res < per_res));
    }
    let choose = to_device::<B, 1>(alt_better.clone().into_dyn(), &device);
    let keep = choose.clone().neg().add_scalar(1.0);
    RenamedGroundTruth {
        positions: labels.atom14_gt_positions.clone() * keep.clone().reshape([r, 1, 1])
            + labels.atom14_alt_gt_positions.clone() * choose.clone().reshape([r, 1, 1]),
        exists: labels.atom14_gt_exists.clone() * keep.reshape([r, 1])
            + labels.atom14_alt_gt_exists.clone() * choose.reshape([r, 1]),
        alt_naming_is_better: alt_better,
    }
}

/// All-atom FAPE of the last layer: every predicted rigid-group frame [r, 8, 12] against the
/// renamed true frames, every predicted atom [r, 14, 3] against the renamed true atoms.
pub fn sidechain_fape<B: Backend>(
    pred_frames: Tensor<B, 3>,
    atom14_pred_positions: Tensor<B, 3>,
    renamed: &RenamedGroundTruth<B>,
    labels: &LabelTensors<B>,
    length_scale: f64,
    clamp: f64,
) -> Tensor<B, 1> {
    let [r, groups, _] = pred_frames.dims();
    let device = pred_frames.device();
    let choose = to_device::<B, 1>(renamed.alt_naming_is_better.clone().into_dyn(), &device)
        .reshape([r, 1, 1]);
    let gt_frames = labels.rigidgroups_gt_frames.clone() * choose.clone().neg().add_scalar(1.0)
        + labels.rigidgroups_alt_gt_frames.clone() * choose;
    frame_aligned_point_error(
        &Frames::from_flat12(pred_frames.reshape([r * groups, 12])),
        &Frames::from_flat12(gt_frames.reshape([r * groups, 12])),
        labels.rigidgroups_gt_exists.clone().reshape([r * groups]),
        atom14_pred_positions.reshape([r * 14, 3]),
        renamed.positions.clone().reshape([r * 14, 3]),
        renamed.exists.clone().reshape([r * 14]),
        length_scale,
        Some(clamp),
    )
}
