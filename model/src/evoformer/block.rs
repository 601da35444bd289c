//! One Evoformer block (Jumper et al. 2021, Suppl. Alg. 6), also used, with global column
//! attention, as the extra-MSA block (Suppl. Alg. 18). Dropout (AlphaFold's rates, shared
//! across rows or columns) acts where the stage's context draws masks (training passes).

use burn::prelude::*;

use super::{
    MsaColumnAttention, MsaColumnGlobalAttention, MsaRowAttentionWithPairBias, OuterProductMean,
    Transition, TriangleAttention, TriangleMultiplication,
};
use crate::config::{DropoutConfig, EvoformerBlockConfig};
use crate::params::ParamBuilder;
use crate::plan::StageContext;
use crate::primitives::cpu_kernels;

/// Shared dropout masks are broadcast along this axis: the same dropped entries in every MSA
/// row / pair row (AlphaFold's `per_row`) or pair column (`per_column`).
const PER_ROW: Option<usize> = Some(0);
const PER_COLUMN: Option<usize> = Some(1);

#[derive(Module, Debug)]
pub enum ColumnAttention<B: Backend> {
    Full(MsaColumnAttention<B>),
    Global(MsaColumnGlobalAttention<B>),
}

#[derive(Module, Debug)]
pub struct EvoformerBlock<B: Backend> {
    pub msa_row_attention_with_pair_bias: MsaRowAttentionWithPairBias<B>,
    pub msa_column_attention: ColumnAttention<B>,
    pub msa_transition: Transition<B>,
    pub outer_product_mean: OuterProductMean<B>,
    pub triangle_multiplication_outgoing: TriangleMultiplication<B>,
    pub triangle_multiplication_incoming: TriangleMultiplication<B>,
    pub triangle_attention_starting_node: TriangleAttention<B>,
    pub triangle_attention_ending_node: TriangleAttention<B>,
    pub pair_transition: Transition<B>,
    pub msa_row_dropout: f64,
    pub triangle_dropout: f64,
    /// AlphaFold-Multimer's order: the outer product mean first.
    pub outer_product_mean_first: bool,
}

/// The MSA and pair representations flowing through the trunk.
#[derive(Debug, Clone)]
pub struct MsaPair<B: Backend> {
    /// [s, r, c_m]
    pub msa: Tensor<B, 3>,
    /// [r, r, c_z]
    pub pair: Tensor<B, 3>,
}

impl<B: Backend> EvoformerBlock<B> {
    /// A block in the builder's current scope (the caller opens the stacked scope).
    pub fn new(
        builder: &mut ParamBuilder<B>,
        config: &EvoformerBlockConfig,
        msa_channels: usize,
        pair_channels: usize,
        global_column_attention: bool,
        dropout: &DropoutConfig,
    ) -> Self {
        let (m, z) = (msa_channels, pair_channels);
        let b = builder;
        Self {
            msa_row_attention_with_pair_bias: MsaRowAttentionWithPairBias::new(
                b,
                &config.msa_row_attention_with_pair_bias,
                m,
                z,
            ),
            msa_column_attention: if global_column_attention {
                ColumnAttention::Global(MsaColumnGlobalAttention::new(
                    b,
                    &config.msa_column_attention,
                    m,
                ))
            } else {
                ColumnAttention::Full(MsaColumnAttention::new(b, &config.msa_column_attention, m))
            },
            msa_transition: Transition::new(b, "msa_transition", m, config.msa_transition_factor),
            outer_product_mean: OuterProductMean::new(b, m, config.outer_product_mean_channels, z),
            triangle_multiplication_outgoing: TriangleMultiplication::new(
                b,
                true,
                z,
                config.triangle_multiplication_channels,
                config.fused_triangle_projections,
            ),
            triangle_multiplication_incoming: TriangleMultiplication::new(
                b,
                false,
                z,
                config.triangle_multiplication_channels,
                config.fused_triangle_projections,
            ),
            triangle_attention_starting_node: TriangleAttention::new(
                b,
                &config.triangle_attention_starting_node,
                true,
                z,
            ),
            triangle_attention_ending_node: TriangleAttention::new(
                b,
                &config.triangle_attention_ending_node,
                false,
                z,
            ),
            pair_transition: Transition::new(
                b,
                "pair_transition",
                z,
                config.pair_transition_factor,
            ),
            msa_row_dropout: dropout.msa_row_attention,
            triangle_dropout: dropout.triangle,
            outer_product_mean_first: config.outer_product_mean_first,
        }
    }

