//! MSA and pair transitions: a two-layer ReLU MLP (Jumper et al. 2021, Suppl. Alg. 9 and 15).

use burn::prelude::*;

use crate::params::ParamBuilder;
use crate::primitives::{rows_per_tile, Chunking};
use crate::primitives::{LayerNorm, Linear, LinearInit};

#[derive(Module, Debug)]
pub struct Transition<B: Backend> {
    pub input_layer_norm: LayerNorm<B>,
    pub transition1: Linear<B>,
    pub transition2: Linear<B>,
}

impl<B: Backend> Transition<B> {
    /// `name` is `msa_transition` or `pair_transition`.
    pub fn new(builder: &mut ParamBuilder<B>, name: &str, channels: usize, factor: usize) -> Self {
        builder.scope(name, |b| Self {
            input_layer_norm: LayerNorm::new(b, "input_layer_norm", channels),
            transition1: Linear::new(
                b,
                "transition1",
                channels,
                channels * factor,
                LinearInit::Relu,
            ),
            transition2: Linear::new(
                b,
                "transition2",
                channels * factor,
                channels,
                LinearInit::Final,
            ),
        })
    }

    /// `act` [b, n, c]; returns the update. Row chunks bound the intermediate's memory.
    pub fn forward(&self, act: Tensor<B, 3>, chunking: Chunking) -> Tensor<B, 3> {
        let act = self.input_layer_norm.forward(act);
        // At most one tile of the hidden layer at a time (see `rows_per_tile`).
        let [rows, columns, _] = act.dims();
        let hidden_per_row = columns * self.transition1.weights.dims()[1];
        let chunk = chunking.rows.unwrap_or(rows).min(rows_per_tile(hidden_per_row)).max(1);
        let mlp = |x: Tensor<B, 3>| self.transition2.forward(self.transition1.forward_relu(x));
        if chunk >= rows {
            return mlp(act);
        }
        let pieces = (0..rows)
            .step_by(chunk)
            .map(|s| mlp(act.clone().narrow(0, s, chunk.min(rows - s))))
            .collect();
        Tensor::cat(pieces, 0)
    }
}
