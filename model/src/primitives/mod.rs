//! Building blocks shared by every part of the network.

pub mod activation;
pub mod attention;
mod cpu_attention;
pub(crate) mod cpu_kernels;
pub mod dropout;
pub mod layer_norm;
pub mod linear;

pub use attention::{Attention, GlobalAttention};
pub use dropout::Dropout;

/// How each step computes, to bound memory: `rows` of the batch axis of every attention and
/// transition at a time (AlphaFold's `subbatch_size`; the result is identical), and `keys` per
/// step inside attention (running log-sum-exp; identical up to rounding). `None`: all at once.
/// `attention` picks the attention implementation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Chunking {
    pub rows: Option<usize>,
    pub keys: Option<usize>,
    pub attention: AttentionKernel,
}

pub use layer_norm::LayerNorm;
pub use linear::{Linear, LinearInit};

use crate::config::AttentionKernel;
use crate::host::float_options;
use burn::prelude::*;

/// 1.0 where `mask` is true, in the backend's float type (`Tensor::float` would use the
/// device's process-wide default; see [`float_options`]).
pub fn bool_to_float<B: Backend, const D: usize>(mask: Tensor<B, D, Bool>) -> Tensor<B, D> {
    Tensor::zeros(mask.dims(), float_options::<B>(&mask.device())).mask_fill(mask, 1.0)
}
