//! Triangle self-attention around the starting and the ending node (Jumper et al. 2021,
//! Suppl. Alg. 13 and 14).

use burn::module::Param;
use burn::prelude::*;

use super::msa_row_attention_with_pair_bias::mask_bias;
use crate::config::AttentionConfig;
use crate::params::{Init, ParamBuilder};
use crate::primitives::Chunking;
use crate::primitives::{linear::matmul_last, Attention, LayerNorm};

#[derive(Module, Debug)]
pub struct TriangleAttention<B: Backend> {
    pub query_norm: LayerNorm<B>,
    /// [pair_channels, heads]
    pub feat_2d_weights: Param<Tensor<B, 2>>,
    pub attention: Attention<B>,
    /// Ending node: attend along columns (the pair transposed).
    pub per_column: bool,
}

impl<B: Backend> TriangleAttention<B> {
    pub fn new(
        builder: &mut ParamBuilder<B>,
        config: &AttentionConfig,
        starting_node: bool,
        pair_channels: usize,
    ) -> Self {
        let name = if starting_node {
            "triangle_attention_starting_node"
        } else {
            "triangle_attention_ending_node"
        };
        builder.scope(name, |b| Self {
            query_norm: LayerNorm::new(b, "query_norm", pair_channels),
            feat_2d_weights: b.param(
                "feat_2d_weights",
                &[pair_channels, config.num_head],
                [pair_channels, config.num_head],
                Init::Normal { stddev: 1.0 / (pair_channels as f64).sqrt() },
            ),
            attention: Attention::new(b, config, pair_channels, pair_channels, pair_channels),
            per_column: !starting_node,
        })
    }

    /// `pair` [r, r, c], `pair_mask` [r, r]; returns the update.
    pub fn forward(
        &self,
        pair: Tensor<B, 3>,
        pair_mask: Tensor<B, 2>,
        chunking: Chunking,
    ) -> Tensor<B, 3> {
        let (pair, pair_mask) = if self.per_column {
            (pair.swap_dims(0, 1), pair_mask.swap_dims(0, 1))
        } else {
            (pair, pair_mask)
        };
        let bias = mask_bias(pair_mask);
        let act = self.query_norm.forward(pair);
        let triangle_bias =
            matmul_last(act.clone(), self.feat_2d_weights.val(), None).permute([2, 0, 1]);
        let out = self.attention.forward(act.clone(), act, bias, Some(triangle_bias), chunking);
        if self.per_column {
            out.swap_dims(0, 1)
        } else {
            out
        }
    }
}
