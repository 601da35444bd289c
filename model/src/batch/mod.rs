//! The model's input batch: AlphaFold's processed features (leading dimension = recycles + 1)
//! and the per-iteration tensors derived from them on the host.
//!
//! Everything here depends only on the input features, never on the network's parameters:
//! one-hot encodings, relative positions, template pair and torsion features, and the
//! residue-type tables of the structure module. Computing them once on the host (in float64)
//! keeps the network itself a pure tensor program.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::TensorData;
use ferrofold_features::feature_dict::{FeatureArray, FeatureDict};
use ferrofold_features::input_pipeline::make_atom14_masks;
use ferrofold_features::labels::atom37_to_torsion_angles;
use ferrofold_features::residue_constants::{derived, ATOM14_NUM, ATOM_TYPE_NUM, RIGID_GROUP_NUM};
use ndarray::{s, Array1, Array2, Array3, Array4, ArrayD, Axis};

use crate::config::{DistogramBins, ModelConfig};
use crate::error::{ModelError, Result};
use crate::host::{host_tensor, int_options};

mod multimer;
pub use multimer::{
    multimer_relative_encoding, multimer_template_pair_features, multimer_template_single_features,
    MultimerTemplatePairFeatures, TEMPLATE_AATYPES, TEMPLATE_SINGLE_FEATURES,
};

const GLY: i64 = 7;

/// A processed feature batch as AlphaFold's model consumes it.
#[derive(Debug, Clone)]
pub struct FeatureBatch {
    pub features: FeatureDict,
}

/// The inputs of one recycling iteration, as tensors.
#[derive(Debug, Clone)]
pub struct IterationInputs<B: Backend> {
    /// [r, 22]
    pub target_feat: Tensor<B, 2>,
    /// [s, r, 49]
    pub msa_feat: Tensor<B, 3>,
    /// \[r\]
    pub seq_mask: Tensor<B, 1>,
    /// [s, r]
    pub msa_mask: Tensor<B, 2>,
    /// One-hot clipped relative position: [r, r, 2·max_relative_feature + 1]
    pub relative_position: Tensor<B, 3>,
    /// 1 for glycine (pseudo-beta is CA), 0 otherwise: [r, 1]
    pub is_glycine: Tensor<B, 2>,
    /// [e, r, 25]
    pub extra_msa_feat: Tensor<B, 3>,
    /// [e, r]
    pub extra_msa_mask: Tensor<B, 2>,
    pub templates: Option<TemplateInputs<B>>,
    /// AlphaFold-Multimer's templates (the multimer network reads these, not `templates`).
    pub multimer_templates: Option<MultimerTemplateInputs<B>>,
    pub residue_tables: ResidueTables<B>,
}

/// AlphaFold-Multimer's template inputs: per template the pair features (host arrays, one
/// template at a time into the embedder) and the per-residue rows appended to the MSA.
#[derive(Debug, Clone)]
pub struct MultimerTemplateInputs<B: Backend> {
    pub pair: Vec<MultimerTemplatePairFeatures>,
    /// [t, r, 34]
    pub single_features: Tensor<B, 3>,
    /// The rows' MSA mask (chi 1 computable): [t, r]
    pub single_mask: Tensor<B, 2>,
}

#[derive(Debug, Clone)]
pub struct TemplateInputs<B: Backend> {
    /// The single-template embedding's input: [t, r, r, 88]
    pub pair_features: Tensor<B, 4>,
    /// \[t\]
    pub template_mask: Tensor<B, 1>,
    /// Template torsion features for the MSA rows: [t, r, 57]
    pub torsion_features: Tensor<B, 3>,
    /// Whether each template residue's psi torsion exists (the rows' MSA mask): [t, r]
    pub torsion_mask: Tensor<B, 2>,
}

