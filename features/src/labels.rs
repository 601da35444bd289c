//! Training labels derived from a structure, as AlphaFold computes them: rigid-group frames
//! (`atom37_to_frames`), torsion angles (`atom37_to_torsion_angles`) and the atom14
//! representation with its naming-ambiguity alternative (`make_atom14_positions`).
//!
//! Frames are 4×3 as `[rotation row-major (9), translation (3)]` ("flat12"), AlphaFold's
//! `rigids_to_tensor_flat12` layout. Everything is float64.

use ndarray::{s, Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayView3};

use crate::residue_constants::{
    atom_order, chi_angles_mask, cross, derived, dot, residue_atom_renaming_swaps, sub, ATOM14_NUM,
    CHI_ANGLES_ATOMS, CHI_PI_PERIODIC, RESTYPE_ATOM14_NAMES, RIGID_GROUP_NUM,
};

type Vec3 = [f64; 3];
/// Rotation (row-major) and translation.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rigid {
    rot: [[f64; 3]; 3],
    trans: Vec3,
}

fn scale(a: Vec3, c: f64) -> Vec3 {
    [a[0] * c, a[1] * c, a[2] * c]
}

/// Normalises with AlphaFold's regulariser (1e-8 added to the squared norm), so that a zero
/// vector (missing atoms) maps to zero instead of NaN; labels of missing atoms are masked later.
fn robust_normalize(v: Vec3) -> Vec3 {
    let norm = (dot(v, v) + 1e-8).sqrt();
    [v[0] / norm, v[1] / norm, v[2] / norm]
}

impl Rigid {
    /// Frame with origin `origin`, x axis pointing from `point_on_neg_x_axis` to the origin,
    /// and `point_on_xy_plane` in the xy plane (Gram–Schmidt).
    fn from_3_points(point_on_neg_x_axis: Vec3, origin: Vec3, point_on_xy_plane: Vec3) -> Self {
        let e0 = robust_normalize(sub(origin, point_on_neg_x_axis));
        let e1_raw = sub(point_on_xy_plane, origin);
        let e1 = robust_normalize(sub(e1_raw, scale(e0, dot(e1_raw, e0))));
        let e2 = cross(e0, e1);
        let rot = [[e0[0], e1[0], e2[0]], [e0[1], e1[1], e2[1]], [e0[2], e1[2], e2[2]]];
        Self { rot, trans: origin }
    }

    /// Composes with a rotation on the right (rotation of the local frame).
    fn mul_rot(&self, m: [[f64; 3]; 3]) -> Self {
        let mut rot = [[0.0; 3]; 3];
        for (i, row) in rot.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (0..3).map(|k| self.rot[i][k] * m[k][j]).sum();
            }
        }
        Self { rot, trans: self.trans }
    }

    /// Coordinates of global point `p` in this frame.
    fn invert_apply(&self, p: Vec3) -> Vec3 {
        let d = sub(p, self.trans);
        [0, 1, 2].map(|j| (0..3).map(|i| self.rot[i][j] * d[i]).sum())
    }

    fn flat12(&self) -> [f64; 12] {
        let r = self.rot;
        let t = self.trans;
        [
            r[0][0], r[0][1], r[0][2], r[1][0], r[1][1], r[1][2], r[2][0], r[2][1], r[2][2], t[0],
            t[1], t[2],
        ]
    }
}

fn diag(x: f64, y: f64, z: f64) -> [[f64; 3]; 3] {
    [[x, 0.0, 0.0], [0.0, y, 0.0], [0.0, 0.0, z]]
}

fn point(positions: ArrayView3<f64>, residue: usize, atom: usize) -> Vec3 {
    let p = positions.slice(s![residue, atom, ..]);
    [p[0], p[1], p[2]]
}

