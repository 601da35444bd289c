//! Ground truth from an experimental structure, in the layout AlphaFold's losses read:
//! atom37 and atom14 positions with the alternative naming of symmetric side chains, rigid-group
//! frames, chi angles and pseudo-beta positions.

use burn::prelude::*;
use ferrofold_features::labels::{
    atom37_to_frames, atom37_to_torsion_angles, make_atom14_positions, pseudo_beta, Atom14,
    RigidGroupFrames,
};
use ferrofold_features::protein::Protein;
use ferrofold_features::residue_constants::derived;
use ferrofold_model::host::host_tensor;
use ndarray::{Array1, Array2, Array3, ArrayD, Axis};

/// Labels of one chain on the host, float64.
#[derive(Debug, Clone)]
pub struct StructureLabels {
    /// \[N\]
    pub aatype: Array1<i32>,
    /// \[N\]
    pub residue_index: Array1<i32>,
    /// [N, 37, 3] and [N, 37]
    pub all_atom_positions: Array3<f64>,
    pub all_atom_mask: Array2<f64>,
    /// The residue type's atom37 atoms: [N, 37].
    pub atom37_atom_exists: Array2<f64>,
    pub atom14: Atom14,
    pub rigid_groups: RigidGroupFrames,
    /// Chi angles in radians and their masks: [N, 4].
    pub chi_angles: Array2<f64>,
    pub chi_mask: Array2<f64>,
    /// [N, 3] and \[N\]
    pub pseudo_beta: Array2<f64>,
    pub pseudo_beta_mask: Array1<f64>,
    /// Resolution in Å (0 for NMR and predicted structures, which some losses skip).
    pub resolution: f64,
}

impl StructureLabels {
    pub fn from_protein(protein: &Protein, resolution: f64) -> Self {
        let aatype = protein.aatype.view();
        let positions = protein.atom_positions.view();
        let mask = protein.atom_mask.view();
        let torsions = atom37_to_torsion_angles(aatype, positions, mask);
        let n = aatype.len();
        let chi_angles = Array2::from_shape_fn((n, 4), |(i, k)| {
            torsions.sin_cos[(i, 3 + k, 0)].atan2(torsions.sin_cos[(i, 3 + k, 1)])
        });
        let chi_mask = torsions.mask.slice(ndarray::s![.., 3..]).to_owned();
        let (pseudo_beta, pseudo_beta_mask) = pseudo_beta(aatype, positions, mask);
        let exists = &derived().restype_atom37_mask;
        let atom37_atom_exists = Array2::from_shape_fn((n, 37), |(i, a)| {
            f64::from(exists[aatype[i].clamp(0, 20) as usize][a])
        });
        Self {
            aatype: protein.aatype.clone(),
            residue_index: protein.residue_index.clone(),
            all_atom_positions: protein.atom_positions.clone(),
            all_atom_mask: protein.atom_mask.clone(),
            atom37_atom_exists,
            atom14: make_atom14_positions(aatype, positions, mask),
            rigid_groups: atom37_to_frames(aatype, positions, mask),
            chi_angles,
            chi_mask,
            pseudo_beta,
            pseudo_beta_mask,
            resolution,
        }
    }

    pub fn num_residues(&self) -> usize {
        self.aatype.len()
    }

    /// The labels of the residues `indices` (in that order), for cropping.
    pub fn select(&self, indices: &[usize]) -> Self {
        let a14 = &self.atom14;
        let rg = &self.rigid_groups;
        Self {
            aatype: self.aatype.select(Axis(0), indices),
            residue_index: self.residue_index.select(Axis(0), indices),
            all_atom_positions: self.all_atom_positions.select(Axis(0), indices),
            all_atom_mask: self.all_atom_mask.select(Axis(0), indices),
            atom37_atom_exists: self.atom37_atom_exists.select(Axis(0), indices),
            atom14: Atom14 {
                gt_positions: a14.gt_positions.select(Axis(0), indices),
                gt_exists: a14.gt_exists.select(Axis(0), indices),
                alt_gt_positions: a14.alt_gt_positions.select(Axis(0), indices),
                alt_gt_exists: a14.alt_gt_exists.select(Axis(0), indices),
                atom_is_ambiguous: a14.atom_is_ambiguous.select(Axis(0), indices),
                atom_exists: a14.atom_exists.select(Axis(0), indices),
            },
            rigid_groups: RigidGroupFrames {
                gt_frames: rg.gt_frames.select(Axis(0), indices),
                gt_exists: rg.gt_exists.select(Axis(0), indices),
                group_exists: rg.group_exists.select(Axis(0), indices),
                group_is_ambiguous: rg.group_is_ambiguous.select(Axis(0), indices),
                alt_gt_frames: rg.alt_gt_frames.select(Axis(0), indices),
            },
            chi_angles: self.chi_angles.select(Axis(0), indices),
            chi_mask: self.chi_mask.select(Axis(0), indices),
            pseudo_beta: self.pseudo_beta.select(Axis(0), indices),
            pseudo_beta_mask: self.pseudo_beta_mask.select(Axis(0), indices),
            resolution: self.resolution,
        }
    }