/// Per-residue tables of the structure module, indexed by residue type.
#[derive(Debug, Clone)]
pub struct ResidueTables<B: Backend> {
    /// Default frames of the 8 rigid groups: rotation [r, 8, 3, 3] and translation [r, 8, 3].
    pub default_frame_rotation: Tensor<B, 4>,
    pub default_frame_translation: Tensor<B, 3>,
    /// One-hot rigid group of each atom14 slot: [r, 14, 8]
    pub atom14_group: Tensor<B, 3>,
    /// Literature positions of atom14 slots in their group's frame: [r, 14, 3]
    pub atom14_literature_positions: Tensor<B, 3>,
    /// [r, 14]
    pub atom14_mask: Tensor<B, 2>,
    /// atom14 slot of each atom37 atom: [r, 37]
    pub atom37_to_atom14: Tensor<B, 2, Int>,
    /// [r, 37]
    pub atom37_exists: Tensor<B, 2>,
}

impl<B: Backend> IterationInputs<B> {
    /// Residue pairs where both residues are present: [r, r].
    pub fn pair_mask(&self) -> Tensor<B, 2> {
        self.seq_mask.clone().unsqueeze_dim::<2>(1) * self.seq_mask.clone().unsqueeze_dim::<2>(0)
    }

    /// The Evoformer's MSA mask: the MSA rows, then (`with_template_rows`, when there are
    /// templates) one row per template, present where its psi torsion is: [s (+ t), r].
    pub fn evoformer_msa_mask(&self, with_template_rows: bool) -> Tensor<B, 2> {
        let rows = match (&self.templates, &self.multimer_templates) {
            _ if !with_template_rows => None,
            (Some(templates), _) => Some(templates.torsion_mask.clone()),
            (_, Some(templates)) => Some(templates.single_mask.clone()),
            (None, None) => None,
        };
        match rows {
            Some(rows) => Tensor::cat(vec![self.msa_mask.clone(), rows], 0),
            None => self.msa_mask.clone(),
        }
    }
}

/// The template features the network reads.
const TEMPLATE_FEATURES: [&str; 6] = [
    "template_aatype",
    "template_all_atom_positions",
    "template_all_atom_masks",
    "template_mask",
    "template_pseudo_beta",
    "template_pseudo_beta_mask",
];

impl FeatureBatch {
    pub fn read(path: &Path) -> Result<Self> {
        Ok(Self { features: FeatureDict::load_npz(path)? })
    }

    /// Feature `name` as floats; every feature the network reads passes through here, so a
    /// NaN or infinity is refused once, by name, instead of spreading through every output.
    fn array(&self, name: &str) -> Result<ArrayD<f64>> {
        let array = self.features.get(name).map(FeatureArray::to_f64).ok_or_else(|| {
            ModelError::Batch { name: name.into(), message: "missing from the batch".into() }
        })?;
        let non_finite = array.iter().filter(|x| !x.is_finite()).count();
        if non_finite > 0 {
            return Err(ModelError::Batch {
                name: name.into(),
                message: format!("{non_finite} value(s) are not finite (NaN or infinity)"),
            });
        }
        Ok(array)
    }

    /// The template features: all of them or none (AlphaFold's no-hit case). A batch with only
    /// some would otherwise run silently without templates.
    fn has_templates(&self) -> Result<bool> {
        let present: Vec<bool> =
            TEMPLATE_FEATURES.iter().map(|name| self.features.get(name).is_some()).collect();
        if present.iter().all(|&p| p) {
            return Ok(true);
        }
        if let Some(found) = present.iter().position(|&p| p) {
            let missing: Vec<&str> = TEMPLATE_FEATURES
                .iter()
                .zip(&present)
                .filter(|(_, &p)| !p)
                .map(|(name, _)| *name)
                .collect();
            return Err(ModelError::Batch {
                name: TEMPLATE_FEATURES[found].into(),
                message: format!(
                    "the batch has part of the template features: {} missing",
                    missing.join(", ")
                ),
            });
        }
        Ok(false)
    }

    /// Iteration `i`'s slice of feature `name`, with rank `rank` after slicing.
    fn slice(&self, name: &str, i: usize, rank: usize) -> Result<ArrayD<f64>> {
        let array = self.array(name)?;
        if array.ndim() != rank + 1 || array.shape()[0] <= i {
            return Err(ModelError::Batch {
                name: name.into(),
                message: format!(
                    "expected rank {} with at least {} iteration(s) on the leading axis, found shape {:?}",
                    rank + 1,
                    i + 1,
                    array.shape()
                ),
            });
        }
        Ok(array.index_axis(Axis(0), i).to_owned())
    }

