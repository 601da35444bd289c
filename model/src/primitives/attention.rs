//! The one attention implementation every attention of the model uses (AlphaFold's
//! `Attention`), and the global variant of the extra-MSA stack (`GlobalAttention`).
//!
//! Shapes follow AlphaFold: queries `[batch, queries, channels]`, memories
//! `[batch, keys, channels]`; `bias` broadcasts to `[batch, heads, queries, keys]`. The batch
//! axis can be processed in row chunks, and the keys in chunks with a running log-sum-exp
//! ([`Chunking`]); both bound memory, the first changes no number, the second only rounding. On CubeCL backends
//! the fused kernel (`kernels`) replaces [`scaled_dot_product`] and the gate.

use crate::primitives::activation::{sigmoid, softmax_last_axis};
use burn::module::Param;
use burn::prelude::*;

use crate::config::AttentionConfig;
use crate::config::AttentionKernel;
use crate::kernels::{self, AttentionInputs};
use crate::params::{Init, ParamBuilder};
use crate::primitives::linear::matmul_last;
use crate::primitives::{cpu_attention, Chunking};

#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// [q_channels, heads * key_dim]
    pub query_w: Param<Tensor<B, 2>>,
    /// [m_channels, heads * key_dim]
    pub key_w: Param<Tensor<B, 2>>,
    /// [m_channels, heads * value_dim]
    pub value_w: Param<Tensor<B, 2>>,
    /// [q_channels, heads * value_dim]
    pub gating_w: Option<Param<Tensor<B, 2>>>,
    /// [heads * value_dim]
    pub gating_b: Option<Param<Tensor<B, 1>>>,
    /// [heads * value_dim, output]
    pub output_w: Param<Tensor<B, 2>>,
    pub output_b: Param<Tensor<B, 1>>,
    pub num_head: usize,
}

/// Per-head key and value widths, as AlphaFold derives them from the config and inputs.
fn head_dims(config: &AttentionConfig, q_channels: usize, m_channels: usize) -> (usize, usize) {
    let key_dim = config.key_dim.unwrap_or(q_channels);
    let value_dim = config.value_dim.unwrap_or(m_channels);
    (key_dim / config.num_head, value_dim / config.num_head)
}

impl<B: Backend> Attention<B> {
    pub fn new(
        builder: &mut ParamBuilder<B>,
        config: &AttentionConfig,
        q_channels: usize,
        m_channels: usize,
        output: usize,
    ) -> Self {
        Self::build(builder, config, q_channels, m_channels, output, true)
    }

    /// The weights of the module `attention`; with `per_head_key_value` false, keys and values
    /// are one projection shared by all heads (`GlobalAttention`).
    fn build(
        builder: &mut ParamBuilder<B>,
        config: &AttentionConfig,
        q_channels: usize,
        m_channels: usize,
        output: usize,
        per_head_key_value: bool,
    ) -> Self {
        let h = config.num_head;
        let (kd, vd) = head_dims(config, q_channels, m_channels);
        builder.scope("attention", |b| {
            let glorot = |fan_in, fan_out| Init::GlorotUniform { fan_in, fan_out };
            // AlphaFold's shapes: [channels, heads, width] per head, [channels, width] shared.
            let mut projection = |name: &str, channels: usize, width: usize, per_head: bool| {
                let heads = if per_head { h } else { 1 };
                let shape = if per_head { vec![channels, h, width] } else { vec![channels, width] };
                b.param(name, &shape, [channels, heads * width], glorot(channels, heads * width))
            };
            let query_w = projection("query_w", q_channels, kd, true);
            let key_w = projection("key_w", m_channels, kd, per_head_key_value);
            let value_w = projection("value_w", m_channels, vd, per_head_key_value);
            let (gating_w, gating_b) = if config.gating {
                (
                    Some(b.param(
                        "gating_w",
                        &[q_channels, h, vd],
                        [q_channels, h * vd],
                        Init::ZEROS,
                    )),
                    Some(b.param("gating_b", &[h, vd], [h * vd], Init::ONES)),
                )
            } else {
                (None, None)
            };
            let output_w = b.param("output_w", &[h, vd, output], [h * vd, output], Init::ZEROS);
            let output_b = b.param("output_b", &[output], [output], Init::ZEROS);
            Self { query_w, key_w, value_w, gating_w, gating_b, output_w, output_b, num_head: h }
        })
    }