/// Output of [`atom37_to_frames`] for N residues.
#[derive(Debug, Clone)]
pub struct RigidGroupFrames {
    /// [N, 8, 12]
    pub gt_frames: Array3<f64>,
    /// 1.0 where the group exists and its three base atoms are present: [N, 8].
    pub gt_exists: Array2<f64>,
    /// 1.0 where the residue type has the group: [N, 8].
    pub group_exists: Array2<f64>,
    /// 1.0 for the last chi group of ASP, GLU, PHE, TYR (180°-symmetric): [N, 8].
    pub group_is_ambiguous: Array2<f64>,
    /// Frames with ambiguous groups rotated 180° about x: [N, 8, 12].
    pub alt_gt_frames: Array3<f64>,
}

/// atom37 indices of the three atoms that define each rigid group, per residue type:
/// [point on −x axis, origin, point in xy plane]. Groups without atoms use index 0, as in
/// AlphaFold (their frames are meaningless and masked by `group_exists`).
fn rigid_group_base_atoms() -> [[[usize; 3]; RIGID_GROUP_NUM]; 21] {
    let a = |n: &str| atom_order(n).expect("constant atom names");
    let mut base = [[[0usize; 3]; RIGID_GROUP_NUM]; 21];
    for groups in base.iter_mut() {
        groups[0] = [a("C"), a("CA"), a("N")];
        groups[3] = [a("CA"), a("C"), a("O")];
    }
    for (restype, chis) in CHI_ANGLES_ATOMS.iter().enumerate() {
        for (k, atoms) in chis.iter().enumerate() {
            base[restype][4 + k] = [a(atoms[1]), a(atoms[2]), a(atoms[3])];
        }
    }
    base
}

/// Rigid-group frames of a structure (AlphaFold's `atom37_to_frames`).
/// `aatype`: \[N\] (values above 20 are treated as 20); positions [N, 37, 3]; mask [N, 37].
pub fn atom37_to_frames(
    aatype: ArrayView1<i32>,
    positions: ArrayView3<f64>,
    mask: ArrayView2<f64>,
) -> RigidGroupFrames {
    let n = aatype.len();
    let base = rigid_group_base_atoms();
    let chi_mask = chi_angles_mask();
    let mut out = RigidGroupFrames {
        gt_frames: Array3::zeros((n, RIGID_GROUP_NUM, 12)),
        gt_exists: Array2::zeros((n, RIGID_GROUP_NUM)),
        group_exists: Array2::zeros((n, RIGID_GROUP_NUM)),
        group_is_ambiguous: Array2::zeros((n, RIGID_GROUP_NUM)),
        alt_gt_frames: Array3::zeros((n, RIGID_GROUP_NUM, 12)),
    };
    for i in 0..n {
        let restype = aatype[i].clamp(0, 20) as usize;
        let swaps = !residue_atom_renaming_swaps(restype).is_empty();
        let last_chi = chi_mask[restype].iter().filter(|&&m| m > 0.0).count();
        for g in 0..RIGID_GROUP_NUM {
            let [a0, a1, a2] = base[restype][g];
            let frame = Rigid::from_3_points(
                point(positions, i, a0),
                point(positions, i, a1),
                point(positions, i, a2),
            );
            // AlphaFold's backbone frame convention mirrors the x and z axes.
            let frame = if g == 0 { frame.mul_rot(diag(-1.0, 1.0, -1.0)) } else { frame };
            let exists = match g {
                0 | 3 => 1.0,
                1 | 2 => 0.0,
                _ => chi_mask[restype][g - 4] as f64,
            };
            let atoms_present =
                [a0, a1, a2].iter().map(|&a| mask[(i, a)]).fold(f64::INFINITY, f64::min);
            let ambiguous = swaps && last_chi > 0 && g == 3 + last_chi;
            let alt = if ambiguous { frame.mul_rot(diag(1.0, -1.0, -1.0)) } else { frame };
            out.gt_frames.slice_mut(s![i, g, ..]).assign(&ArrayView1::from(&frame.flat12()));
            out.alt_gt_frames.slice_mut(s![i, g, ..]).assign(&ArrayView1::from(&alt.flat12()));
            out.group_exists[(i, g)] = exists;
            out.gt_exists[(i, g)] = atoms_present * exists;
            out.group_is_ambiguous[(i, g)] = if ambiguous { 1.0 } else { 0.0 };
        }
    }
    out
}