    /// Number of slices on the leading axis (recycles + 1).
    pub fn num_iterations(&self) -> Result<usize> {
        Ok(self.array("aatype")?.shape()[0])
    }

    pub fn num_residues(&self) -> Result<usize> {
        let aatype = self.array("aatype")?;
        aatype.shape().get(1).copied().ok_or_else(|| ModelError::Batch {
            name: "aatype".into(),
            message: format!("expected [iterations, residues], found {:?}", aatype.shape()),
        })
    }

    /// The tensors of iteration `i`.
    pub fn iteration<B: Backend>(
        &self,
        i: usize,
        config: &ModelConfig,
        device: &B::Device,
    ) -> Result<IterationInputs<B>> {
        if let Some(multimer) = &config.multimer {
            return self.multimer_iteration(i, config, multimer, device);
        }
        let aatype = self.slice("aatype", i, 1)?;
        let r = aatype.len();
        let aatype: Vec<i64> = aatype.iter().map(|&a| a as i64).collect();
        if let Some(&bad) = aatype.iter().find(|&&a| !(0..=21).contains(&a)) {
            return Err(ModelError::Batch {
                name: "aatype".into(),
                message: format!("residue type {bad} out of range 0..=21"),
            });
        }
        let target_feat = self.slice("target_feat", i, 2)?;
        check_shape("target_feat", &target_feat, &[Some(r), Some(22)])?;
        let (msa_feat, msa_mask) = self.cluster_msa(i, r)?;
        let seq_mask = self.slice("seq_mask", i, 1)?;
        check_shape("seq_mask", &seq_mask, &[Some(r)])?;
        let residue_index = self.slice("residue_index", i, 1)?;
        check_shape("residue_index", &residue_index, &[Some(r)])?;

        let max_rel = config.max_relative_feature as i64;
        let mut relative_position = Array3::<f64>::zeros((r, r, 2 * max_rel as usize + 1));
        for a in 0..r {
            for b in 0..r {
                let offset = residue_index[a] as i64 - residue_index[b] as i64;
                relative_position[(a, b, (offset + max_rel).clamp(0, 2 * max_rel) as usize)] = 1.0;
            }
        }
        let is_glycine = Array2::from_shape_fn((r, 1), |(a, _)| f64::from(aatype[a] == GLY));

        let extra_msa = self.slice("extra_msa", i, 2)?;
        let e = extra_msa.shape()[0];
        check_shape("extra_msa", &extra_msa, &[None, Some(r)])?;
        let has_deletion = self.slice("extra_has_deletion", i, 2)?;
        check_shape("extra_has_deletion", &has_deletion, &[Some(e), Some(r)])?;
        let deletion_value = self.slice("extra_deletion_value", i, 2)?;
        check_shape("extra_deletion_value", &deletion_value, &[Some(e), Some(r)])?;
        let extra_msa_mask = self.slice("extra_msa_mask", i, 2)?;
        check_shape("extra_msa_mask", &extra_msa_mask, &[Some(e), Some(r)])?;
        let mut extra_msa_feat = Array3::<f64>::zeros((e, r, 25));
        for ((row, col), &letter) in
            extra_msa.clone().into_dimensionality::<ndarray::Ix2>().unwrap().indexed_iter()
        {
            if !(0.0..23.0).contains(&letter) {
                return Err(ModelError::Batch {
                    name: "extra_msa".into(),
                    message: format!(
                        "letter {letter} at row {row}, column {col} out of range 0..23"
                    ),
                });
            }
            extra_msa_feat[(row, col, letter as usize)] = 1.0;
            extra_msa_feat[(row, col, 23)] = has_deletion[[row, col]];
            extra_msa_feat[(row, col, 24)] = deletion_value[[row, col]];
        }

        // A batch without template features is AlphaFold's no-hit case (every template masked):
        // the template embedding then adds zero and the template rows are masked out, so
        // leaving both out gives the same outputs.
        let templates = if self.has_templates()? && config.template.enabled {
            Some(self.template_inputs(i, r, config, device)?)
        } else {
            None
        };

        Ok(IterationInputs {
            target_feat: host_tensor(target_feat, device),
            msa_feat: host_tensor(msa_feat, device),
            seq_mask: host_tensor(seq_mask, device),
            msa_mask: host_tensor(msa_mask, device),
            relative_position: host_tensor(relative_position.into_dyn(), device),
            is_glycine: host_tensor(is_glycine.into_dyn(), device),
            extra_msa_feat: host_tensor(extra_msa_feat.into_dyn(), device),
            extra_msa_mask: host_tensor(extra_msa_mask, device),
            templates,
            multimer_templates: None,
            residue_tables: residue_tables(&aatype, device),
        })
    }

