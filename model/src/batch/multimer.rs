//! AlphaFold-Multimer's batch: the chain-relative encoding and the multimer template features,
//! computed on the host as the monomer's are.

use burn::prelude::*;
use ndarray::{s, Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayView3};

use super::squared_bin_bounds;
use super::{
    check_shape, residue_tables, FeatureBatch, IterationInputs, MultimerTemplateInputs, GLY,
};
use crate::config::{DistogramBins, ModelConfig, MultimerConfig};
use crate::error::{ModelError, Result};
use crate::host::host_tensor;

impl FeatureBatch {
    /// Iteration `i` of an AlphaFold-Multimer batch: per iteration `aatype`, `residue_index`,
    /// `asym_id`, `entity_id`, `sym_id`, `seq_mask`, the sampled MSA's `msa_feat`, `msa_mask`,
    /// `extra_msa_feat`, `extra_msa_mask`, and (optional) `template_aatype`,
    /// `template_all_atom_positions`, `template_all_atom_mask`
    /// (`ferrofold_features::multimer::multimer_batch`).
    pub(super) fn multimer_iteration<B: Backend>(
        &self,
        i: usize,
        config: &ModelConfig,
        multimer: &MultimerConfig,
        device: &B::Device,
    ) -> Result<IterationInputs<B>> {
        let aatype = self.slice("aatype", i, 1)?;
        let r = aatype.len();
        let aatype: Vec<i64> = aatype.iter().map(|&a| a as i64).collect();
        if let Some(&bad) = aatype.iter().find(|&&a| !(0..=20).contains(&a)) {
            return Err(ModelError::Batch {
                name: "aatype".into(),
                message: format!("residue type {bad} out of range 0..=20"),
            });
        }
        let per_residue = |name: &str| -> Result<Vec<f64>> {
            let a = self.slice(name, i, 1)?;
            check_shape(name, &a, &[Some(r)])?;
            Ok(a.iter().copied().collect())
        };
        let residue_index = per_residue("residue_index")?;
        let asym_id = per_residue("asym_id")?;
        let entity_id = per_residue("entity_id")?;
        let sym_id = per_residue("sym_id")?;
        let seq_mask = self.slice("seq_mask", i, 1)?;
        check_shape("seq_mask", &seq_mask, &[Some(r)])?;
        let (msa_feat, msa_mask) = self.cluster_msa(i, r)?;
        let extra_msa_feat = self.slice("extra_msa_feat", i, 3)?;
        check_shape("extra_msa_feat", &extra_msa_feat, &[None, Some(r), Some(25)])?;
        let extra_msa_mask = self.slice("extra_msa_mask", i, 2)?;
        check_shape(
            "extra_msa_mask",
            &extra_msa_mask,
            &[Some(extra_msa_feat.shape()[0]), Some(r)],
        )?;

        let target_feat = Array2::from_shape_fn((r, 21), |(a, k)| f64::from(aatype[a] == k as i64));
        let relative_position = multimer_relative_encoding(
            &residue_index,
            &asym_id,
            &entity_id,
            &sym_id,
            multimer.max_relative_idx,
            multimer.max_relative_chain,
        );
        let is_glycine = Array2::from_shape_fn((r, 1), |(a, _)| f64::from(aatype[a] == GLY));
        let multimer_templates =
            if config.template.enabled && self.features.get("template_aatype").is_some() {
                Some(self.multimer_template_inputs(i, r, &asym_id, config, device)?)
            } else {
                None
            };
        Ok(IterationInputs {
            target_feat: host_tensor(target_feat.into_dyn(), device),
            msa_feat: host_tensor(msa_feat, device),
            seq_mask: host_tensor(seq_mask, device),
            msa_mask: host_tensor(msa_mask, device),
            relative_position: host_tensor(relative_position.into_dyn(), device),
            is_glycine: host_tensor(is_glycine.into_dyn(), device),
            extra_msa_feat: host_tensor(extra_msa_feat, device),
            extra_msa_mask: host_tensor(extra_msa_mask, device),
            templates: None,
            multimer_templates,
            residue_tables: residue_tables(&aatype, device),
        })
    }

