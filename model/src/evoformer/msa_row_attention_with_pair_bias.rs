//! MSA row-wise gated self-attention with pair bias (Jumper et al. 2021, Suppl. Alg. 7).

use burn::module::Param;
use burn::prelude::*;

use crate::config::AttentionConfig;
use crate::params::{Init, ParamBuilder};
use crate::primitives::Chunking;
use crate::primitives::{linear::matmul_last, Attention, LayerNorm};

#[derive(Module, Debug)]
pub struct MsaRowAttentionWithPairBias<B: Backend> {
    pub query_norm: LayerNorm<B>,
    pub feat_2d_norm: LayerNorm<B>,
    /// [pair_channels, heads]
    pub feat_2d_weights: Param<Tensor<B, 2>>,
    pub attention: Attention<B>,
}

impl<B: Backend> MsaRowAttentionWithPairBias<B> {
    pub fn new(
        builder: &mut ParamBuilder<B>,
        config: &AttentionConfig,
        msa_channels: usize,
        pair_channels: usize,
    ) -> Self {
        builder.scope("msa_row_attention_with_pair_bias", |b| Self {
            query_norm: LayerNorm::new(b, "query_norm", msa_channels),
            feat_2d_norm: LayerNorm::new(b, "feat_2d_norm", pair_channels),
            feat_2d_weights: b.param(
                "feat_2d_weights",
                &[pair_channels, config.num_head],
                [pair_channels, config.num_head],
                Init::Normal { stddev: 1.0 / (pair_channels as f64).sqrt() },
            ),
            attention: Attention::new(b, config, msa_channels, msa_channels, msa_channels),
        })
    }

    /// `msa` [s, r, c_m], `msa_mask` [s, r], `pair` [r, r, c_z]; returns the update to `msa`.
    pub fn forward(
        &self,
        msa: Tensor<B, 3>,
        msa_mask: Tensor<B, 2>,
        pair: Tensor<B, 3>,
        chunking: Chunking,
    ) -> Tensor<B, 3> {
        let bias = mask_bias(msa_mask);
        let msa = self.query_norm.forward(msa);
        let pair = self.feat_2d_norm.forward(pair);
        // [r, r, h] -> [h, r, r]
        let pair_bias = matmul_last(pair, self.feat_2d_weights.val(), None).permute([2, 0, 1]);
        self.attention.forward(msa.clone(), msa, bias, Some(pair_bias), chunking)
    }
}

/// 1e9·(mask − 1) as an attention bias over keys: [b, k] → [b, 1, 1, k].
pub fn mask_bias<B: Backend>(mask: Tensor<B, 2>) -> Tensor<B, 4> {
    ((mask - 1.0) * 1e9).unsqueeze_dim::<3>(1).unsqueeze_dim::<4>(1)
}
