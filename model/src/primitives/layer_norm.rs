//! Layer normalisation over the last axis, as haiku's `LayerNorm` (eps 1e-5, `scale`, `offset`).

use burn::module::Param;
use burn::prelude::*;

use super::cpu_kernels;
use crate::params::{Init, ParamBuilder};

#[derive(Module, Debug)]
pub struct LayerNorm<B: Backend> {
    pub scale: Param<Tensor<B, 1>>,
    pub offset: Param<Tensor<B, 1>>,
}

impl<B: Backend> LayerNorm<B> {
    pub fn new(builder: &mut ParamBuilder<B>, name: &str, channels: usize) -> Self {
        builder.scope(name, |b| Self {
            scale: b.param("scale", &[channels], [channels], Init::ONES),
            offset: b.param("offset", &[channels], [channels], Init::ZEROS),
        })
    }

    pub fn forward<const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        let (scale, offset) = (self.scale.val(), self.offset.val());
        let input = match cpu_kernels::layer_norm(input, &scale, &offset) {
            Ok(normalised) => return normalised,
            Err(input) => input,
        };
        let mean = input.clone().mean_dim(D - 1);
        let centred = input - mean;
        let variance = centred.clone().powi_scalar(2).mean_dim(D - 1);
        let inverse = (variance + 1e-5).sqrt().recip();
        let scale = scale.unsqueeze::<D>();
        let offset = offset.unsqueeze::<D>();
        centred * (inverse * scale) + offset
    }
}
