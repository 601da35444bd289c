//! MSA column-wise gated self-attention (Jumper et al. 2021, Suppl. Alg. 8).

use burn::prelude::*;

use super::msa_row_attention_with_pair_bias::mask_bias;
use crate::config::AttentionConfig;
use crate::params::ParamBuilder;
use crate::primitives::Chunking;
use crate::primitives::{Attention, LayerNorm};

#[derive(Module, Debug)]
pub struct MsaColumnAttention<B: Backend> {
    pub query_norm: LayerNorm<B>,
    pub attention: Attention<B>,
}

impl<B: Backend> MsaColumnAttention<B> {
    pub fn new(
        builder: &mut ParamBuilder<B>,
        config: &AttentionConfig,
        msa_channels: usize,
    ) -> Self {
        builder.scope("msa_column_attention", |b| Self {
            query_norm: LayerNorm::new(b, "query_norm", msa_channels),
            attention: Attention::new(b, config, msa_channels, msa_channels, msa_channels),
        })
    }

    /// `msa` [s, r, c], `msa_mask` [s, r]; returns the update to `msa`.
    pub fn forward(
        &self,
        msa: Tensor<B, 3>,
        msa_mask: Tensor<B, 2>,
        chunking: Chunking,
    ) -> Tensor<B, 3> {
        let msa = self.query_norm.forward(msa.swap_dims(0, 1));
        let bias = mask_bias(msa_mask.swap_dims(0, 1));
        self.attention.forward(msa.clone(), msa, bias, None, chunking).swap_dims(0, 1)
    }
}