    /// `q_data` [b, q, c], `m_data` [b, k, c], `bias` broadcastable to [b, h, q, k] (its batch
    /// axis is 1 or b), `nonbatched_bias` [h, q, k]. Returns [b, q, output].
    pub fn forward(
        &self,
        q_data: Tensor<B, 3>,
        m_data: Tensor<B, 3>,
        bias: Tensor<B, 4>,
        nonbatched_bias: Option<Tensor<B, 3>>,
        chunking: Chunking,
    ) -> Tensor<B, 3> {
        let batch = q_data.dims()[0];
        let chunk = chunking.rows.unwrap_or(batch).max(1);
        if chunk >= batch {
            return self.forward_unchunked(q_data, m_data, bias, nonbatched_bias, chunking);
        }
        let bias_batched = bias.dims()[0] == batch;
        let pieces = (0..batch)
            .step_by(chunk)
            .map(|start| {
                let len = chunk.min(batch - start);
                let bias_piece =
                    if bias_batched { bias.clone().narrow(0, start, len) } else { bias.clone() };
                self.forward_unchunked(
                    q_data.clone().narrow(0, start, len),
                    m_data.clone().narrow(0, start, len),
                    bias_piece,
                    nonbatched_bias.clone(),
                    chunking,
                )
            })
            .collect();
        Tensor::cat(pieces, 0)
    }

    fn forward_unchunked(
        &self,
        q_data: Tensor<B, 3>,
        m_data: Tensor<B, 3>,
        bias: Tensor<B, 4>,
        nonbatched_bias: Option<Tensor<B, 3>>,
        chunking: Chunking,
    ) -> Tensor<B, 3> {
        let h = self.num_head;
        let [b, nq, _] = q_data.dims();
        let nk = m_data.dims()[1];
        let kd = self.query_w.dims()[1] / h;
        let vd = self.value_w.dims()[1] / h;
        let split_heads =
            |x: Tensor<B, 3>, n: usize, d: usize| x.reshape([b, n, h, d]).swap_dims(1, 2);
        let scale = (kd as f64).powf(-0.5);
        let q = split_heads(matmul_last(q_data.clone(), self.query_w.val(), None), nq, kd);
        let k = split_heads(matmul_last(m_data.clone(), self.key_w.val(), None), nk, kd);
        let v = split_heads(matmul_last(m_data, self.value_w.val(), None), nk, vd);
        let gate_logits = match (&self.gating_w, &self.gating_b) {
            (Some(gw), Some(gb)) => {
                Some(matmul_last(q_data, gw.val(), Some(gb.val())).reshape([b, nq, h, vd]))
            }
            _ => None,
        };
        // [b, q, h, vd]
        let fused = chunking.attention == AttentionKernel::Fused;
        let weighted = if fused && cpu_attention::applies(&q) {
            let pair_bias = nonbatched_bias.map(|nb| nb.unsqueeze::<4>());
            cpu_attention::gated_attention(q, scale as f32, k, v, bias, pair_bias, gate_logits)
        } else if fused && kernels::has_fused_attention(&q) {
            let full = [b, h, nq, nk];
            kernels::fused_attention(AttentionInputs {
                query: q * scale,
                key: k,
                value: v,
                bias: bias.expand(full),
                pair_bias: nonbatched_bias.map(|nb| nb.unsqueeze::<4>().expand(full)),
                gate: gate_logits,
            })
        } else {
            let mut bias = bias;
            if let Some(nb) = nonbatched_bias {
                bias = bias + nb.unsqueeze::<4>();
            }
            let weighted = scaled_dot_product(q * scale, k, v, bias, chunking.keys).swap_dims(1, 2);
            match gate_logits {
                Some(gate) => weighted * sigmoid(gate),
                None => weighted,
            }
        };
        matmul_last(
            weighted.reshape([b, nq, h * vd]),
            self.output_w.val(),
            Some(self.output_b.val()),
        )
    }
}

/// Whether attention on backend `B` runs fused (float32 tensors, as the model makes them):
/// ferrofold's CPU kernel on burn's ndarray backend, its CubeCL kernel on GPU backends.
pub fn fused_attention_available<B: Backend>() -> bool {
    cpu_attention::backend_applies::<B>() || kernels::backend_has_fused_attention::<B>()
}

