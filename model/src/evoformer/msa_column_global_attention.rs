//! MSA column-wise global attention of the extra-MSA stack (Jumper et al. 2021, Suppl. Alg. 19).

use burn::prelude::*;

use crate::config::AttentionConfig;
use crate::params::ParamBuilder;
use crate::primitives::Chunking;
use crate::primitives::{GlobalAttention, LayerNorm};

#[derive(Module, Debug)]
pub struct MsaColumnGlobalAttention<B: Backend> {
    pub query_norm: LayerNorm<B>,
    pub attention: GlobalAttention<B>,
}

impl<B: Backend> MsaColumnGlobalAttention<B> {
    pub fn new(
        builder: &mut ParamBuilder<B>,
        config: &AttentionConfig,
        msa_channels: usize,
    ) -> Self {
        builder.scope("msa_column_global_attention", |b| Self {
            query_norm: LayerNorm::new(b, "query_norm", msa_channels),
            attention: GlobalAttention::new(b, config, msa_channels, msa_channels, msa_channels),
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
        let mask = msa_mask.swap_dims(0, 1);
        let columns = msa.dims()[0];
        let chunk = chunking.rows.unwrap_or(columns).max(1);
        let pieces = (0..columns)
            .step_by(chunk)
            .map(|start| {
                let len = chunk.min(columns - start);
                let piece = msa.clone().narrow(0, start, len);
                self.attention.forward(piece.clone(), piece, mask.clone().narrow(0, start, len))
            })
            .collect();
        Tensor::cat(pieces, 0).swap_dims(0, 1)
    }
}
