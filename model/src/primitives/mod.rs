//! Building blocks shared by every part of the network.

pub mod activation;
pub mod attention;
mod cpu_attention;
pub(crate) mod cpu_gemm;
pub(crate) mod cpu_kernels;
pub(crate) mod cpu_triangle;
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

/// Elements of the widest intermediate (a transition's hidden layer, the outer product mean's
/// outer products) made at a time when no smaller row chunk is asked for: 8 MiB of float32,
/// which stays in the CPU's cache for the matmul that reads it and stays below the size over
/// which glibc's allocator returns each buffer to the kernel (and faults it back in on the next).
/// Rows are independent, so the results do not change.
pub const TILE_ELEMENTS: usize = 1 << 21;

/// Rows per tile of an intermediate with `elements_per_row` elements per row (at least 1).
pub fn rows_per_tile(elements_per_row: usize) -> usize {
    (TILE_ELEMENTS / elements_per_row.max(1)).max(1)
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