    /// Iteration `i`'s cluster rows: `msa_feat` [s, r, 49] (at least the query's row) and
    /// `msa_mask` [s, r].
    fn cluster_msa(&self, i: usize, r: usize) -> Result<(ArrayD<f64>, ArrayD<f64>)> {
        let msa_feat = self.slice("msa_feat", i, 3)?;
        check_shape("msa_feat", &msa_feat, &[None, Some(r), Some(49)])?;
        if msa_feat.shape()[0] == 0 {
            return Err(ModelError::Batch {
                name: "msa_feat".into(),
                message: "no MSA row (the query sequence is always row 0)".into(),
            });
        }
        let msa_mask = self.slice("msa_mask", i, 2)?;
        check_shape("msa_mask", &msa_mask, &[Some(msa_feat.shape()[0]), Some(r)])?;
        Ok((msa_feat, msa_mask))
    }

    /// Iteration `i`'s template residue types [t, r], atom positions [t, r, 37, 3] and atom
    /// mask [t, r, 37] (`mask_name`: the monomer's `template_all_atom_masks`, the multimer's
    /// `template_all_atom_mask`), shapes checked.
    fn template_atoms(
        &self,
        i: usize,
        r: usize,
        mask_name: &str,
    ) -> Result<(ArrayD<f64>, ArrayD<f64>, ArrayD<f64>)> {
        let aatype = self.slice("template_aatype", i, 2)?;
        let positions = self.slice("template_all_atom_positions", i, 4)?;
        let masks = self.slice(mask_name, i, 3)?;
        let (templates, residues, atoms) = (Some(aatype.shape()[0]), Some(r), Some(ATOM_TYPE_NUM));
        check_shape("template_aatype", &aatype, &[templates, residues])?;
        check_shape(
            "template_all_atom_positions",
            &positions,
            &[templates, residues, atoms, Some(3)],
        )?;
        check_shape(mask_name, &masks, &[templates, residues, atoms])?;
        Ok((aatype, positions, masks))
    }