/// Output of [`atom37_to_torsion_angles`] for N residues; torsions in the order
/// pre-omega, phi, psi, chi1..chi4.
#[derive(Debug, Clone)]
pub struct TorsionAngles {
    /// (sin, cos): [N, 7, 2].
    pub sin_cos: Array3<f64>,
    /// Same with the 180°-periodic chi angles shifted by π: [N, 7, 2].
    pub alt_sin_cos: Array3<f64>,
    /// 1.0 where all four defining atoms exist: [N, 7].
    pub mask: Array2<f64>,
}

/// Torsion angles of a structure (AlphaFold's `atom37_to_torsion_angles`, without the
/// placeholder option).
pub fn atom37_to_torsion_angles(
    aatype: ArrayView1<i32>,
    positions: ArrayView3<f64>,
    mask: ArrayView2<f64>,
) -> TorsionAngles {
    let n = aatype.len();
    let chi_indices = &derived().chi_angles_atom_indices;
    let chi_mask = chi_angles_mask();
    let mut out = TorsionAngles {
        sin_cos: Array3::zeros((n, 7, 2)),
        alt_sin_cos: Array3::zeros((n, 7, 2)),
        mask: Array2::zeros((n, 7)),
    };
    let (atom_n, ca, c, o) = (0, 1, 2, 4);
    for i in 0..n {
        let restype = aatype[i].clamp(0, 20) as usize;
        // The residue before the first one is absent: zero positions and mask.
        let prev = |atom: usize| if i == 0 { [0.0; 3] } else { point(positions, i - 1, atom) };
        let prev_mask = |atom: usize| if i == 0 { 0.0 } else { mask[(i - 1, atom)] };
        let here = |atom: usize| point(positions, i, atom);
        let m = |atom: usize| mask[(i, atom)];
        let mut torsions: [([Vec3; 4], f64); 7] = [([[0.0; 3]; 4], 0.0); 7];
        torsions[0] = (
            [prev(ca), prev(c), here(atom_n), here(ca)],
            prev_mask(ca) * prev_mask(c) * m(atom_n) * m(ca),
        );
        torsions[1] =
            ([prev(c), here(atom_n), here(ca), here(c)], prev_mask(c) * m(atom_n) * m(ca) * m(c));
        torsions[2] = ([here(atom_n), here(ca), here(c), here(o)], m(atom_n) * m(ca) * m(c) * m(o));
        for k in 0..4 {
            let atoms = if restype < 20 { chi_indices[restype][k] } else { [0; 4] };
            let atoms_mask: f64 = atoms.iter().map(|&a| m(a)).product();
            torsions[3 + k] = (atoms.map(here), chi_mask[restype][k] as f64 * atoms_mask);
        }
        for (t, (points, present)) in torsions.iter().enumerate() {
            let frame = Rigid::from_3_points(points[1], points[2], points[0]);
            let fourth = frame.invert_apply(points[3]);
            let norm = (fourth[2] * fourth[2] + fourth[1] * fourth[1] + 1e-8).sqrt();
            // psi is measured to O, which sits opposite the next residue's N: mirror it.
            let mirror = if t == 2 { -1.0 } else { 1.0 };
            let sin = fourth[2] / norm * mirror;
            let cos = fourth[1] / norm * mirror;
            let periodic = t >= 3 && CHI_PI_PERIODIC[restype][t - 3];
            let alt = if periodic { -1.0 } else { 1.0 };
            out.sin_cos[(i, t, 0)] = sin;
            out.sin_cos[(i, t, 1)] = cos;
            out.alt_sin_cos[(i, t, 0)] = sin * alt;
            out.alt_sin_cos[(i, t, 1)] = cos * alt;
            out.mask[(i, t)] = *present;
        }
    }
    out
}

