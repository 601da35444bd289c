//! Structural violations (Jumper et al. 2021, Suppl. Sec. 1.9.11): peptide-bond lengths and
//! angles between consecutive residues, clashes between residues, and bond-length and clash
//! bounds within each residue, as flat-bottom penalties on the predicted atom14 positions.

use burn::prelude::*;
use burn::tensor::activation::relu;
use ferrofold_features::residue_constants::{
    derived, van_der_waals_radius, ATOM_TYPES, BETWEEN_RES_BOND_LENGTH_C_N,
    BETWEEN_RES_BOND_LENGTH_STDDEV_C_N, BETWEEN_RES_COS_ANGLES_CA_C_N,
    BETWEEN_RES_COS_ANGLES_C_N_CA, RESTYPE_ATOM14_NAMES,
};
use ferrofold_features::stereo_chemistry::atom14_distance_bounds;
use ndarray::{Array2, Array3};

use super::{host, to_device};
use crate::labels::LabelTensors;

/// AlphaFold's tolerances: 12 standard deviations for bonds and angles, 1.5 Å of overlap.
#[derive(Debug, Clone, Copy)]
pub struct ViolationConfig {
    pub violation_tolerance_factor: f64,
    pub clash_overlap_tolerance: f64,
}

impl Default for ViolationConfig {
    fn default() -> Self {
        Self { violation_tolerance_factor: 12.0, clash_overlap_tolerance: 1.5 }
    }
}

/// The violation losses (differentiable) and masks (host, for metrics).
#[derive(Debug, Clone)]
pub struct Violations<B: Backend> {
    pub bonds_c_n_loss_mean: Tensor<B, 1>,
    pub angles_ca_c_n_loss_mean: Tensor<B, 1>,
    pub angles_c_n_ca_loss_mean: Tensor<B, 1>,
    /// \[r\]
    pub connections_per_residue_loss_sum: Tensor<B, 1>,
    pub connections_per_residue_violation_mask: Vec<f64>,
    pub clashes_mean_loss: Tensor<B, 1>,
    /// [r, 14]
    pub clashes_per_atom_loss_sum: Tensor<B, 2>,
    pub clashes_per_atom_clash_mask: Array2<f64>,
    /// [r, 14]
    pub within_per_atom_loss_sum: Tensor<B, 2>,
    pub within_per_atom_violations: Array2<f64>,
    /// 1.0 per residue with any violation: \[r\].
    pub total_per_residue_violations_mask: Vec<f64>,
}

impl<B: Backend> Violations<B> {
    /// The loss AlphaFold adds in fine-tuning: the three peptide terms plus the clash and
    /// within-residue penalties per existing atom.
    pub fn loss(&self, labels: &LabelTensors<B>) -> Tensor<B, 1> {
        let atoms = labels.atom14_atom_exists.clone().sum();
        self.bonds_c_n_loss_mean.clone()
            + self.angles_ca_c_n_loss_mean.clone()
            + self.angles_c_n_ca_loss_mean.clone()
            + (self.clashes_per_atom_loss_sum.clone() + self.within_per_atom_loss_sum.clone()).sum()
                / atoms.add_scalar(1e-6)
    }

    /// Fraction of residues with any violation (AlphaFold's `violations_per_residue`).
    pub fn per_residue_fraction(&self) -> f64 {
        let n = self.total_per_residue_violations_mask.len().max(1);
        self.total_per_residue_violations_mask.iter().sum::<f64>() / (n as f64 + 1e-10)
    }
}

fn column<B: Backend>(x: &Tensor<B, 3>, atom: usize, from: usize, len: usize) -> Tensor<B, 2> {
    x.clone().narrow(0, from, len).narrow(1, atom, 1).reshape([len, 3])
}

fn norm<B: Backend>(v: Tensor<B, 2>, epsilon: f64) -> Tensor<B, 1> {
    let n = v.dims()[0];
    v.powi_scalar(2).sum_dim(1).add_scalar(epsilon).sqrt().reshape([n])
}

fn masked_mean<B: Backend>(mask: &Tensor<B, 1>, value: Tensor<B, 1>) -> Tensor<B, 1> {
    (value * mask.clone()).sum() / mask.clone().sum().add_scalar(1e-6)
}

fn greater(a: &[f64], b: &[f64], mask: &[f64]) -> Vec<f64> {
    a.iter().zip(b).zip(mask).map(|((x, y), m)| m * f64::from(u8::from(x > y))).collect()
}

struct BetweenResidueBonds<B: Backend> {
    c_n_loss_mean: Tensor<B, 1>,
    ca_c_n_loss_mean: Tensor<B, 1>,
    c_n_ca_loss_mean: Tensor<B, 1>,
    per_residue_loss_sum: Tensor<B, 1>,
    per_residue_violation_mask: Vec<f64>,
}

