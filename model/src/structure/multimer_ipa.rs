//! AlphaFold-Multimer's invariant point attention (DeepMind's v2.3.2
//! `folding_multimer.InvariantPointAttention`): the monomer's attention (Jumper et al. 2021,
//! Suppl. Alg. 22) with its own parameter layout — separate query, key and value projections per
//! head, points projected per head as x, y and z blocks — frames as rotation matrices, the
//! √(1/3) scale applied to the summed logits (mask bias included), and point norms clipped at
//! 1e-8 rather than offset.

use burn::module::Param;
use burn::prelude::*;

use super::ipa::squared_point_distances;
use super::rigid::Rigid;
use crate::config::StructureModuleConfig;
use crate::params::{Init, ParamBuilder};
use crate::primitives::activation::{softmax_last_axis, softplus};
use crate::primitives::{Linear, LinearInit};

/// Clip of the result points' norms (DeepMind's `dist_epsilon`).
const NORM_EPSILON: f64 = 1e-8;

#[derive(Module, Debug)]
pub struct MultimerInvariantPointAttention<B: Backend> {
    pub q_scalar_projection: Linear<B>,
    pub k_scalar_projection: Linear<B>,
    pub v_scalar_projection: Linear<B>,
    pub q_point_projection: Linear<B>,
    pub k_point_projection: Linear<B>,
    pub v_point_projection: Linear<B>,
    /// \[heads\], through softplus
    pub trainable_point_weights: Param<Tensor<B, 1>>,
    pub attention_2d: Linear<B>,
    pub output_projection: Linear<B>,
    pub num_head: usize,
    pub num_scalar_qk: usize,
    pub num_scalar_v: usize,
    pub num_point_qk: usize,
    pub num_point_v: usize,
}

impl<B: Backend> MultimerInvariantPointAttention<B> {
    pub fn new(
        builder: &mut ParamBuilder<B>,
        c: &StructureModuleConfig,
        pair_channels: usize,
    ) -> Self {
        let (h, s) = (c.num_head, c.num_channel);
        let output_features = h * (c.num_scalar_v + 4 * c.num_point_v + pair_channels);
        let scalar = |b: &mut ParamBuilder<B>, name: &str, width: usize| {
            Linear::with_output_shape(b, name, s, &[h, width], false, LinearInit::Default)
        };
        let points = |b: &mut ParamBuilder<B>, name: &str, count: usize| {
            b.scope(name, |b| {
                Linear::with_output_shape(
                    b,
                    "point_projection",
                    s,
                    &[h, 3 * count],
                    true,
                    LinearInit::Default,
                )
            })
        };
        builder.scope("invariant_point_attention", |b| Self {
            q_scalar_projection: scalar(b, "q_scalar_projection", c.num_scalar_qk),
            k_scalar_projection: scalar(b, "k_scalar_projection", c.num_scalar_qk),
            v_scalar_projection: scalar(b, "v_scalar_projection", c.num_scalar_v),
            q_point_projection: points(b, "q_point_projection", c.num_point_qk),
            k_point_projection: points(b, "k_point_projection", c.num_point_qk),
            v_point_projection: points(b, "v_point_projection", c.num_point_v),
            trainable_point_weights: b.param(
                "trainable_point_weights",
                &[h],
                [h],
                // softplus⁻¹(1)
                Init::Constant((std::f64::consts::E - 1.0).ln()),
            ),
            attention_2d: Linear::new(b, "attention_2d", pair_channels, h, LinearInit::Default),
            output_projection: Linear::new(
                b,
                "output_projection",
                output_features,
                s,
                LinearInit::Final,
            ),
            num_head: h,
            num_scalar_qk: c.num_scalar_qk,
            num_scalar_v: c.num_scalar_v,
            num_point_qk: c.num_point_qk,
            num_point_v: c.num_point_v,
        })
    }