    pub fn forward(
        &self,
        act: MsaPair<B>,
        msa_mask: Tensor<B, 2>,
        pair_mask: Tensor<B, 2>,
        context: &StageContext,
    ) -> MsaPair<B> {
        let (chunking, dropout) = (context.chunking, &context.dropout);
        let MsaPair { mut msa, mut pair } = act;
        let triangle = self.triangle_dropout;
        if self.outer_product_mean_first {
            let update = self.outer_product_mean.forward(msa.clone(), msa_mask.clone(), chunking);
            pair = residual(pair, update);
        }
        let update = dropout.apply(
            self.msa_row_attention_with_pair_bias.forward(
                msa.clone(),
                msa_mask.clone(),
                pair.clone(),
                chunking,
            ),
            self.msa_row_dropout,
            PER_ROW,
        );
        msa = residual(msa, update);
        let update = match &self.msa_column_attention {
            ColumnAttention::Full(attention) => {
                attention.forward(msa.clone(), msa_mask.clone(), chunking)
            }
            ColumnAttention::Global(attention) => {
                attention.forward(msa.clone(), msa_mask.clone(), chunking)
            }
        };
        msa = residual(msa, update);
        let update = self.msa_transition.forward(msa.clone(), chunking);
        msa = residual(msa, update);
        if !self.outer_product_mean_first {
            let update = self.outer_product_mean.forward(msa.clone(), msa_mask, chunking);
            pair = residual(pair, update);
        }
        let update = self.triangle_multiplication_outgoing.forward(pair.clone(), pair_mask.clone());
        pair = residual(pair, dropout.apply(update, triangle, PER_ROW));
        let update = self.triangle_multiplication_incoming.forward(pair.clone(), pair_mask.clone());
        pair = residual(pair, dropout.apply(update, triangle, PER_ROW));
        let update = self.triangle_attention_starting_node.forward(
            pair.clone(),
            pair_mask.clone(),
            chunking,
        );
        pair = residual(pair, dropout.apply(update, triangle, PER_ROW));
        let update = self.triangle_attention_ending_node.forward(pair.clone(), pair_mask, chunking);
        pair = residual(pair, dropout.apply(update, triangle, PER_COLUMN));
        let update = self.pair_transition.forward(pair.clone(), chunking);
        pair = residual(pair, update);
        MsaPair { msa, pair }
    }
}

/// `act + update`: the threaded CPU kernel, or burn's addition.
fn residual<B: Backend>(act: Tensor<B, 3>, update: Tensor<B, 3>) -> Tensor<B, 3> {
    cpu_kernels::add(act, update).unwrap_or_else(|(act, update)| act + update)
}

/// One block of the template pair stack (Jumper et al. 2021, Suppl. Alg. 16): the pair half of
/// an Evoformer block, triangle attention first.
#[derive(Module, Debug)]
pub struct TemplatePairBlock<B: Backend> {
    pub triangle_attention_starting_node: TriangleAttention<B>,
    pub triangle_attention_ending_node: TriangleAttention<B>,
    pub triangle_multiplication_outgoing: TriangleMultiplication<B>,
    pub triangle_multiplication_incoming: TriangleMultiplication<B>,
    pub pair_transition: Transition<B>,
    pub triangle_dropout: f64,
    /// AlphaFold-Multimer's order: the triangle multiplications before the attentions.
    pub multiplication_first: bool,
}

impl<B: Backend> TemplatePairBlock<B> {
    pub fn new(
        builder: &mut ParamBuilder<B>,
        config: &crate::config::TemplatePairStackConfig,
        dropout: &DropoutConfig,
    ) -> Self {
        let c = config.channels();
        let b = builder;
        Self {
            triangle_attention_starting_node: TriangleAttention::new(
                b,
                &config.triangle_attention_starting_node,
                true,
                c,
            ),
            triangle_attention_ending_node: TriangleAttention::new(
                b,
                &config.triangle_attention_ending_node,
                false,
                c,
            ),
            triangle_multiplication_outgoing: TriangleMultiplication::new(
                b,
                true,
                c,
                config.triangle_multiplication_channels,
                config.fused_triangle_projections,
            ),
            triangle_multiplication_incoming: TriangleMultiplication::new(
                b,
                false,
                c,
                config.triangle_multiplication_channels,
                config.fused_triangle_projections,
            ),
            pair_transition: Transition::new(
                b,
                "pair_transition",
                c,
                config.pair_transition_factor,
            ),
            triangle_dropout: dropout.triangle,
            multiplication_first: config.triangle_multiplication_first,
        }
    }

    pub fn forward(
        &self,
        pair: Tensor<B, 3>,
        pair_mask: Tensor<B, 2>,
        context: &StageContext,
    ) -> Tensor<B, 3> {
        let (chunking, dropout) = (context.chunking, &context.dropout);
        let rate = self.triangle_dropout;
        let multiplications = |mut pair: Tensor<B, 3>| {
            let update =
                self.triangle_multiplication_outgoing.forward(pair.clone(), pair_mask.clone());
            pair = residual(pair, dropout.apply(update, rate, PER_ROW));
            let update =
                self.triangle_multiplication_incoming.forward(pair.clone(), pair_mask.clone());
            residual(pair, dropout.apply(update, rate, PER_ROW))
        };
        let attentions = |mut pair: Tensor<B, 3>| {
            let update = self.triangle_attention_starting_node.forward(
                pair.clone(),
                pair_mask.clone(),
                chunking,
            );
            pair = residual(pair, dropout.apply(update, rate, PER_ROW));
            let update = self.triangle_attention_ending_node.forward(
                pair.clone(),
                pair_mask.clone(),
                chunking,
            );
            residual(pair, dropout.apply(update, rate, PER_COLUMN))
        };
        let pair = if self.multiplication_first {
            attentions(multiplications(pair))
        } else {
            multiplications(attentions(pair))
        };
        let update = self.pair_transition.forward(pair.clone(), chunking);
        residual(pair, update)
    }
}
