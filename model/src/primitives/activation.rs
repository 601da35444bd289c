//! Activations computed in the tensor's own precision. burn's `sigmoid` goes through float32
//! (and through exp∘log), which caps float64 runs at float32 accuracy; these follow JAX's
//! definitions instead.

use burn::prelude::*;

use super::cpu_kernels;

/// 1 / (1 + e^(−x)), as `jax.nn.sigmoid`.
pub fn sigmoid<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    cpu_kernels::sigmoid(x).unwrap_or_else(|x| (x.neg().exp() + 1.0).recip())
}

/// softmax over the last axis, exp(x − max) / Σ exp(x − max), as `jax.nn.softmax`.
pub fn softmax_last_axis<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    cpu_kernels::softmax_last(x).unwrap_or_else(|x| burn::tensor::activation::softmax(x, D - 1))
}

/// log(1 + eˣ) without overflow, as `jax.nn.softplus`: max(x, 0) + log1p(e^(−|x|)).
pub fn softplus<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    x.clone().clamp_min(0.0) + x.abs().neg().exp().log1p()
}
