//! From backbone frames and torsion angles to all heavy atoms: AlphaFold's
//! `torsion_angles_to_frames`, `frames_and_literature_positions_to_atom14_pos` and
//! `atom14_to_atom37` (Jumper et al. 2021, Suppl. Alg. 24).

use burn::prelude::*;

use super::rigid::Rigid;
use crate::batch::ResidueTables;
use crate::host::float_options;

/// The 8 rigid-group frames of each residue in global coordinates: [r, 8].
/// `angles` [r, 7, 2] are (sin, cos) of ω, φ, ψ, χ1..χ4.
pub fn torsion_angles_to_frames<B: Backend>(
    tables: &ResidueTables<B>,
    backbone: &Rigid<B, 3>,
    angles: Tensor<B, 3>,
) -> Rigid<B, 4> {
    let [r, _, _] = angles.dims();
    let device = angles.device();
    let g = 8;
    // The backbone group has no torsion: (sin, cos) = (0, 1).
    let backbone_angle = Tensor::<B, 3>::cat(
        vec![
            Tensor::zeros([r, 1, 1], float_options::<B>(&device)),
            Tensor::ones([r, 1, 1], float_options::<B>(&device)),
        ],
        2,
    );
    let angles = Tensor::cat(vec![backbone_angle, angles], 1); // [r, 8, 2]
    let sin = angles.clone().narrow(2, 0, 1).reshape([r, g]);
    let cos = angles.narrow(2, 1, 1).reshape([r, g]);
    let zeros = Tensor::<B, 2>::zeros([r, g], float_options::<B>(&device));
    let ones = Tensor::<B, 2>::ones([r, g], float_options::<B>(&device));
    // Rotation about x by the torsion angle.
    let torsion_rotation = Tensor::stack::<3>(
        vec![
            ones,
            zeros.clone(),
            zeros.clone(),
            zeros.clone(),
            cos.clone(),
            sin.clone().neg(),
            zeros,
            sin,
            cos,
        ],
        2,
    )
    .reshape([r, g, 3, 3]);
    let frames = Rigid {
        rotation: tables.default_frame_rotation.clone().matmul(torsion_rotation),
        translation: tables.default_frame_translation.clone().unsqueeze_dim::<4>(2),
    };
    let group = |k: usize| Rigid {
        rotation: frames.rotation.clone().narrow(1, k, 1),
        translation: frames.translation.clone().narrow(1, k, 1),
    };
    // χ2..χ4 frames are defined relative to the previous χ frame: chain them to the backbone.
    let chi2 = group(4).compose(&group(5));
    let chi3 = chi2.compose(&group(6));
    let chi4 = chi3.compose(&group(7));
    let to_backbone = Rigid {
        rotation: Tensor::cat(
            vec![
                frames.rotation.clone().narrow(1, 0, 5),
                chi2.rotation,
                chi3.rotation,
                chi4.rotation,
            ],
            1,
        ),
        translation: Tensor::cat(
            vec![
                frames.translation.clone().narrow(1, 0, 5),
                chi2.translation,
                chi3.translation,
                chi4.translation,
            ],
            1,
        ),
    };
    let global = Rigid {
        rotation: backbone.rotation.clone().unsqueeze_dim::<4>(1).expand([r, g, 3, 3]),
        translation: backbone.translation.clone().unsqueeze_dim::<4>(1).expand([r, g, 1, 3]),
    };
    global.compose(&to_backbone)
}

/// atom14 positions [r, 14, 3] from the group frames: each atom's literature position in its
/// group's frame, masked by the residue type's atoms.
pub fn frames_to_atom14_positions<B: Backend>(
    tables: &ResidueTables<B>,
    frames: &Rigid<B, 4>,
) -> Tensor<B, 3> {
    let [r, g, _, _] = frames.rotation.dims();
    // Select each atom's frame with the one-hot group table (a matmul over groups).
    let rotation = tables
        .atom14_group
        .clone()
        .matmul(frames.rotation.clone().reshape([r, g, 9]))
        .reshape([r, 14, 3, 3]);
    let translation =
        tables.atom14_group.clone().matmul(frames.translation.clone().reshape([r, g, 3]));
    let local = tables.atom14_literature_positions.clone().unsqueeze_dim::<4>(2); // [r, 14, 1, 3]
    let global = local.matmul(rotation.swap_dims(2, 3)).reshape([r, 14, 3]) + translation;
    global * tables.atom14_mask.clone().unsqueeze_dim::<3>(2)
}

/// atom14 → atom37 layout (absent atoms zero): [r, 14, 3] → [r, 37, 3].
pub fn atom14_to_atom37<B: Backend>(
    tables: &ResidueTables<B>,
    atom14: Tensor<B, 3>,
) -> Tensor<B, 3> {
    let [r, n37] = tables.atom37_to_atom14.dims();
    let index = tables.atom37_to_atom14.clone().unsqueeze_dim::<3>(2).expand([r, n37, 3]);
    atom14.gather(1, index) * tables.atom37_exists.clone().unsqueeze_dim::<3>(2)
}
