//! Triangle multiplicative update, outgoing and incoming edges (Jumper et al. 2021, Suppl. Alg.
//! 11 and 12).

use crate::primitives::activation::sigmoid;
use burn::prelude::*;

use crate::params::ParamBuilder;
use crate::primitives::{cpu_kernels, cpu_triangle};
use crate::primitives::{LayerNorm, Linear, LinearInit};

#[derive(Module, Debug)]
pub struct TriangleMultiplication<B: Backend> {
    pub layer_norm_input: LayerNorm<B>,
    pub projections: TriangleProjections<B>,
    pub center_layer_norm: LayerNorm<B>,
    pub output_projection: Linear<B>,
    pub gating_linear: Linear<B>,
    /// `ikc,jkc->ijc` (outgoing) when true, `kjc,kic->ijc` (incoming) when false.
    pub outgoing: bool,
}

/// The gated left and right projections, as AlphaFold2 stores them (four linear layers) or as
/// AlphaFold-Multimer v2.3 does (`fuse_projection_weights`: one linear layer for both
/// projections, one for both gates, left half first).
// One per block, never moved in a hot path: the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum TriangleProjections<B: Backend> {
    Separate(SeparateProjections<B>),
    Fused(FusedProjections<B>),
}

#[derive(Module, Debug)]
pub struct SeparateProjections<B: Backend> {
    pub left_projection: Linear<B>,
    pub right_projection: Linear<B>,
    pub left_gate: Linear<B>,
    pub right_gate: Linear<B>,
}

#[derive(Module, Debug)]
pub struct FusedProjections<B: Backend> {
    pub projection: Linear<B>,
    pub gate: Linear<B>,
}

impl<B: Backend> TriangleMultiplication<B> {
    /// `fused`: AlphaFold-Multimer v2.3's parameter layout (see [`TriangleProjections`]), whose
    /// layer norms are also named differently (`left_norm_input`, `center_norm`).
    pub fn new(
        builder: &mut ParamBuilder<B>,
        outgoing: bool,
        pair_channels: usize,
        channels: usize,
        fused: bool,
    ) -> Self {
        let name = if outgoing {
            "triangle_multiplication_outgoing"
        } else {
            "triangle_multiplication_incoming"
        };
        let (z, c) = (pair_channels, channels);
        let (input_norm, center_norm) = if fused {
            ("left_norm_input", "center_norm")
        } else {
            ("layer_norm_input", "center_layer_norm")
        };
        builder.scope(name, |b| Self {
            layer_norm_input: LayerNorm::new(b, input_norm, z),
            projections: if fused {
                TriangleProjections::Fused(FusedProjections {
                    projection: Linear::new(b, "projection", z, 2 * c, LinearInit::Default),
                    gate: Linear::with_bias_init(b, "gate", z, 2 * c, LinearInit::Final, 1.0),
                })
            } else {
                TriangleProjections::Separate(SeparateProjections {
                    left_projection: Linear::new(b, "left_projection", z, c, LinearInit::Default),
                    right_projection: Linear::new(b, "right_projection", z, c, LinearInit::Default),
                    left_gate: Linear::with_bias_init(b, "left_gate", z, c, LinearInit::Final, 1.0),
                    right_gate: Linear::with_bias_init(
                        b,
                        "right_gate",
                        z,
                        c,
                        LinearInit::Final,
                        1.0,
                    ),
                })
            },
            center_layer_norm: LayerNorm::new(b, center_norm, c),
            output_projection: Linear::new(b, "output_projection", c, z, LinearInit::Final),
            gating_linear: Linear::with_bias_init(b, "gating_linear", z, z, LinearInit::Final, 1.0),
            outgoing,
        })
    }

    /// `pair` [r, r, c_z], `pair_mask` [r, r]; returns the update.
    pub fn forward(&self, pair: Tensor<B, 3>, pair_mask: Tensor<B, 2>) -> Tensor<B, 3> {
        let act = self.layer_norm_input.forward(pair);
        // mask ⊙ projection ⊙ sigmoid(gate): the CPU kernel, or burn's operations.
        let gated = |projection: Tensor<B, 3>, gate: Tensor<B, 3>, mask: Option<Tensor<B, 2>>| {
            cpu_kernels::masked_gate(projection, gate, mask.clone()).unwrap_or_else(|(p, g)| {
                let gated = p * sigmoid(g);
                match mask {
                    Some(mask) => gated * mask.unsqueeze_dim::<3>(2),
                    None => gated,
                }
            })
        };
        let (left, right) = match &self.projections {
            TriangleProjections::Separate(p) => (
                gated(
                    p.left_projection.forward(act.clone()),
                    p.left_gate.forward(act.clone()),
                    Some(pair_mask.clone()),
                ),
                gated(
                    p.right_projection.forward(act.clone()),
                    p.right_gate.forward(act.clone()),
                    Some(pair_mask),
                ),
            ),
            TriangleProjections::Fused(p) => {
                let both = gated(
                    p.projection.forward(act.clone()),
                    p.gate.forward(act.clone()),
                    Some(pair_mask),
                );
                let c = both.dims()[2] / 2;
                (both.clone().narrow(2, 0, c), both.narrow(2, c, c))
            }
        };
        let (left, right) = match if self.outgoing {
            cpu_triangle::triangle_product(left, right, true)
        } else {
            cpu_triangle::triangle_product(right, left, false).map_err(|(r, l)| (l, r))
        } {
            Ok(product) => {
                let product = self.center_layer_norm.forward(product);
                return gated(
                    self.output_projection.forward(product),
                    self.gating_linear.forward(act),
                    None,
                );
            }
            Err(operands) => operands,
        };
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
        gated(self.output_projection.forward(product), self.gating_linear.forward(act), None)
    }
}
