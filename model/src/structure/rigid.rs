//! Rigid transforms on tensors: AlphaFold's `QuatAffine` (backbone frames as unit quaternions
//! with their rotation matrices) and `r3.Rigids` (rotation matrix + translation).
//!
//! Rotations are [..., 3, 3] row-major, points [..., 3] as row vectors, so `R·p` is
//! `p.matmul(Rᵀ)`.

use burn::prelude::*;

use crate::host::float_options;

/// A rotation and translation per element of a batch: `x ↦ R x + t`.
#[derive(Debug, Clone)]
pub struct Rigid<B: Backend, const D: usize> {
    /// [..., 3, 3] (rank D)
    pub rotation: Tensor<B, D>,
    /// [..., 3] (rank D − 1)
    pub translation: Tensor<B, D>,
}

/// The backbone frames of the structure module: \[r\] quaternions (w, x, y, z), translations and
/// the rotation matrices derived from the quaternions.
#[derive(Debug, Clone)]
pub struct QuatAffine<B: Backend> {
    /// [r, 4]
    pub quaternion: Tensor<B, 2>,
    /// [r, 3]
    pub translation: Tensor<B, 2>,
    /// [r, 3, 3]
    pub rotation: Tensor<B, 3>,
}

fn column<B: Backend>(x: &Tensor<B, 2>, i: usize) -> Tensor<B, 1> {
    let n = x.dims()[0];
    x.clone().narrow(1, i, 1).reshape([n])
}

/// Rotation matrix of a unit quaternion: [r, 4] → [r, 3, 3].
pub fn quat_to_rot<B: Backend>(q: &Tensor<B, 2>) -> Tensor<B, 3> {
    let n = q.dims()[0];
    let (w, x, y, z) = (column(q, 0), column(q, 1), column(q, 2), column(q, 3));
    let m = |a: &Tensor<B, 1>, b: &Tensor<B, 1>| a.clone() * b.clone();
    let entries = vec![
        m(&w, &w) + m(&x, &x) - m(&y, &y) - m(&z, &z),
        (m(&x, &y) - m(&w, &z)) * 2.0,
        (m(&x, &z) + m(&w, &y)) * 2.0,
        (m(&x, &y) + m(&w, &z)) * 2.0,
        m(&w, &w) - m(&x, &x) + m(&y, &y) - m(&z, &z),
        (m(&y, &z) - m(&w, &x)) * 2.0,
        (m(&x, &z) - m(&w, &y)) * 2.0,
        (m(&y, &z) + m(&w, &x)) * 2.0,
        m(&w, &w) - m(&x, &x) - m(&y, &y) + m(&z, &z),
    ];
    Tensor::stack::<2>(entries, 1).reshape([n, 3, 3])
}

impl<B: Backend> QuatAffine<B> {
    /// Identity frames at the origin.
    pub fn identity(residues: usize, device: &B::Device) -> Self {
        let options = || float_options::<B>(device);
        let quaternion = Tensor::<B, 2>::zeros([residues, 4], options())
            .slice_assign([0..residues, 0..1], Tensor::ones([residues, 1], options()));
        Self::new(quaternion, Tensor::zeros([residues, 3], options()), false)
    }

    /// With `normalize`, the quaternion is scaled to unit length first.
    pub fn new(quaternion: Tensor<B, 2>, translation: Tensor<B, 2>, normalize: bool) -> Self {
        let quaternion = if normalize {
            quaternion.clone() / quaternion.powi_scalar(2).sum_dim(1).sqrt()
        } else {
            quaternion
        };
        let rotation = quat_to_rot(&quaternion);
        Self { quaternion, translation, rotation }
    }

    /// [r, 7]: quaternion then translation.
    pub fn to_tensor(&self) -> Tensor<B, 2> {
        Tensor::cat(vec![self.quaternion.clone(), self.translation.clone()], 1)
    }

    /// Composes with an update [r, 6] (quaternion vector part b, c, d and translation) given in
    /// the local frame; the result's quaternion is normalised.
    pub fn pre_compose(&self, update: Tensor<B, 2>) -> Self {
        let q = &self.quaternion;
        let (w, x, y, z) = (column(q, 0), column(q, 1), column(q, 2), column(q, 3));
        let (b, c, d) = (column(&update, 0), column(&update, 1), column(&update, 2));
        let m = |a: &Tensor<B, 1>, b: &Tensor<B, 1>| a.clone() * b.clone();
        // q · (0, b, c, d)
        let product = Tensor::stack::<2>(
            vec![
                m(&x, &b).neg() - m(&y, &c) - m(&z, &d),
                m(&w, &b) + m(&y, &d) - m(&z, &c),
                m(&w, &c) - m(&x, &d) + m(&z, &b),
                m(&w, &d) + m(&x, &c) - m(&y, &b),
            ],
            1,
        );
        let translation_update = update.narrow(1, 3, 3);
        let translation =
            self.translation.clone() + rotate_rows(&self.rotation, translation_update);
        Self::new(q.clone() + product, translation, true)
    }

    pub fn scale_translation(&self, factor: f64) -> Self {
        Self {
            quaternion: self.quaternion.clone(),
            translation: self.translation.clone() * factor,
            rotation: self.rotation.clone(),
        }
    }

    /// Local points [r, n, 3] → global.
    pub fn apply_to_points(&self, points: Tensor<B, 3>) -> Tensor<B, 3> {
        points.matmul(self.rotation.clone().swap_dims(1, 2))
            + self.translation.clone().unsqueeze_dim::<3>(1)
    }

    /// Global points [r, n, 3] → local.
    pub fn invert_points(&self, points: Tensor<B, 3>) -> Tensor<B, 3> {
        (points - self.translation.clone().unsqueeze_dim::<3>(1)).matmul(self.rotation.clone())
    }

    pub fn to_rigid(&self) -> Rigid<B, 3> {
        Rigid {
            rotation: self.rotation.clone(),
            translation: self.translation.clone().unsqueeze_dim::<3>(1),
        }
    }

    pub fn detach_rotation(self) -> Self {
        Self {
            quaternion: self.quaternion.detach(),
            translation: self.translation,
            rotation: self.rotation.detach(),
        }
    }
}

/// `R v` for each row: `rotation` [r, 3, 3], `v` [r, 3].
fn rotate_rows<B: Backend>(rotation: &Tensor<B, 3>, v: Tensor<B, 2>) -> Tensor<B, 2> {
    let r = v.dims()[0];
    v.unsqueeze_dim::<3>(1).matmul(rotation.clone().swap_dims(1, 2)).reshape([r, 3])
}

impl<B: Backend> Rigid<B, 4> {
    /// `self ∘ other` on [r, g] frames: rotation [r, g, 3, 3], translation [r, g, 1, 3].
    pub fn compose(&self, other: &Self) -> Self {
        Self {
            rotation: self.rotation.clone().matmul(other.rotation.clone()),
            translation: other.translation.clone().matmul(self.rotation.clone().swap_dims(2, 3))
                + self.translation.clone(),
        }
    }

    /// Frames as AlphaFold's flat12 (rotation row-major, then translation): [r, g, 12].
    pub fn to_flat12(&self) -> Tensor<B, 3> {
        let [r, g, _, _] = self.rotation.dims();
        Tensor::cat(
            vec![
                self.rotation.clone().reshape([r, g, 9]),
                self.translation.clone().reshape([r, g, 3]),
            ],
            2,
        )
    }
}