    fn template_inputs<B: Backend>(
        &self,
        i: usize,
        r: usize,
        config: &ModelConfig,
        device: &B::Device,
    ) -> Result<TemplateInputs<B>> {
        let (aatype, positions, masks) = self.template_atoms(i, r, "template_all_atom_masks")?;
        let t = aatype.shape()[0];
        let template_mask = self.slice("template_mask", i, 1)?;
        let pseudo_beta = self.slice("template_pseudo_beta", i, 3)?;
        let pseudo_beta_mask = self.slice("template_pseudo_beta_mask", i, 2)?;
        let (templates, residues) = (Some(t), Some(r));
        check_shape("template_mask", &template_mask, &[templates])?;
        check_shape("template_pseudo_beta", &pseudo_beta, &[templates, residues, Some(3)])?;
        check_shape("template_pseudo_beta_mask", &pseudo_beta_mask, &[templates, residues])?;
        let bins = &config.template.dgram_features;
        let mut pair = Array4::<f64>::zeros((t, r, r, 88));
        let mut torsion_features = Array3::<f64>::zeros((t, r, 57));
        let mut torsion_mask = Array2::<f64>::zeros((t, r));
        for k in 0..t {
            let aa: Vec<usize> = (0..r).map(|a| (aatype[[k, a]] as usize).min(21)).collect();
            let points: Vec<[f64; 3]> =
                (0..r).map(|a| [0, 1, 2].map(|x| pseudo_beta[[k, a, x]])).collect();
            let dgram = distogram(&points, bins);
            // The backbone frame exists where N, CA and C all do.
            let backbone: Vec<f64> =
                (0..r).map(|a| masks[[k, a, 0]] * masks[[k, a, 1]] * masks[[k, a, 2]]).collect();
            for a in 0..r {
                for b in 0..r {
                    let mut f = pair.slice_mut(s![k, a, b, ..]);
                    for bin in 0..bins.num_bins {
                        f[bin] = dgram[[a, b, bin]];
                    }
                    f[39] = pseudo_beta_mask[[k, a]] * pseudo_beta_mask[[k, b]];
                    f[40 + aa[b]] = 1.0;
                    f[62 + aa[a]] = 1.0;
                    // 84..87: unit vectors, zero in every AlphaFold2 preset
                    // (use_template_unit_vector = False).
                    let backbone_2d = backbone[a] * backbone[b];
                    f[87] = backbone_2d;
                    f.mapv_inplace(|x| x * backbone_2d);
                }
            }
            if config.template.embed_torsion_angles {
                let aatype_k: Array1<i32> = aa.iter().map(|&x| x as i32).collect();
                let pos =
                    positions.index_axis(Axis(0), k).into_dimensionality::<ndarray::Ix3>().unwrap();
                let msk =
                    masks.index_axis(Axis(0), k).into_dimensionality::<ndarray::Ix2>().unwrap();
                let torsions = atom37_to_torsion_angles(aatype_k.view(), pos, msk);
                for a in 0..r {
                    // Without the previous residue's CA and C (both at the origin), the
                    // pre-omega frame is degenerate and AlphaFold's value is rounding noise
                    // (the pre-omega torsion of a segment's first residue is rounding noise in DeepMind's code); it is defined here as (0, 0).
                    let no_previous = a == 0 || (msk[[a - 1, 1]] == 0.0 && msk[[a - 1, 2]] == 0.0);
                    let mut torsions_a = torsions.sin_cos.slice(s![a, .., ..]).to_owned();
                    let mut alt_a = torsions.alt_sin_cos.slice(s![a, .., ..]).to_owned();
                    if no_previous {
                        torsions_a.slice_mut(s![0, ..]).fill(0.0);
                        alt_a.slice_mut(s![0, ..]).fill(0.0);
                    }
                    let mut f = torsion_features.slice_mut(s![k, a, ..]);
                    f[aa[a]] = 1.0;
                    for (j, v) in torsions_a.iter().enumerate() {
                        f[22 + j] = *v;
                    }
                    for (j, v) in alt_a.iter().enumerate() {
                        f[36 + j] = *v;
                    }
                    for j in 0..7 {
                        f[50 + j] = torsions.mask[[a, j]];
                    }
                    torsion_mask[[k, a]] = torsions.mask[[a, 2]];
                }
            }
        }
        Ok(TemplateInputs {
            pair_features: host_tensor(pair.into_dyn(), device),
            template_mask: host_tensor(template_mask, device),
            torsion_features: host_tensor(torsion_features.into_dyn(), device),
            torsion_mask: host_tensor(torsion_mask.into_dyn(), device),
        })
    }
}

/// `a` has rank `dims.len()` and the given extent on every axis that names one (None: any).
fn check_shape(name: &str, a: &ArrayD<f64>, dims: &[Option<usize>]) -> Result<()> {
    let ok = a.ndim() == dims.len()
        && a.shape().iter().zip(dims).all(|(&n, d)| d.is_none_or(|d| d == n));
    if ok {
        Ok(())
    } else {
        Err(ModelError::Batch {
            name: name.into(),
            message: format!("expected shape {dims:?} (None: any), found {:?}", a.shape()),
        })
    }
}

