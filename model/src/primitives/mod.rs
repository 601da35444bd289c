//! Building blocks shared by every part of the network.

pub mod activation;
pub mod attention;
mod cpu_kernels;
pub mod dropout;
pub mod layer_norm;
pub mod linear;

pub use attention::{Attention, GlobalAttention};
pub use dropout::Dropout;

/// How much work one step does, to bound memory: `rows` of the batch axis of every attention and
/// transition at a time (AlphaFold's `subbatch_size`; the result is identical), and `keys` per
/// step inside attention (running log-sum-exp; identical up to rounding). `None`: all at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Chunking {
    pub rows: Option<usize>,
    pub keys: Option<usize>,
}
pub use layer_norm::LayerNorm;
pub use linear::{Linear, LinearInit};

use burn::prelude::*;
use burn::tensor::{Element, TensorCreationOptions};

/// Creation options with the backend's own float type. burn keeps one default dtype per device
/// *type* for the whole process (set by the first tensor created), and `NdArray<f32>` and
/// `NdArray<f64>` share a device type: without an explicit dtype, a float64 model in a process
/// that first used float32 would silently create float32 tensors.
pub fn float_options<B: Backend>(device: &B::Device) -> TensorCreationOptions<B> {
    (device, <B::FloatElem as Element>::dtype()).into()
}

/// Same for the backend's integer type.
pub fn int_options<B: Backend>(device: &B::Device) -> TensorCreationOptions<B> {
    (device, <B::IntElem as Element>::dtype()).into()
}

/// 1.0 where `mask` is true, in the backend's float type (`Tensor::float` would use the
/// device's process-wide default; see [`float_options`]).
pub fn bool_to_float<B: Backend, const D: usize>(mask: Tensor<B, D, Bool>) -> Tensor<B, D> {
    Tensor::zeros(mask.dims(), float_options::<B>(&mask.device())).mask_fill(mask, 1.0)
}
