//! The fused gated attention kernel (CubeCL: one source for wgpu and cuda).
//!
//! `out[b, q, h, :] = sigmoid(gate[b, q, h, :]) · Σ_k softmax_k(q·kᵀ + bias + pair_bias) v[b, h, k, :]`
//!
//! One cube serves one (batch, head) and a run of queries, one unit per query. Keys and values
//! are visited in tiles of `key_tile`, staged in shared memory by the whole cube; each unit keeps
//! its query, a running maximum, a running sum and its output row in registers (the online
//! softmax of FlashAttention), so no `[queries, keys]` score matrix exists beyond one tile of
//! one query's scores. The biases are read through their strides: broadcast axes (AlphaFold's
//! mask bias is `[b, 1, 1, k]`, the pair bias `[1, h, q, k]`) have stride 0, and nothing is
//! materialised at full size. Biases carry AlphaFold's masking (−1e9 on masked keys), so a
//! fully masked row comes out with near-uniform weights, exactly as the reference path.
//!
//! Kept in its own module: `cubecl::prelude`'s `Tensor` would shadow burn's.

use cubecl::prelude::*;

/// Below every score the network produces (masked ones are near −1e9), and finite: WGSL has no
/// reliable −∞.
const LOWEST: f32 = -3.0e38;

#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn gated_attention<F: Float>(
    query: &Tensor<F>,     // [B, H, Q, D], already scaled by 1/√D
    key: &Tensor<F>,       // [B, H, K, D]
    value: &Tensor<F>,     // [B, H, K, E]
    bias: &Tensor<F>,      // [B, H, Q, K] view (broadcast axes have stride 0)
    pair_bias: &Tensor<F>, // [B, H, Q, K] view; read only with `has_pair_bias`
    gate: &Tensor<F>,      // [B, Q, H, E] logits; read only with `has_gate`
    out: &mut Tensor<F>,   // [B, Q, H, E], contiguous
    #[comptime] head_dim: usize,
    #[comptime] value_dim: usize,
    #[comptime] key_tile: usize,
    #[comptime] has_pair_bias: bool,
    #[comptime] has_gate: bool,
    #[define(F)] _dtype: StorageType,
) {
    let heads = query.shape(1);
    let num_queries = query.shape(2);
    let num_keys = key.shape(2);
    // (batch, head) pairs beyond the 65,535 a grid axis allows continue on the z axis.
    let batch_head = (CUBE_POS_Z * CUBE_COUNT_Y + CUBE_POS_Y) as usize;
    if batch_head >= query.shape(0) * heads {
        terminate!();
    }
    let b = batch_head / heads;
    let h = batch_head % heads;
    let q_index = CUBE_POS_X as usize * CUBE_DIM_X as usize + UNIT_POS_X as usize;
    let active = q_index < num_queries;
    // Units past the last query still stage tiles and meet the barriers; they read row 0.
    let mut row = 0;
    if active {
        row = q_index;
    }

    let mut q_row = Array::<F>::new(head_dim);
    let q_base = b * query.stride(0) + h * query.stride(1) + row * query.stride(2);
    #[unroll]
    for d in 0..head_dim {
        q_row[d] = query[q_base + d * query.stride(3)];
    }
    let mut acc = Array::<F>::new(value_dim);
    #[unroll]
    for e in 0..value_dim {
        acc[e] = F::new(0.0);
    }
    let mut scores = Array::<F>::new(key_tile);
    let mut running_max = F::new(LOWEST);
    let mut running_sum = F::new(0.0);

    let mut key_tile_mem = SharedMemory::<F>::new(key_tile * head_dim);
    let mut value_tile_mem = SharedMemory::<F>::new(key_tile * value_dim);
    let k_base = b * key.stride(0) + h * key.stride(1);
    let v_base = b * value.stride(0) + h * value.stride(1);
    let bias_base = b * bias.stride(0) + h * bias.stride(1) + row * bias.stride(2);
    let pair_base = b * pair_bias.stride(0) + h * pair_bias.stride(1) + row * pair_bias.stride(2);
    let units = CUBE_DIM_X as usize;

    let num_tiles = num_keys.div_ceil(key_tile);
    for tile in 0..num_tiles {
        let start = tile * key_tile;
        let mut tile_len = num_keys - start;
        if tile_len > key_tile {
            tile_len = key_tile;
        }
        // Stage the tile's keys and values (zeros past the last key).
        let mut i = UNIT_POS_X as usize;
        while i < key_tile * head_dim {
            let j = i / head_dim;
            let mut x = F::new(0.0);
            if j < tile_len {
                x = key[k_base + (start + j) * key.stride(2) + (i % head_dim) * key.stride(3)];
            }
            key_tile_mem[i] = x;
            i += units;
        }
        let mut i = UNIT_POS_X as usize;
        while i < key_tile * value_dim {
            let j = i / value_dim;
            let mut x = F::new(0.0);
            if j < tile_len {
                x = value
                    [v_base + (start + j) * value.stride(2) + (i % value_dim) * value.stride(3)];
            }
            value_tile_mem[i] = x;
            i += units;
        }
        sync_cube();

        let mut tile_max = F::new(LOWEST);
        for j in 0..tile_len {
            let mut s = F::new(0.0);
            #[unroll]
            for d in 0..head_dim {
                s += q_row[d] * key_tile_mem[j * head_dim + d];
            }
            s += bias[bias_base + (start + j) * bias.stride(3)];
            if has_pair_bias {
                s += pair_bias[pair_base + (start + j) * pair_bias.stride(3)];
            }
            scores[j] = s;
            if s > tile_max {
                tile_max = s;
            }
        }
        let mut new_max = running_max;
        if tile_max > new_max {
            new_max = tile_max;
        }
        let rescale = (running_max - new_max).exp();
        running_sum *= rescale;
        #[unroll]
        for e in 0..value_dim {
            acc[e] *= rescale;
        }
        for j in 0..tile_len {
            let p = (scores[j] - new_max).exp();
            running_sum += p;
            #[unroll]
            for e in 0..value_dim {
                acc[e] += p * value_tile_mem[j * value_dim + e];
            }
        }
        running_max = new_max;
        sync_cube();
    }

    if active {
        let out_base = ((b * num_queries + q_index) * heads + h) * value_dim;
        let gate_base = b * gate.stride(0) + q_index * gate.stride(1) + h * gate.stride(2);
        #[unroll]
        for e in 0..value_dim {
            let mut x = acc[e] / running_sum;
            if has_gate {
                let g = gate[gate_base + e * gate.stride(3)];
                x *= F::new(1.0) / (F::new(1.0) + (-g).exp());
            }
            out[out_base + e] = x;
        }
    }
}