/// Peptide bond C–N length and the CA–C–N and C–N–CA angles between consecutive residues.
fn between_residue_bonds<B: Backend>(
    pos: &Tensor<B, 3>,
    exists: &Array2<f64>,
    labels: &LabelTensors<B>,
    config: &ViolationConfig,
) -> BetweenResidueBonds<B> {
    let device = pos.device();
    let r = pos.dims()[0];
    let m = r.saturating_sub(1);
    let zero = || Tensor::<B, 1>::zeros([1], ferrofold_model::host::float_options::<B>(&device));
    if m == 0 {
        let z = Tensor::zeros([r], ferrofold_model::host::float_options::<B>(&device));
        return BetweenResidueBonds {
            c_n_loss_mean: zero(),
            ca_c_n_loss_mean: zero(),
            c_n_ca_loss_mean: zero(),
            per_residue_loss_sum: z,
            per_residue_violation_mask: vec![0.0; r],
        };
    }
    let (this_ca, this_c) = (column(pos, 1, 0, m), column(pos, 2, 0, m));
    let (next_n, next_ca) = (column(pos, 0, 1, m), column(pos, 1, 1, m));
    let proline = ferrofold_features::residue_constants::restype_order(b'P').expect("P") as i32;
    let idx = &labels.residue_index;
    let no_gap: Vec<f64> = (0..m).map(|i| f64::from(u8::from(idx[i + 1] - idx[i] == 1))).collect();
    let next_pro: Vec<bool> = (0..m).map(|i| labels.aatype[i + 1] == proline).collect();
    let tol = config.violation_tolerance_factor;
    let vec1 = |v: Vec<f64>| to_device::<B, 1>(ndarray::Array1::from(v).into_dyn(), &device);

    // Flat-bottom penalty per bond: relu(error − threshold), its mean over `mask`, and where
    // the error exceeds the threshold.
    let flat_bottom = |error: Tensor<B, 1>, threshold: Vec<f64>, mask: Vec<f64>| {
        let violation = greater(&host_vec(error.clone()), &threshold, &mask);
        let loss = relu(error - vec1(threshold));
        let mean = masked_mean(&vec1(mask), loss.clone());
        (loss, mean, violation)
    };

    let c_n_length = norm(this_c.clone() - next_n.clone(), 1e-6);
    let gt_length: Vec<f64> =
        next_pro.iter().map(|&p| BETWEEN_RES_BOND_LENGTH_C_N[usize::from(p)]).collect();
    let c_n_threshold: Vec<f64> = next_pro
        .iter()
        .map(|&p| tol * BETWEEN_RES_BOND_LENGTH_STDDEV_C_N[usize::from(p)])
        .collect();
    let c_n_error = (c_n_length.clone() - vec1(gt_length)).powi_scalar(2).add_scalar(1e-6).sqrt();
    let mask_c_n: Vec<f64> =
        (0..m).map(|i| exists[(i, 2)] * exists[(i + 1, 0)] * no_gap[i]).collect();
    let (c_n_loss, c_n_loss_mean, c_n_violation) = flat_bottom(c_n_error, c_n_threshold, mask_c_n);

    let ca_c_length = norm(this_ca.clone() - this_c.clone(), 1e-6);
    let n_ca_length = norm(next_n.clone() - next_ca.clone(), 1e-6);
    let unit = |v: Tensor<B, 2>, l: Tensor<B, 1>| v / l.reshape([m, 1]);
    let c_ca = unit(this_ca - this_c.clone(), ca_c_length);
    let c_n = unit(next_n.clone() - this_c, c_n_length);
    let n_ca = unit(next_ca - next_n, n_ca_length);
    let cos_error = |cos: Tensor<B, 1>, ideal: f64| {
        cos.sub_scalar(ideal).powi_scalar(2).add_scalar(1e-6).sqrt()
    };

    // AlphaFold scores the CA–C–N angle against the C–N bond's length deviation; kept as is.
    let ca_c_n_cos = (c_ca * c_n.clone()).sum_dim(1).reshape([m]);
    let mask_ca_c_n: Vec<f64> =
        (0..m).map(|i| exists[(i, 1)] * exists[(i, 2)] * exists[(i + 1, 0)] * no_gap[i]).collect();
    let (ca_c_n_loss, ca_c_n_loss_mean, ca_c_n_violation) = flat_bottom(
        cos_error(ca_c_n_cos, BETWEEN_RES_COS_ANGLES_CA_C_N[0]),
        vec![tol * BETWEEN_RES_BOND_LENGTH_STDDEV_C_N[0]; m],
        mask_ca_c_n,
    );

    let c_n_ca_cos = (c_n.neg() * n_ca).sum_dim(1).reshape([m]);
    let mask_c_n_ca: Vec<f64> = (0..m)
        .map(|i| exists[(i, 2)] * exists[(i + 1, 0)] * exists[(i + 1, 1)] * no_gap[i])
        .collect();
    let (c_n_ca_loss, c_n_ca_loss_mean, c_n_ca_violation) = flat_bottom(
        cos_error(c_n_ca_cos, BETWEEN_RES_COS_ANGLES_C_N_CA[0]),
        vec![tol * BETWEEN_RES_COS_ANGLES_C_N_CA[1]; m],
        mask_c_n_ca,
    );

    // Each bond's loss is shared half and half between its two residues.
    let per_bond = c_n_loss + ca_c_n_loss + c_n_ca_loss;
    let zero1 = zero();
    let per_residue = (Tensor::cat(vec![per_bond.clone(), zero1.clone()], 0)
        + Tensor::cat(vec![zero1, per_bond], 0))
    .mul_scalar(0.5);
    let bond_violation: Vec<f64> = (0..m)
        .map(|i| c_n_violation[i].max(ca_c_n_violation[i]).max(c_n_ca_violation[i]))
        .collect();
    let residue_violation = (0..r)
        .map(|i| {
            let before = if i < m { bond_violation[i] } else { 0.0 };
            let after = if i > 0 { bond_violation[i - 1] } else { 0.0 };
            before.max(after)
        })
        .collect();
    BetweenResidueBonds {
        c_n_loss_mean,
        ca_c_n_loss_mean,
        c_n_ca_loss_mean,
        per_residue_loss_sum: per_residue,
        per_residue_violation_mask: residue_violation,
    }
}