    /// Points of each residue and head in the global frame, [r, h, count, 3]: the projection's
    /// x, y and z blocks in the residue's frame, moved by it.
    fn global_points(
        projection: &Linear<B>,
        single: Tensor<B, 2>,
        frames: &Rigid<B, 3>,
        heads: usize,
        count: usize,
    ) -> Tensor<B, 4> {
        let r = single.dims()[0];
        let local = projection.forward(single).reshape([r, heads, 3, count]).swap_dims(2, 3);
        let local = local.reshape([r, heads * count, 3]);
        let global =
            local.matmul(frames.rotation.clone().swap_dims(1, 2)) + frames.translation.clone();
        global.reshape([r, heads, count, 3])
    }

    /// `single` [r, c_s], `pair` [r, r, c_z], `mask` \[r\], `frames` the backbone frames (rotation
    /// [r, 3, 3], translation [r, 1, 3]); returns the update to `single`.
    pub fn forward(
        &self,
        single: Tensor<B, 2>,
        pair: Tensor<B, 3>,
        mask: Tensor<B, 1>,
        frames: &Rigid<B, 3>,
    ) -> Tensor<B, 2> {
        let [r, _] = single.dims();
        let (h, sqk, sv, pqk, pv) = (
            self.num_head,
            self.num_scalar_qk,
            self.num_scalar_v,
            self.num_point_qk,
            self.num_point_v,
        );
        let heads_first = |t: Tensor<B, 2>, width: usize| t.reshape([r, h, width]).swap_dims(0, 1);
        let q = heads_first(self.q_scalar_projection.forward(single.clone()), sqk)
            * (1.0 / sqk.max(1) as f64).sqrt();
        let k = heads_first(self.k_scalar_projection.forward(single.clone()), sqk);
        let v = heads_first(self.v_scalar_projection.forward(single.clone()), sv); // [h, r, sv]

        let q_point = Self::global_points(&self.q_point_projection, single.clone(), frames, h, pqk);
        let k_point = Self::global_points(&self.k_point_projection, single.clone(), frames, h, pqk);
        let v_point = Self::global_points(&self.v_point_projection, single, frames, h, pv);

        let point_weight = (1.0 / (pqk.max(1) as f64 * 9.0 / 2.0)).sqrt();
        let point_weights = softplus(self.trainable_point_weights.val()) * point_weight; // [h]
        let dist2 = squared_point_distances(q_point, k_point);
        let attn_point = dist2 * point_weights.reshape([h, 1, 1]) * (-0.5);

        let attn_scalar = q.matmul(k.swap_dims(1, 2));
        let attn_2d = self.attention_2d.forward(pair.clone()).permute([2, 0, 1]);
        let mask_2d = mask.clone().unsqueeze_dim::<2>(1) * mask.unsqueeze_dim::<2>(0);
        let logits = (attn_scalar + attn_point + attn_2d
            - (mask_2d.neg() + 1.0).unsqueeze_dim::<3>(0) * 1e5)
            * (1.0f64 / 3.0).sqrt();
        let attn = softmax_last_axis(logits); // [h, i, j]

        let result_scalar = attn.clone().matmul(v).swap_dims(0, 1).reshape([r, h * sv]);
        let v_p = v_point.permute([1, 0, 2, 3]).reshape([h, r, pv * 3]);
        let result_point_global = attn.clone().matmul(v_p).swap_dims(0, 1).reshape([r, h * pv, 3]);
        // Back into each residue's frame: Rᵀ (p − t).
        let result_point_local =
            (result_point_global - frames.translation.clone()).matmul(frames.rotation.clone());
        let x = result_point_local.clone().narrow(2, 0, 1).reshape([r, h * pv]);
        let y = result_point_local.clone().narrow(2, 1, 1).reshape([r, h * pv]);
        let z = result_point_local.narrow(2, 2, 1).reshape([r, h * pv]);
        let norm = (x.clone().powi_scalar(2) + y.clone().powi_scalar(2) + z.clone().powi_scalar(2))
            .clamp_min(NORM_EPSILON * NORM_EPSILON)
            .sqrt();
        let c_z = pair.dims()[2];
        let over_2d = attn.swap_dims(0, 1).matmul(pair).reshape([r, h * c_z]);
        let features = Tensor::cat(vec![result_scalar, x, y, z, norm, over_2d], 1);
        self.output_projection.forward(features)
    }
}
