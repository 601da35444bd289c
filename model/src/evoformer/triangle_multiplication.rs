//! Triangle multiplicative update, outgoing and incoming edges (Jumper et al. 2021, Suppl. Alg.
//! 11 and 12).

use crate::primitives::activation::sigmoid;
use burn::prelude::*;

use crate::params::ParamBuilder;
use crate::primitives::{LayerNorm, Linear, LinearInit};

#[derive(Module, Debug)]
pub struct TriangleMultiplication<B: Backend> {
    pub layer_norm_input: LayerNorm<B>,
    pub left_projection: Linear<B>,
    pub right_projection: Linear<B>,
    pub left_gate: Linear<B>,
    pub right_gate: Linear<B>,
    pub center_layer_norm: LayerNorm<B>,
    pub output_projection: Linear<B>,
    pub gating_linear: Linear<B>,
    /// `ikc,jkc->ijc` (outgoing) when true, `kjc,kic->ijc` (incoming) when false.
    pub outgoing: bool,
}

impl<B: Backend> TriangleMultiplication<B> {
    pub fn new(
        builder: &mut ParamBuilder<B>,
        outgoing: bool,
        pair_channels: usize,
        channels: usize,
    ) -> Self {
        let name = if outgoing {
            "triangle_multiplication_outgoing"
        } else {
            "triangle_multiplication_incoming"
        };
        let (z, c) = (pair_channels, channels);
        builder.scope(name, |b| Self {
            layer_norm_input: LayerNorm::new(b, "layer_norm_input", z),
            left_projection: Linear::new(b, "left_projection", z, c, LinearInit::Default),
            right_projection: Linear::new(b, "right_projection", z, c, LinearInit::Default),
            left_gate: Linear::with_bias_init(b, "left_gate", z, c, LinearInit::Final, 1.0),
            right_gate: Linear::with_bias_init(b, "right_gate", z, c, LinearInit::Final, 1.0),
            center_layer_norm: LayerNorm::new(b, "center_layer_norm", c),
            output_projection: Linear::new(b, "output_projection", c, z, LinearInit::Final),
            gating_linear: Linear::with_bias_init(b, "gating_linear", z, z, LinearInit::Final, 1.0),
            outgoing,
        })
    }

    /// `pair` [r, r, c_z], `pair_mask` [r, r]; returns the update.
    pub fn forward(&self, pair: Tensor<B, 3>, pair_mask: Tensor<B, 2>) -> Tensor<B, 3> {
        let mask = pair_mask.unsqueeze_dim::<3>(2);
        let act = self.layer_norm_input.forward(pair);
        let left = mask.clone()
            * self.left_projection.forward(act.clone())
            * sigmoid(self.left_gate.forward(act.clone()));
        let right = mask
            * self.right_projection.forward(act.clone())
            * sigmoid(self.right_gate.forward(act.clone()));
        // Channel-first so that the triangle product is a batched matmul over channels.
        let left = left.permute([2, 0, 1]); // [c, a, b]
        let right = right.permute([2, 0, 1]);
        let product = if self.outgoing {
            // out[i, j] = Σ_k left[i, k] right[j, k]
            left.matmul(right.swap_dims(1, 2))
        } else {
            // out[i, j] = Σ_k left[k, j] right[k, i] = (rightᵀ left)[i, j]
            right.swap_dims(1, 2).matmul(left)
        };
        let product = self.center_layer_norm.forward(product.permute([1, 2, 0]));
        self.output_projection.forward(product) * sigmoid(self.gating_linear.forward(act))
    }
}