fn host_vec<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f64> {
    host(t).into_iter().collect()
}

/// Distances between all atom pairs of `a` [n, 3] and `b` [m, 3]: [n, m], from
/// |a|² + |b|² − 2 a·b (memory n × m, not n × m × 3), floored at zero against rounding.
fn pair_distances<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>, epsilon: f64) -> Tensor<B, 2> {
    let (n, m) = (a.dims()[0], b.dims()[0]);
    let a2 = a.clone().powi_scalar(2).sum_dim(1).reshape([n, 1]);
    let b2 = b.clone().powi_scalar(2).sum_dim(1).reshape([1, m]);
    (a2 + b2 - a.matmul(b.transpose()).mul_scalar(2.0)).clamp_min(0.0).add_scalar(epsilon).sqrt()
}

/// Every structural violation of `atom14_pred_positions` [r, 14, 3].
pub fn find_structural_violations<B: Backend>(
    atom14_pred_positions: Tensor<B, 3>,
    labels: &LabelTensors<B>,
    config: &ViolationConfig,
) -> Violations<B> {
    let device = atom14_pred_positions.device();
    let r = atom14_pred_positions.dims()[0];
    let exists2 = host(labels.atom14_atom_exists.clone());
    let exists = exists2.clone().into_dimensionality::<ndarray::Ix2>().expect("[r, 14]");
    let bonds = between_residue_bonds(&atom14_pred_positions, &exists, labels, config);

    // Van der Waals radius of each atom14 atom, by its element.
    let d = derived();
    let radius = Array2::from_shape_fn((r, 14), |(i, a)| {
        let restype = labels.aatype[i].clamp(0, 20) as usize;
        let name = ATOM_TYPES[d.restype_atom14_to_atom37[restype][a]];
        exists[(i, a)] * van_der_waals_radius(name.as_bytes()[0]).expect("C, N, O or S")
    });

    // Between residues: each pair of atoms once (i before j), except the peptide C–N bond and
    // cysteine SG–SG (disulfide bridges).
    let n_atoms = r * 14;
    let cys_sg = RESTYPE_ATOM14_NAMES[4].iter().position(|n| *n == "SG").expect("CYS SG");
    let idx = &labels.residue_index;
    let mut clash_mask = Array2::<f64>::zeros((n_atoms, n_atoms));
    let mut lower_bound = Array2::<f64>::zeros((n_atoms, n_atoms));
    for i in 0..r {
        for j in 0..r {
            if idx[i] >= idx[j] {
                continue;
            }
            for a in 0..14 {
                for b in 0..14 {
                    let peptide = idx[i] + 1 == idx[j] && a == 2 && b == 0;
                    let disulfide = a == cys_sg && b == cys_sg;
                    let m = exists[(i, a)] * exists[(j, b)];
                    if m != 0.0 && !peptide && !disulfide {
                        clash_mask[(i * 14 + a, j * 14 + b)] = m;
                        lower_bound[(i * 14 + a, j * 14 + b)] =
                            m * (radius[(i, a)] + radius[(j, b)]);
                    }
                }
            }
        }
    }
    let flat = atom14_pred_positions.clone().reshape([n_atoms, 3]);
    let dists = pair_distances(flat.clone(), flat, 1e-10);
    let mask_t = to_device::<B, 2>(clash_mask.clone().into_dyn(), &device);
    let lower_t = to_device::<B, 2>(lower_bound.clone().into_dyn(), &device);
    let tol = config.clash_overlap_tolerance;
    let clash_error = mask_t.clone() * relu(lower_t.sub_scalar(tol) - dists.clone());
    let clashes_mean_loss = clash_error.clone().sum() / mask_t.sum().add_scalar(1e-6);
    let clashes_per_atom_loss_sum = (clash_error.clone().sum_dim(0).reshape([n_atoms])
        + clash_error.sum_dim(1).reshape([n_atoms]))
    .reshape([r, 14]);
    let dist_host = host(dists);
    let mut clashes_per_atom_clash_mask = Array2::<f64>::zeros((r, 14));
    for ((k, l), &m) in clash_mask.indexed_iter() {
        if m != 0.0 && dist_host[[k, l]] < lower_bound[(k, l)] - tol {
            clashes_per_atom_clash_mask[(k / 14, k % 14)] = 1.0;
            clashes_per_atom_clash_mask[(l / 14, l % 14)] = 1.0;
        }
    }

    // Within residues: bond lengths and angles within their tolerance, other pairs apart.
    let bounds = atom14_distance_bounds(tol, config.violation_tolerance_factor);
    let mut lower = Array3::<f64>::zeros((r, 14, 14));
    let mut upper = Array3::<f64>::zeros((r, 14, 14));
    let mut pair_mask = Array3::<f64>::zeros((r, 14, 14));
    for i in 0..r {
        let restype = labels.aatype[i].clamp(0, 20) as usize;
        for a in 0..14 {
            for b in 0..14 {
                lower[(i, a, b)] = bounds.lower[restype][a][b];
                upper[(i, a, b)] = bounds.upper[restype][a][b];
                if a != b {
                    pair_mask[(i, a, b)] = exists[(i, a)] * exists[(i, b)];
                }
            }
        }
    }
    let pos = atom14_pred_positions;
    let within_dists = (pos.clone().unsqueeze_dim::<4>(2) - pos.unsqueeze_dim::<4>(1))
        .powi_scalar(2)
        .sum_dim(3)
        .add_scalar(1e-10)
        .sqrt()
        .reshape([r, 14, 14]);
    let lower_t = to_device::<B, 3>(lower.clone().into_dyn(), &device);
    let upper_t = to_device::<B, 3>(upper.clone().into_dyn(), &device);
    let pair_mask_t = to_device::<B, 3>(pair_mask.clone().into_dyn(), &device);
    let within_loss =
        pair_mask_t * (relu(lower_t - within_dists.clone()) + relu(within_dists.clone() - upper_t));
    let within_per_atom_loss_sum =
        within_loss.clone().sum_dim(1).reshape([r, 14]) + within_loss.sum_dim(2).reshape([r, 14]);
    let within_host = host(within_dists);
    let mut within_per_atom_violations = Array2::<f64>::zeros((r, 14));
    for ((i, a, b), &m) in pair_mask.indexed_iter() {
        let dist = within_host[[i, a, b]];
        if m != 0.0 && (dist < lower[(i, a, b)] || dist > upper[(i, a, b)]) {
            within_per_atom_violations[(i, a)] = 1.0;
            within_per_atom_violations[(i, b)] = 1.0;
        }
    }

    let total_per_residue_violations_mask = (0..r)
        .map(|i| {
            let clash = (0..14).map(|a| clashes_per_atom_clash_mask[(i, a)]).fold(0.0, f64::max);
            let within = (0..14).map(|a| within_per_atom_violations[(i, a)]).fold(0.0, f64::max);
            bonds.per_residue_violation_mask[i].max(clash).max(within)
        })
        .collect();
    Violations {
        bonds_c_n_loss_mean: bonds.c_n_loss_mean,
        angles_ca_c_n_loss_mean: bonds.ca_c_n_loss_mean,
        angles_c_n_ca_loss_mean: bonds.c_n_ca_loss_mean,
        connections_per_residue_loss_sum: bonds.per_residue_loss_sum,
        connections_per_residue_violation_mask: bonds.per_residue_violation_mask,
        clashes_mean_loss,
        clashes_per_atom_loss_sum,
        clashes_per_atom_clash_mask,
        within_per_atom_loss_sum,
        within_per_atom_violations,
        total_per_residue_violations_mask,
    }
}