    fn multimer_template_inputs<B: Backend>(
        &self,
        i: usize,
        r: usize,
        asym_id: &[f64],
        config: &ModelConfig,
        device: &B::Device,
    ) -> Result<MultimerTemplateInputs<B>> {
        let (aatype, positions, masks) = self.template_atoms(i, r, "template_all_atom_mask")?;
        let t = aatype.shape()[0];
        if let Some(bad) = aatype.iter().find(|&&a| !(0.0..=21.0).contains(&a)) {
            return Err(ModelError::Batch {
                name: "template_aatype".into(),
                message: format!("residue type {bad} out of range 0..=21"),
            });
        }
        let aatype = aatype.into_dimensionality::<ndarray::Ix2>().expect("checked shape");
        let positions = positions.into_dimensionality::<ndarray::Ix4>().expect("checked shape");
        let masks = masks.into_dimensionality::<ndarray::Ix3>().expect("checked shape");
        let same_chain =
            Array2::from_shape_fn((r, r), |(a, b)| f64::from(asym_id[a] == asym_id[b]));
        let mut pair = Vec::with_capacity(t);
        let mut single_features = Array3::zeros((t, r, TEMPLATE_SINGLE_FEATURES));
        let mut single_mask = Array2::zeros((t, r));
        for k in 0..t {
            let aatype_k: Array1<i32> = aatype.slice(s![k, ..]).mapv(|a| a as i32);
            let positions_k = positions.slice(s![k, .., .., ..]);
            let mask_k = masks.slice(s![k, .., ..]);
            pair.push(multimer_template_pair_features(
                aatype_k.view(),
                positions_k,
                mask_k,
                same_chain.view(),
                &config.template.dgram_features,
            ));
            let (features, mask) =
                multimer_template_single_features(aatype_k.view(), positions_k, mask_k);
            single_features.slice_mut(s![k, .., ..]).assign(&features);
            single_mask.slice_mut(s![k, ..]).assign(&mask);
        }
        Ok(MultimerTemplateInputs {
            pair,
            single_features: host_tensor(single_features.into_dyn(), device),
            single_mask: host_tensor(single_mask.into_dyn(), device),
        })
    }
}

/// AlphaFold-Multimer's relative encoding of residue pairs (`_relative_encoding` with
/// `use_chain_relative`), one-hot, [r, r, 2·max_relative_idx + 2 + 1 + 2·max_relative_chain + 2]:
/// the residue-number offset clipped to ±`max_relative_idx` (a pair from two chains: the
/// extra last bin), whether both residues belong to one entity, and the difference of their
/// symmetry ids clipped to ±`max_relative_chain` (two entities: the extra last bin).
pub fn multimer_relative_encoding(
    residue_index: &[f64],
    asym_id: &[f64],
    entity_id: &[f64],
    sym_id: &[f64],
    max_relative_idx: usize,
    max_relative_chain: usize,
) -> Array3<f64> {
    let r = residue_index.len();
    let (k, c) = (max_relative_idx as i64, max_relative_chain as i64);
    let position_bins = 2 * max_relative_idx + 2;
    let chain_bins = 2 * max_relative_chain + 2;
    let mut features = Array3::zeros((r, r, position_bins + 1 + chain_bins));
    for a in 0..r {
        for b in 0..r {
            let position = if asym_id[a] == asym_id[b] {
                let offset = residue_index[a] as i64 - residue_index[b] as i64;
                (offset + k).clamp(0, 2 * k) as usize
            } else {
                position_bins - 1
            };
            features[(a, b, position)] = 1.0;
            let same_entity = entity_id[a] == entity_id[b];
            if same_entity {
                features[(a, b, position_bins)] = 1.0;
            }
            let chain = if same_entity {
                let offset = sym_id[a] as i64 - sym_id[b] as i64;
                (offset + c).clamp(0, 2 * c) as usize
            } else {
                chain_bins - 1
            };
            features[(a, b, position_bins + 1 + chain)] = 1.0;
        }
    }
    features
}