/// softmax(q kᵀ + bias) v for `q` [b, h, q, d] (already scaled), `k` [b, h, k, d], `v`
/// [b, h, k, dv], `bias` broadcastable to [b, h, q, k]. Reference path; a fused kernel
/// computing the same function can replace it on GPU backends.
///
/// With `key_chunk`, keys and values are visited in chunks of that size with a running maximum
/// and sum (the log-sum-exp recurrence of memory-efficient attention), so the logits never
/// exist for all keys at once; the result equals the unchunked one up to rounding.
pub fn scaled_dot_product<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    bias: Tensor<B, 4>,
    key_chunk: Option<usize>,
) -> Tensor<B, 4> {
    let keys = k.dims()[2];
    let chunk = match key_chunk {
        Some(c) if c > 0 && c < keys => c,
        _ => {
            let logits = q.matmul(k.swap_dims(2, 3)) + bias;
            return softmax_last_axis(logits).matmul(v);
        }
    };
    let mut running: Option<(Tensor<B, 4>, Tensor<B, 4>, Tensor<B, 4>)> = None; // (max, sum, acc)
    for start in (0..keys).step_by(chunk) {
        let len = chunk.min(keys - start);
        let logits = q.clone().matmul(k.clone().narrow(2, start, len).swap_dims(2, 3))
            + bias.clone().narrow(3, start, len);
        let v_chunk = v.clone().narrow(2, start, len);
        let chunk_max = logits.clone().max_dim(3);
        running = Some(match running {
            None => {
                let p = (logits - chunk_max.clone()).exp();
                (chunk_max, p.clone().sum_dim(3), p.matmul(v_chunk))
            }
            Some((max, sum, acc)) => {
                let new_max = max.clone().max_pair(chunk_max);
                let rescale = (max - new_max.clone()).exp();
                let p = (logits - new_max.clone()).exp();
                (
                    new_max,
                    sum * rescale.clone() + p.clone().sum_dim(3),
                    acc * rescale + p.matmul(v_chunk),
                )
            }
        });
    }
    let (_, sum, acc) = running.expect("at least one key chunk");
    acc / sum
}

/// AlphaFold's `GlobalAttention`: one query per column (the masked mean of the queries), keys and
/// values shared by all heads (`key_w` [m_channels, key_dim], `value_w` [m_channels, value_dim]).
#[derive(Module, Debug)]
pub struct GlobalAttention<B: Backend> {
    pub weights: Attention<B>,
}

impl<B: Backend> GlobalAttention<B> {
    pub fn new(
        builder: &mut ParamBuilder<B>,
        config: &AttentionConfig,
        q_channels: usize,
        m_channels: usize,
        output: usize,
    ) -> Self {
        Self { weights: Attention::build(builder, config, q_channels, m_channels, output, false) }
    }

    /// `q_data` = `m_data` [b, n, c], `q_mask` [b, n]. Returns [b, n, output].
    pub fn forward(
        &self,
        q_data: Tensor<B, 3>,
        m_data: Tensor<B, 3>,
        q_mask: Tensor<B, 2>,
    ) -> Tensor<B, 3> {
        let w = &self.weights;
        let h = w.num_head;
        let [b, nq, _] = q_data.dims();
        let kd = w.key_w.dims()[1];
        let vd = w.value_w.dims()[1];
        let mask = q_mask.unsqueeze_dim::<3>(2); // [b, n, 1]
        let v = matmul_last(m_data.clone(), w.value_w.val(), None); // [b, k, vd]
        let q_avg = (mask.clone() * q_data.clone()).sum_dim(1) / (mask.clone().sum_dim(1) + 1e-10); // [b, 1, c]
        let q =
            matmul_last(q_avg, w.query_w.val(), None).reshape([b, h, kd]) * (kd as f64).powf(-0.5);
        let k = matmul_last(m_data, w.key_w.val(), None); // [b, k, kd]
        let bias = (mask.swap_dims(1, 2) - 1.0) * 1e9; // [b, 1, k]
        let logits = q.matmul(k.swap_dims(1, 2)) + bias; // [b, h, k]
        let weighted = softmax_last_axis(logits).matmul(v); // [b, h, vd]
        match (&w.gating_w, &w.gating_b) {
            (Some(gw), Some(gb)) => {
                let gate =
                    sigmoid(matmul_last(q_data, gw.val(), Some(gb.val()))).reshape([b, nq, h, vd]);
                let weighted = weighted.unsqueeze_dim::<4>(1) * gate; // [b, q, h, vd]
                matmul_last(
                    weighted.reshape([b, nq, h * vd]),
                    w.output_w.val(),
                    Some(w.output_b.val()),
                )
            }
            _ => matmul_last(
                weighted.reshape([b, 1, h * vd]),
                w.output_w.val(),
                Some(w.output_b.val()),
            )
            .expand([b, nq, w.output_b.dims()[0]]),
        }
    }
}
