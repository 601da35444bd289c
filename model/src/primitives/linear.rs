//! AlphaFold's `Linear`: `weights` [in, out] and `bias` \[out\], applied to the last axis.

use burn::module::Param;
use burn::prelude::*;

use super::cpu_kernels;
use crate::params::{Init, ParamBuilder};

#[derive(Module, Debug)]
pub struct Linear<B: Backend> {
    /// [in, out]
    pub weights: Param<Tensor<B, 2>>,
    pub bias: Option<Param<Tensor<B, 1>>>,
}

/// The initialiser of a Linear's weights, by AlphaFold's names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LinearInit {
    /// lecun normal (fan-in, scale 1)
    Default,
    /// he normal (fan-in, scale 2), before a ReLU
    Relu,
    /// zeros: the last layer of a residual branch (AlphaFold's `final_init` with `zero_init`)
    Final,
}

impl<B: Backend> Linear<B> {
    /// A Linear named `name` in the builder's current scope.
    pub fn new(
        builder: &mut ParamBuilder<B>,
        name: &str,
        input: usize,
        output: usize,
        init: LinearInit,
    ) -> Self {
        Self::with_bias_init(builder, name, input, output, init, 0.0)
    }

    pub fn with_bias_init(
        builder: &mut ParamBuilder<B>,
        name: &str,
        input: usize,
        output: usize,
        init: LinearInit,
        bias_init: f64,
    ) -> Self {
        let weight_init = match init {
            LinearInit::Default => Init::linear(input),
            LinearInit::Relu => Init::relu(input),
            LinearInit::Final => Init::ZEROS,
        };
        builder.scope(name, |b| Self {
            weights: b.param("weights", &[input, output], [input, output], weight_init),
            bias: Some(b.param("bias", &[output], [output], Init::Constant(bias_init))),
        })
    }

    /// A Linear whose output AlphaFold stores with several axes (`num_output` a tuple:
    /// `weights` [in, out…], `bias` [out…]), flattened to one output axis; `bias` false: none.
    pub fn with_output_shape(
        builder: &mut ParamBuilder<B>,
        name: &str,
        input: usize,
        output_shape: &[usize],
        bias: bool,
        init: LinearInit,
    ) -> Self {
        let output: usize = output_shape.iter().product();
        let weight_init = match init {
            LinearInit::Default => Init::linear(input),
            LinearInit::Relu => Init::relu(input),
            LinearInit::Final => Init::ZEROS,
        };
        let weight_shape: Vec<usize> =
            std::iter::once(input).chain(output_shape.iter().copied()).collect();
        builder.scope(name, |b| Self {
            weights: b.param("weights", &weight_shape, [input, output], weight_init),
            bias: bias.then(|| b.param("bias", output_shape, [output], Init::Constant(0.0))),
        })
    }

    /// A Linear of a scalar feature (AlphaFold's `num_input_dims=0`: `weights` \[out\]), applied
    /// to inputs whose last axis has length 1.
    pub fn of_scalar(
        builder: &mut ParamBuilder<B>,
        name: &str,
        output: usize,
        init: LinearInit,
    ) -> Self {
        let weight_init = match init {
            LinearInit::Default => Init::linear(1),
            LinearInit::Relu => Init::relu(1),
            LinearInit::Final => Init::ZEROS,
        };
        builder.scope(name, |b| Self {
            weights: b.param("weights", &[output], [1, output], weight_init),
            bias: Some(b.param("bias", &[output], [output], Init::Constant(0.0))),
        })
    }

    pub fn forward<const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        matmul_last(input, self.weights.val(), self.bias.as_ref().map(|b| b.val()))
    }

    /// `relu(self.forward(input))`, the ReLU fused into the layer on the CPU kernel.
    pub fn forward_relu<const D: usize>(&self, input: Tensor<B, D>) -> Tensor<B, D> {
        linear_last(input, self.weights.val(), self.bias.as_ref().map(|b| b.val()), true)
    }
}

/// `input @ weights (+ bias)` over the last axis of an input of any rank.
pub fn matmul_last<B: Backend, const D: usize>(
    input: Tensor<B, D>,
    weights: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, D> {
    linear_last(input, weights, bias, false)
}

/// [`matmul_last`], then ReLU with `relu`.
fn linear_last<B: Backend, const D: usize>(
    input: Tensor<B, D>,
    weights: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
    relu: bool,
) -> Tensor<B, D> {
    let mut dims = input.dims();
    let [fan_in, fan_out] = weights.dims();
    let rows = dims.iter().product::<usize>() / fan_in;
    let input = input.reshape([rows, fan_in]);
    let out = cpu_kernels::linear(input, &weights, bias.as_ref(), relu).unwrap_or_else(|input| {
        let out = input.matmul(weights);
        let out = match bias {
            Some(bias) => out + bias.unsqueeze::<2>(),
            None => out,
        };
        if relu {
            burn::tensor::activation::relu(out)
        } else {
            out
        }
    });
    dims[D - 1] = fan_out;
    out.reshape(dims)
}
