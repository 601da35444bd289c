//! Invariant point attention (Jumper et al. 2021, Suppl. Alg. 22).

use crate::primitives::activation::{softmax_last_axis, softplus};
use burn::module::Param;
use burn::prelude::*;

use super::rigid::QuatAffine;
use crate::config::StructureModuleConfig;
use crate::params::{Init, ParamBuilder};
use crate::primitives::{Linear, LinearInit};

#[derive(Module, Debug)]
pub struct InvariantPointAttention<B: Backend> {
    pub q_scalar: Linear<B>,
    pub kv_scalar: Linear<B>,
    pub q_point_local: Linear<B>,
    pub kv_point_local: Linear<B>,
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

impl<B: Backend> InvariantPointAttention<B> {
    pub fn new(
        builder: &mut ParamBuilder<B>,
        c: &StructureModuleConfig,
        pair_channels: usize,
    ) -> Self {
        let (h, s) = (c.num_head, c.num_channel);
        let output_features = h * (c.num_scalar_v + 4 * c.num_point_v + pair_channels);
        builder.scope("invariant_point_attention", |b| Self {
            q_scalar: Linear::new(b, "q_scalar", s, h * c.num_scalar_qk, LinearInit::Default),
            kv_scalar: Linear::new(
                b,
                "kv_scalar",
                s,
                h * (c.num_scalar_v + c.num_scalar_qk),
                LinearInit::Default,
            ),
            q_point_local: Linear::new(
                b,
                "q_point_local",
                s,
                h * 3 * c.num_point_qk,
                LinearInit::Default,
            ),
            kv_point_local: Linear::new(
                b,
                "kv_point_local",
                s,
                h * 3 * (c.num_point_qk + c.num_point_v),
                LinearInit::Default,
            ),
            trainable_point_weights: b.param(
                "trainable_point_weights",
                &[h],
                [h],
                Init::Constant((1f64.exp() - 1.0).ln()),
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

    /// Local points from a Linear's output [r, 3·n] (x block, y block, z block) → global [r, n, 3].
    fn global_points(affine: &QuatAffine<B>, flat: Tensor<B, 2>) -> Tensor<B, 3> {
        let [r, three_n] = flat.dims();
        let local = flat.reshape([r, 3, three_n / 3]).swap_dims(1, 2);
        affine.apply_to_points(local)
    }

    /// `single` [r, c_s], `pair` [r, r, c_z], `mask` \[r\]; returns the update to `single`.
    pub fn forward(
        &self,
        single: Tensor<B, 2>,
        pair: Tensor<B, 3>,
        mask: Tensor<B, 1>,
        affine: &QuatAffine<B>,
    ) -> Tensor<B, 2> {
        let [r, _] = single.dims();
        let (h, sqk, sv, pqk, pv) = (
            self.num_head,
            self.num_scalar_qk,
            self.num_scalar_v,
            self.num_point_qk,
            self.num_point_v,
        );

        let q_scalar = self.q_scalar.forward(single.clone()).reshape([r, h, sqk]);
        let kv_scalar = self.kv_scalar.forward(single.clone()).reshape([r, h, sv + sqk]);
        let k_scalar = kv_scalar.clone().narrow(2, 0, sqk);
        let v_scalar = kv_scalar.narrow(2, sqk, sv);

        let q_point = Self::global_points(affine, self.q_point_local.forward(single.clone()))
            .reshape([r, h, pqk, 3]);
        let kv_point = Self::global_points(affine, self.kv_point_local.forward(single)).reshape([
            r,
            h,
            pqk + pv,
            3,
        ]);
        let k_point = kv_point.clone().narrow(2, 0, pqk);
        let v_point = kv_point.narrow(2, pqk, pv);

        let scalar_weight = (1.0 / (3.0 * sqk.max(1) as f64)).sqrt();
        let point_weight = (1.0 / (3.0 * pqk.max(1) as f64 * 9.0 / 2.0)).sqrt();
        let point_weights = softplus(self.trainable_point_weights.val()) * point_weight; // [h]

        let dist2 = squared_point_distances(q_point, k_point);
        let attn_point = dist2 * point_weights.reshape([h, 1, 1]) * (-0.5);

        let q = (q_scalar * scalar_weight).swap_dims(0, 1); // [h, r, sqk]
        let k = k_scalar.swap_dims(0, 1);
        let v = v_scalar.swap_dims(0, 1); // [h, r, sv]
        let attn_scalar = q.matmul(k.swap_dims(1, 2));
        let attn_2d =
            self.attention_2d.forward(pair.clone()).permute([2, 0, 1]) * (1.0f64 / 3.0).sqrt();
        let mask_2d = mask.clone().unsqueeze_dim::<2>(1) * mask.unsqueeze_dim::<2>(0);
        let logits =
            attn_scalar + attn_point + attn_2d - (mask_2d.neg() + 1.0).unsqueeze_dim::<3>(0) * 1e5;
        let attn = softmax_last_axis(logits); // [h, i, j]

        let result_scalar = attn.clone().matmul(v).swap_dims(0, 1).reshape([r, h * sv]);
        // Σ_j attn[h, i, j] v_point[j, h, p, xyz]
        let v_p = v_point.permute([1, 0, 2, 3]).reshape([h, r, pv * 3]);
        let result_point_global = attn.clone().matmul(v_p).swap_dims(0, 1).reshape([r, h * pv, 3]);
        let result_point_local = affine.invert_points(result_point_global); // [r, h·pv, 3]
        let x = result_point_local.clone().narrow(2, 0, 1).reshape([r, h * pv]);
        let y = result_point_local.clone().narrow(2, 1, 1).reshape([r, h * pv]);
        let z = result_point_local.narrow(2, 2, 1).reshape([r, h * pv]);
        let norm =
            (x.clone().powi_scalar(2) + y.clone().powi_scalar(2) + z.clone().powi_scalar(2) + 1e-8)
                .sqrt();
        // Σ_j attn[h, i, j] pair[i, j, c] → [i, h, c]
        let c_z = pair.dims()[2];
        let over_2d = attn.swap_dims(0, 1).matmul(pair).reshape([r, h * c_z]); // [i, h, j]·[i, j, c]
        let features = Tensor::cat(vec![result_scalar, x, y, z, norm, over_2d], 1);
        self.output_projection.forward(features)
    }
}

/// Elements of the point differences [h, rows, r, 3·p] made at once by
/// [`squared_point_distances`] (64 MiB of float32).
const POINT_DIFFERENCE_ELEMENTS: usize = 1 << 24;

/// Σ over points and coordinates of the squared distances between query points `q_point` and
/// key points `k_point` (both [r, h, p, 3], global frame): [h, i, j]. The differences are taken
/// as AlphaFold takes them, in blocks of query rows: all at once they are r² × h × 3p floats
/// (144 MiB at 512 residues, above a GPU's largest buffer on lavapipe; 2.2 GiB at 2,000).
pub(crate) fn squared_point_distances<B: Backend>(
    q_point: Tensor<B, 4>,
    k_point: Tensor<B, 4>,
) -> Tensor<B, 3> {
    let [r, h, p, _] = q_point.dims();
    let q_p = q_point.permute([1, 0, 2, 3]).reshape([h, r, 1, p * 3]);
    let k_p = k_point.permute([1, 0, 2, 3]).reshape([h, 1, r, p * 3]);
    let rows = (POINT_DIFFERENCE_ELEMENTS / (h * r * p * 3).max(1)).clamp(1, r.max(1));
    let block =
        |q: Tensor<B, 4>, n: usize| (q - k_p.clone()).powi_scalar(2).sum_dim(3).reshape([h, n, r]);
    if rows >= r {
        return block(q_p, r);
    }
    let blocks = (0..r).step_by(rows).map(|start| {
        let n = rows.min(r - start);
        block(q_p.clone().narrow(1, start, n), n)
    });
    Tensor::cat(blocks.collect(), 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CpuF32;

    /// Past ~340 residues (12 heads, 4 points) the distances are taken in blocks of query rows;
    /// each entry is the same sum of the same differences, so the result is bit for bit the
    /// unblocked one.
    #[test]
    fn point_distances_in_blocks_equal_the_whole_difference() {
        let device = Default::default();
        let (r, h, p) = (400, 12, 4);
        // Coordinates spread over ±20 Å; float32 named explicitly (the process's default float
        // type is whichever test created a tensor first).
        let points = |seed: usize| {
            let values: Vec<f32> = (0..r * h * p * 3)
                .map(|i| ((i * 7_919 + seed * 104_729) % 4_001) as f32 / 100.0 - 20.0)
                .collect();
            Tensor::<CpuF32, 4>::from_data(
                TensorData::new(values, [r, h, p, 3]),
                crate::host::float_options::<CpuF32>(&device),
            )
        };
        let (q, k) = (points(1), points(2));
        assert!(
            POINT_DIFFERENCE_ELEMENTS / (h * r * p * 3) < r,
            "the test takes more than one block"
        );
        let whole = (q.clone().permute([1, 0, 2, 3]).reshape([h, r, 1, p * 3])
            - k.clone().permute([1, 0, 2, 3]).reshape([h, 1, r, p * 3]))
        .powi_scalar(2)
        .sum_dim(3)
        .reshape([h, r, r]);
        let blocked = squared_point_distances(q, k);
        assert_eq!(
            blocked.into_data().to_vec::<f32>().unwrap(),
            whole.into_data().to_vec::<f32>().unwrap()
        );
    }
}