/// The atom14 representation of a structure with AlphaFold's naming-ambiguity alternative.
#[derive(Debug, Clone)]
pub struct Atom14 {
    /// [N, 14, 3]
    pub gt_positions: Array3<f64>,
    /// [N, 14]: atom present in the structure and in the residue type.
    pub gt_exists: Array2<f64>,
    /// Positions with the ambiguous atom pairs (e.g. ASP OD1/OD2) swapped: [N, 14, 3].
    pub alt_gt_positions: Array3<f64>,
    /// [N, 14]
    pub alt_gt_exists: Array2<f64>,
    /// 1.0 for atoms of an ambiguous pair: [N, 14].
    pub atom_is_ambiguous: Array2<f64>,
    /// The residue type's atom14 slots: [N, 14].
    pub atom_exists: Array2<f64>,
}

/// atom37 → atom14 (AlphaFold's `atom37_to_atom14` + the training pipeline's
/// `make_atom14_positions`).
pub fn make_atom14_positions(
    aatype: ArrayView1<i32>,
    positions: ArrayView3<f64>,
    mask: ArrayView2<f64>,
) -> Atom14 {
    let n = aatype.len();
    let d = derived();
    let mut out = Atom14 {
        gt_positions: Array3::zeros((n, ATOM14_NUM, 3)),
        gt_exists: Array2::zeros((n, ATOM14_NUM)),
        alt_gt_positions: Array3::zeros((n, ATOM14_NUM, 3)),
        alt_gt_exists: Array2::zeros((n, ATOM14_NUM)),
        atom_is_ambiguous: Array2::zeros((n, ATOM14_NUM)),
        atom_exists: Array2::zeros((n, ATOM14_NUM)),
    };
    for i in 0..n {
        let restype = aatype[i].clamp(0, 20) as usize;
        for slot in 0..ATOM14_NUM {
            let exists = f64::from(d.restype_atom14_mask[restype][slot]);
            let a = d.restype_atom14_to_atom37[restype][slot];
            out.atom_exists[(i, slot)] = exists;
            out.gt_exists[(i, slot)] = exists * mask[(i, a)];
            for x in 0..3 {
                out.gt_positions[(i, slot, x)] = exists * positions[(i, a, x)];
            }
        }
        // The alternative naming: each ambiguous pair swapped.
        let mut permutation: [usize; ATOM14_NUM] = std::array::from_fn(|k| k);
        let names = &RESTYPE_ATOM14_NAMES[restype];
        let slot_of = |name: &str| names.iter().position(|n| *n == name).expect("swap atoms exist");
        for &(a, b) in residue_atom_renaming_swaps(restype) {
            let (sa, sb) = (slot_of(a), slot_of(b));
            permutation.swap(sa, sb);
            out.atom_is_ambiguous[(i, sa)] = 1.0;
            out.atom_is_ambiguous[(i, sb)] = 1.0;
        }
        for (slot, &source) in permutation.iter().enumerate() {
            out.alt_gt_exists[(i, slot)] = out.gt_exists[(i, source)];
            for x in 0..3 {
                out.alt_gt_positions[(i, slot, x)] = out.gt_positions[(i, source, x)];
            }
        }
    }
    out
}

/// Pseudo-beta (CB, or CA for glycine) positions and mask: [N, 3], \[N\].
pub fn pseudo_beta(
    aatype: ArrayView1<i32>,
    positions: ArrayView3<f64>,
    mask: ArrayView2<f64>,
) -> (Array2<f64>, Array1<f64>) {
    let gly = crate::residue_constants::restype_order(b'G').expect("G") as i32;
    let n = aatype.len();
    let mut pb = Array2::zeros((n, 3));
    let mut pb_mask = Array1::zeros(n);
    for i in 0..n {
        let atom = if aatype[i] == gly { 1 } else { 3 };
        pb.row_mut(i).assign(&positions.slice(s![i, atom, ..]));
        pb_mask[i] = mask[(i, atom)];
    }
    (pb, pb_mask)
}
