//! The Evoformer trunk: its sub-blocks, one file each, and the blocks they make.

pub mod block;
pub mod msa_column_attention;
pub mod msa_column_global_attention;
pub mod msa_row_attention_with_pair_bias;
pub mod outer_product_mean;
pub mod transition;
pub mod triangle_attention;
pub mod triangle_multiplication;

pub use block::{EvoformerBlock, MsaPair, TemplatePairBlock};
pub use msa_column_attention::MsaColumnAttention;
pub use msa_column_global_attention::MsaColumnGlobalAttention;
pub use msa_row_attention_with_pair_bias::MsaRowAttentionWithPairBias;
pub use outer_product_mean::OuterProductMean;
pub use transition::Transition;
pub use triangle_attention::TriangleAttention;
pub use triangle_multiplication::TriangleMultiplication;