    /// The labels as tensors on `device`.
    pub fn to_tensors<B: Backend>(&self, device: &B::Device) -> LabelTensors<B> {
        fn t<B: Backend, const D: usize, S, Dim>(
            a: &ndarray::ArrayBase<S, Dim>,
            device: &B::Device,
        ) -> Tensor<B, D>
        where
            S: ndarray::Data<Elem = f64>,
            Dim: ndarray::Dimension,
        {
            host_tensor(a.to_owned().into_dyn(), device)
        }
        let n = self.num_residues();
        let frames = &self.rigid_groups.gt_frames;
        let backbone = frames.index_axis(Axis(1), 0);
        LabelTensors {
            all_atom_positions: t(&self.all_atom_positions, device),
            all_atom_mask: t(&self.all_atom_mask, device),
            atom37_atom_exists: t(&self.atom37_atom_exists, device),
            atom14_gt_positions: t(&self.atom14.gt_positions, device),
            atom14_gt_exists: t(&self.atom14.gt_exists, device),
            atom14_alt_gt_positions: t(&self.atom14.alt_gt_positions, device),
            atom14_alt_gt_exists: t(&self.atom14.alt_gt_exists, device),
            atom14_atom_is_ambiguous: t(&self.atom14.atom_is_ambiguous, device),
            atom14_atom_exists: t(&self.atom14.atom_exists, device),
            rigidgroups_gt_frames: t(frames, device),
            rigidgroups_alt_gt_frames: t(&self.rigid_groups.alt_gt_frames, device),
            rigidgroups_gt_exists: t(&self.rigid_groups.gt_exists, device),
            backbone_rotation: t::<B, 3, _, _>(
                &backbone
                    .slice(ndarray::s![.., 0..9])
                    .to_owned()
                    .into_shape_with_order((n, 3, 3))
                    .expect("9 = 3 × 3"),
                device,
            ),
            backbone_translation: t(&backbone.slice(ndarray::s![.., 9..12]), device),
            backbone_mask: t(&self.rigid_groups.gt_exists.index_axis(Axis(1), 0), device),
            chi_angles: t(&self.chi_angles, device),
            chi_mask: t(&self.chi_mask, device),
            seq_mask: t(&Array1::<f64>::ones(n), device),
            aatype: self.aatype.clone(),
            residue_index: self.residue_index.clone(),
            pseudo_beta: self.pseudo_beta.clone(),
            pseudo_beta_mask: self.pseudo_beta_mask.clone(),
            resolution: self.resolution,
        }
    }
}

/// The labels as tensors, AlphaFold's batch names. Integer and purely host-side labels (used
/// to build one-hot targets, never differentiated) stay as arrays.
#[derive(Debug, Clone)]
pub struct LabelTensors<B: Backend> {
    pub all_atom_positions: Tensor<B, 3>,
    pub all_atom_mask: Tensor<B, 2>,
    pub atom37_atom_exists: Tensor<B, 2>,
    pub atom14_gt_positions: Tensor<B, 3>,
    pub atom14_gt_exists: Tensor<B, 2>,
    pub atom14_alt_gt_positions: Tensor<B, 3>,
    pub atom14_alt_gt_exists: Tensor<B, 2>,
    pub atom14_atom_is_ambiguous: Tensor<B, 2>,
    pub atom14_atom_exists: Tensor<B, 2>,
    /// [N, 8, 12] flat12 frames (rotation row-major, then translation).
    pub rigidgroups_gt_frames: Tensor<B, 3>,
    pub rigidgroups_alt_gt_frames: Tensor<B, 3>,
    pub rigidgroups_gt_exists: Tensor<B, 2>,
    /// The backbone frame (rigid group 0): [N, 3, 3], [N, 3], \[N\].
    pub backbone_rotation: Tensor<B, 3>,
    pub backbone_translation: Tensor<B, 2>,
    pub backbone_mask: Tensor<B, 1>,
    pub chi_angles: Tensor<B, 2>,
    pub chi_mask: Tensor<B, 2>,
    pub seq_mask: Tensor<B, 1>,
    pub aatype: Array1<i32>,
    pub residue_index: Array1<i32>,
    pub pseudo_beta: Array2<f64>,
    pub pseudo_beta_mask: Array1<f64>,
    pub resolution: f64,
}

/// Host values of a tensor (float64), for targets built from predictions without gradients.
pub fn host<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> ArrayD<f64> {
    ferrofold_model::host::to_array(tensor.detach())
}