/// Residue types of a template: AlphaFold's 20, unknown, gap.
pub const TEMPLATE_AATYPES: usize = 22;
/// Clip of vector norms (AlphaFold's `Vec3Array.norm` epsilon).
const NORM_EPSILON: f64 = 1e-6;

/// One template's pair features, computed on the host in float64.
#[derive(Debug, Clone)]
pub struct MultimerTemplatePairFeatures {
    /// Distance bins of the pseudo-beta atoms [r, r, bins], zero outside the mask below.
    pub distogram: Array3<f64>,
    /// Both pseudo-beta atoms present, one chain: [r, r].
    pub pseudo_beta_mask_2d: Array2<f64>,
    /// One-hot residue types [r, 22].
    pub aatype_one_hot: Array2<f64>,
    /// Direction of residue j's CA in residue i's backbone frame, x, y and z: [r, r] each, zero
    /// outside the backbone mask.
    pub unit_vectors: [Array2<f64>; 3],
    /// Both backbones (N, CA, C) present, one chain: [r, r].
    pub backbone_mask_2d: Array2<f64>,
}

type Vec3 = [f64; 3];

fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn normalized(a: Vec3) -> Vec3 {
    let norm = dot(a, a).max(NORM_EPSILON * NORM_EPSILON).sqrt();
    [a[0] / norm, a[1] / norm, a[2] / norm]
}

fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

/// The pair features of one template: `aatype` \[r\] (AlphaFold's order, 21 = gap), atom37
/// `positions` [r, 37, 3] and `mask` [r, 37]; `same_chain` [r, r] is 1 for residue pairs of one
/// chain (templates are per chain: nothing is read across chains).
pub fn multimer_template_pair_features(
    aatype: ArrayView1<i32>,
    positions: ArrayView3<f64>,
    mask: ArrayView2<f64>,
    same_chain: ArrayView2<f64>,
    bins: &DistogramBins,
) -> MultimerTemplatePairFeatures {
    let r = aatype.len();
    let (pseudo_beta, pseudo_beta_mask) =
        ferrofold_features::labels::pseudo_beta(aatype, positions, mask);
    let pseudo_beta_mask_2d = Array2::from_shape_fn((r, r), |(i, j)| {
        pseudo_beta_mask[i] * pseudo_beta_mask[j] * same_chain[(i, j)]
    });
    let (lower, upper) = squared_bin_bounds(bins);
    let distogram = Array3::from_shape_fn((r, r, bins.num_bins), |(i, j, k)| {
        let d2: f64 = (0..3).map(|x| (pseudo_beta[(i, x)] - pseudo_beta[(j, x)]).powi(2)).sum();
        f64::from(d2 > lower[k] && d2 < upper[k]) * pseudo_beta_mask_2d[(i, j)]
    });
    let aatype_one_hot = Array2::from_shape_fn((r, TEMPLATE_AATYPES), |(i, k)| {
        f64::from(usize::try_from(aatype[i]).is_ok_and(|a| a == k))
    });

    // Backbone frames (`make_transform_from_reference`): origin CA, x towards C, N in the xy
    // plane. Rows of the inverse rotation are the frame's axes.
    let atom = |i: usize, a: usize| -> Vec3 {
        [positions[(i, a, 0)], positions[(i, a, 1)], positions[(i, a, 2)]]
    };
    let (n, ca, c) = (0, 1, 2);
    let mut axes = Vec::with_capacity(r);
    for i in 0..r {
        let e0 = normalized(sub(atom(i, c), atom(i, ca)));
        let e1 = sub(atom(i, n), atom(i, ca));
        let along = dot(e1, e0);
        let e1 = normalized([e1[0] - along * e0[0], e1[1] - along * e0[1], e1[2] - along * e0[2]]);
        axes.push([e0, e1, cross(e0, e1)]);
    }
    let backbone_mask: Array1<f64> =
        (0..r).map(|i| mask[(i, n)] * mask[(i, ca)] * mask[(i, c)]).collect();
    let backbone_mask_2d = Array2::from_shape_fn((r, r), |(i, j)| {
        backbone_mask[i] * backbone_mask[j] * same_chain[(i, j)]
    });
    let mut unit_vectors = [Array2::zeros((r, r)), Array2::zeros((r, r)), Array2::zeros((r, r))];
    for i in 0..r {
        let origin = atom(i, ca);
        let minus_origin = [-origin[0], -origin[1], -origin[2]];
        // The inverse frame applied as AlphaFold does: R⁻¹·p + R⁻¹·(−t).
        let shift = axes[i].map(|axis| dot(axis, minus_origin));
        for j in 0..r {
            let point = atom(j, ca);
            let local: Vec3 = std::array::from_fn(|k| dot(axes[i][k], point) + shift[k]);
            let unit = normalized(local);
            for k in 0..3 {
                unit_vectors[k][(i, j)] = unit[k] * backbone_mask_2d[(i, j)];
            }
        }
    }
    MultimerTemplatePairFeatures {
        distogram,
        pseudo_beta_mask_2d,
        aatype_one_hot,
        unit_vectors,
        backbone_mask_2d,
    }
}