/// AlphaFold's `dgram_from_positions` on the host: one-hot of the squared distance between
/// consecutive squared bin edges (the last bin open-ended).
fn distogram(points: &[[f64; 3]], bins: &DistogramBins) -> Array3<f64> {
    let n = points.len();
    let (lower, upper) = squared_bin_bounds(bins);
    let mut out = Array3::zeros((n, n, bins.num_bins));
    for a in 0..n {
        for b in 0..n {
            let d2: f64 = (0..3).map(|x| (points[a][x] - points[b][x]).powi(2)).sum();
            for k in 0..bins.num_bins {
                out[[a, b, k]] = f64::from(d2 > lower[k] && d2 < upper[k]);
            }
        }
    }
    out
}

/// Squared lower and upper bounds of each distance bin: lower edges
/// `linspace(min_bin, max_bin, num_bins)` squared, each upper bound the next lower one, and 1e8
/// for the last, open-ended bin (AlphaFold's `dgram_from_positions`).
pub fn squared_bin_bounds(bins: &DistogramBins) -> (Vec<f64>, Vec<f64>) {
    let lower: Vec<f64> =
        linspace(bins.min_bin, bins.max_bin, bins.num_bins).iter().map(|x| x * x).collect();
    let mut upper = lower[1..].to_vec();
    upper.push(1e8);
    (lower, upper)
}

pub fn linspace(start: f64, end: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![start];
    }
    let step = (end - start) / (n - 1) as f64;
    (0..n).map(|k| start + step * k as f64).collect()
}

/// The per-residue tables of residue types `aatype` (AlphaFold's order; the gap reads as unknown).
pub fn residue_tables<B: Backend>(aatype: &[i64], device: &B::Device) -> ResidueTables<B> {
    let d = derived();
    let r = aatype.len();
    // The tables have 21 rows (20 amino acids + unknown); the gap type maps to unknown.
    let row = |a: i64| (a as usize).min(20);
    // AlphaFold keeps these tables in float32; rounding through f32 reproduces its values.
    let f32_round = |x: f64| x as f32 as f64;
    let mut rotation = Array4::<f64>::zeros((r, RIGID_GROUP_NUM, 3, 3));
    let mut translation = Array3::<f64>::zeros((r, RIGID_GROUP_NUM, 3));
    let mut group = Array3::<f64>::zeros((r, ATOM14_NUM, RIGID_GROUP_NUM));
    let mut literature = Array3::<f64>::zeros((r, ATOM14_NUM, 3));
    for (i, &a) in aatype.iter().enumerate() {
        let t = row(a);
        for g in 0..RIGID_GROUP_NUM {
            let m = &d.restype_rigid_group_default_frame[t][g];
            for x in 0..3 {
                for y in 0..3 {
                    rotation[[i, g, x, y]] = f32_round(m[x][y]);
                }
                translation[[i, g, x]] = f32_round(m[x][3]);
            }
        }
        for k in 0..ATOM14_NUM {
            group[[i, k, d.restype_atom14_to_rigid_group[t][k]]] = 1.0;
            for x in 0..3 {
                literature[[i, k, x]] = f32_round(d.restype_atom14_rigid_group_positions[t][k][x]);
            }
        }
    }
    // The atom layout maps, as the input pipeline makes them.
    let aatype_i32: Array1<i32> = aatype.iter().map(|&a| a as i32).collect();
    let masks = make_atom14_masks(aatype_i32.view());
    let atom37_to_atom14: Vec<i64> =
        masks.residx_atom37_to_atom14.iter().map(|&k| k as i64).collect();
    ResidueTables {
        default_frame_rotation: host_tensor(rotation.into_dyn(), device),
        default_frame_translation: host_tensor(translation.into_dyn(), device),
        atom14_group: host_tensor(group.into_dyn(), device),
        atom14_literature_positions: host_tensor(literature.into_dyn(), device),
        atom14_mask: host_tensor(masks.atom14_atom_exists.mapv(f64::from).into_dyn(), device),
        atom37_to_atom14: Tensor::<B, 1, Int>::from_data(
            TensorData::new(atom37_to_atom14, [r * ATOM_TYPE_NUM]).convert::<B::IntElem>(),
            int_options::<B>(device),
        )
        .reshape([r, ATOM_TYPE_NUM]),
        atom37_exists: host_tensor(masks.atom37_atom_exists.mapv(f64::from).into_dyn(), device),
    }
}
