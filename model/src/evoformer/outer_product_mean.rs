//! Outer product mean: the MSA's update to the pair representation (Jumper et al. 2021,
//! Suppl. Alg. 10).

use burn::module::Param;
use burn::prelude::*;

use crate::params::{Init, ParamBuilder};
use crate::primitives::{linear::matmul_last, LayerNorm, Linear, LinearInit};
use crate::primitives::{rows_per_tile, Chunking};

#[derive(Module, Debug)]
pub struct OuterProductMean<B: Backend> {
    pub layer_norm_input: LayerNorm<B>,
    pub left_projection: Linear<B>,
    pub right_projection: Linear<B>,
    /// [c·c, pair_channels]
    pub output_w: Param<Tensor<B, 2>>,
    pub output_b: Param<Tensor<B, 1>>,
}

impl<B: Backend> OuterProductMean<B> {
    pub fn new(
        builder: &mut ParamBuilder<B>,
        msa_channels: usize,
        outer_channels: usize,
        pair_channels: usize,
    ) -> Self {
        let c = outer_channels;
        builder.scope("outer_product_mean", |b| Self {
            layer_norm_input: LayerNorm::new(b, "layer_norm_input", msa_channels),
            left_projection: Linear::new(
                b,
                "left_projection",
                msa_channels,
                c,
                LinearInit::Default,
            ),
            right_projection: Linear::new(
                b,
                "right_projection",
                msa_channels,
                c,
                LinearInit::Default,
            ),
            output_w: b.param(
                "output_w",
                &[c, c, pair_channels],
                [c * c, pair_channels],
                Init::ZEROS,
            ),
            output_b: b.param("output_b", &[pair_channels], [pair_channels], Init::ZEROS),
        })
    }

    /// `msa` [s, r, c_m], `msa_mask` [s, r]; returns the update to the pair [r, r, c_z].
    pub fn forward(
        &self,
        msa: Tensor<B, 3>,
        msa_mask: Tensor<B, 2>,
        chunking: Chunking,
    ) -> Tensor<B, 3> {
        let mask = msa_mask.unsqueeze_dim::<3>(2); // [s, r, 1]
        let act = self.layer_norm_input.forward(msa);
        let left = mask.clone() * self.left_projection.forward(act.clone()); // [s, r, c]
        let right = mask.clone() * self.right_projection.forward(act);
        let [s, r, c] = left.dims();
        // right as [s, r·c] for one matmul per chunk of left residues.
        let right_flat = right.reshape([s, r * c]);
        // At most one tile of outer products at a time (see `rows_per_tile`).
        let rows = chunking.rows.unwrap_or(r).min(rows_per_tile(r * c * c)).max(1);
        let pieces: Vec<_> = (0..r)
            .step_by(rows)
            .map(|start| {
                let n = rows.min(r - start);
                // [n·c, s] @ [s, r·c] -> outer[i, a, j, b]
                let left_chunk =
                    left.clone().narrow(1, start, n).permute([1, 2, 0]).reshape([n * c, s]);
                let outer = left_chunk
                    .matmul(right_flat.clone())
                    .reshape([n, c, r, c])
                    .permute([0, 2, 1, 3]);
                matmul_last(
                    outer.reshape([n, r, c * c]),
                    self.output_w.val(),
                    Some(self.output_b.val()),
                )
            })
            .collect();
        let act = Tensor::cat(pieces, 0);
        // Number of sequence pairs where both residues are present.
        let m = mask.squeeze_dim::<2>(2); // [s, r]
        let norm = m.clone().swap_dims(0, 1).matmul(m).unsqueeze_dim::<3>(2); // [r, r, 1]
        act / (norm + 1e-3)
    }
}
