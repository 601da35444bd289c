//! AlphaFold's input pipeline (raw features → the model's batch). This file holds the
//! deterministic per-residue transforms; the MSA transforms are in `msa_transforms` and the
//! whole inference pipeline in `process`.

use ndarray::{s, Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayView3, ArrayView4, Axis};

use crate::error::{FeaturesError, Result};
use crate::labels::pseudo_beta;
use crate::residue_constants::{derived, MAP_HHBLITS_AATYPE_TO_OUR_AATYPE, RESTYPE_NUM};

/// Index of the largest entry of each row of a one-hot matrix: [N, C] → \[N\].
pub fn one_hot_to_index(one_hot: ArrayView2<f32>) -> Array1<i32> {
    one_hot
        .rows()
        .into_iter()
        .map(|row| {
            // First maximum, as numpy's argmax.
            let mut best = 0;
            for (k, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = k;
                }
            }
            best as i32
        })
        .collect()
}

/// `target_feat`: [has chain break, one-hot aatype over 21] → [N, 22].
pub fn make_target_feat(
    aatype: ArrayView1<i32>,
    between_segment_residues: ArrayView1<i32>,
) -> Result<Array2<f32>> {
    let n = aatype.len();
    let mut feat = Array2::<f32>::zeros((n, RESTYPE_NUM + 2));
    for i in 0..n {
        let a = aatype[i];
        if !(0..=RESTYPE_NUM as i32).contains(&a) {
            return Err(FeaturesError::InvalidInput(format!(
                "aatype {a} at residue {i} is outside 0..=20"
            )));
        }
        feat[(i, 0)] = between_segment_residues[i].clamp(0, 1) as f32;
        feat[(i, 1 + a as usize)] = 1.0;
    }
    Ok(feat)
}

/// Per-residue atom layout maps (AlphaFold's `make_atom14_masks`).
#[derive(Debug, Clone)]
pub struct Atom14Masks {
    /// [N, 14]
    pub atom14_atom_exists: Array2<f32>,
    /// [N, 14]
    pub residx_atom14_to_atom37: Array2<i32>,
    /// [N, 37]
    pub residx_atom37_to_atom14: Array2<i32>,
    /// [N, 37]
    pub atom37_atom_exists: Array2<f32>,
}

pub fn make_atom14_masks(aatype: ArrayView1<i32>) -> Atom14Masks {
    let d = derived();
    let n = aatype.len();
    let mut m = Atom14Masks {
        atom14_atom_exists: Array2::zeros((n, 14)),
        residx_atom14_to_atom37: Array2::zeros((n, 14)),
        residx_atom37_to_atom14: Array2::zeros((n, 37)),
        atom37_atom_exists: Array2::zeros((n, 37)),
    };
    for (i, &a) in aatype.iter().enumerate() {
        let r = a.clamp(0, 20) as usize;
        for k in 0..14 {
            m.atom14_atom_exists[(i, k)] = d.restype_atom14_mask[r][k];
            m.residx_atom14_to_atom37[(i, k)] = d.restype_atom14_to_atom37[r][k] as i32;
        }
        for k in 0..37 {
            m.atom37_atom_exists[(i, k)] = d.restype_atom37_mask[r][k];
            m.residx_atom37_to_atom14[(i, k)] = d.restype_atom37_to_atom14[r][k] as i32;
        }
    }
    m
}

/// Raw `template_aatype` (one-hot over the HHblits alphabet, [T, N, 22]) → AlphaFold aatype
/// indices [T, N] (`fix_templates_aatype`).
pub fn fix_templates_aatype(template_aatype_one_hot: ArrayView3<f32>) -> Array2<i32> {
    let (t, n, _) = template_aatype_one_hot.dim();
    let mut out = Array2::zeros((t, n));
    for k in 0..t {
        let idx = one_hot_to_index(template_aatype_one_hot.index_axis(Axis(0), k));
        for (i, &h) in idx.iter().enumerate() {
            out[(k, i)] = MAP_HHBLITS_AATYPE_TO_OUR_AATYPE[h as usize] as i32;
        }
    }
    out
}

/// `template_pseudo_beta` [T, N, 3] and `template_pseudo_beta_mask` [T, N].
pub fn make_template_pseudo_beta(
    template_aatype: ArrayView2<i32>,
    positions: ArrayView4<f32>,
    masks: ArrayView3<f32>,
) -> (Array3<f32>, Array2<f32>) {
    let (t, n) = template_aatype.dim();
    let mut pb = Array3::zeros((t, n, 3));
    let mut pb_mask = Array2::zeros((t, n));
    for k in 0..t {
        let (p, m) = pseudo_beta(
            template_aatype.row(k),
            positions.index_axis(Axis(0), k).mapv(f64::from).view(),
            masks.index_axis(Axis(0), k).mapv(f64::from).view(),
        );
        pb.slice_mut(s![k, .., ..]).assign(&p.mapv(|v| v as f32));
        pb_mask.row_mut(k).assign(&m.mapv(|v| v as f32));
    }
    (pb, pb_mask)
}