/// Width of a template residue's single features: residue type (22), sin and cos of the four chi
/// angles, their masks.
pub const TEMPLATE_SINGLE_FEATURES: usize = TEMPLATE_AATYPES + 12;

/// AlphaFold-Multimer's per-residue template features (`template_embedding_1d`'s input) of one
/// template, [r, 34], and the residues' mask (chi 1 computable), \[r\]: `aatype` \[r\] (21 = gap),
/// atom37 `positions` [r, 37, 3] and `mask` [r, 37].
pub fn multimer_template_single_features(
    aatype: ArrayView1<i32>,
    positions: ArrayView3<f64>,
    mask: ArrayView2<f64>,
) -> (Array2<f64>, Array1<f64>) {
    use ferrofold_features::residue_constants::{chi_angles_mask, derived};
    let r = aatype.len();
    let chi_atoms = &derived().chi_angles_atom_indices;
    let chi_masks = chi_angles_mask();
    let mut features = Array2::zeros((r, TEMPLATE_SINGLE_FEATURES));
    let mut residue_mask = Array1::zeros(r);
    let atom = |i: usize, a: usize| -> Vec3 {
        [positions[(i, a, 0)], positions[(i, a, 1)], positions[(i, a, 2)]]
    };
    for i in 0..r {
        // Types beyond the table (the gap) read as unknown: no chi angles (DeepMind's gathers
        // clip the index).
        let restype = usize::try_from(aatype[i]).unwrap_or(0).min(20);
        if let Ok(class) = usize::try_from(aatype[i]) {
            if class < TEMPLATE_AATYPES {
                features[(i, class)] = 1.0;
            }
        }
        for chi in 0..4 {
            let (atoms, exists) = if restype < 20 {
                (chi_atoms[restype][chi], f64::from(chi_masks[restype][chi]))
            } else {
                ([0; 4], 0.0)
            };
            let present: f64 = atoms.iter().map(|&a| mask[(i, a)]).product();
            let chi_mask = exists * present;
            let angle = dihedral(
                atom(i, atoms[0]),
                atom(i, atoms[1]),
                atom(i, atoms[2]),
                atom(i, atoms[3]),
            );
            features[(i, TEMPLATE_AATYPES + chi)] = angle.sin() * chi_mask;
            features[(i, TEMPLATE_AATYPES + 4 + chi)] = angle.cos() * chi_mask;
            features[(i, TEMPLATE_AATYPES + 8 + chi)] = chi_mask;
            if chi == 0 {
                residue_mask[i] = chi_mask;
            }
        }
    }
    (features, residue_mask)
}

/// The dihedral angle of four points, as AlphaFold's `geometry.dihedral_angle`.
fn dihedral(a: Vec3, b: Vec3, c: Vec3, d: Vec3) -> f64 {
    let (v1, v2, v3) = (sub(a, b), sub(b, c), sub(d, c));
    let c1 = cross(v1, v2);
    let c2 = cross(v3, v2);
    let c3 = cross(c2, c1);
    let v2_norm = dot(v2, v2).max(NORM_EPSILON * NORM_EPSILON).sqrt();
    dot(c3, v2).atan2(v2_norm * dot(c1, c2))
}
