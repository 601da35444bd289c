//! AlphaFold's gated attention fused for the CPU (float32 `NdArray` tensors): per (batch, head)
//! and block of queries, `sigmoid(g) ⊙ softmax(q·kᵀ + bias + pair_bias) · v` with the scores of
//! that block only, q, k and v read where the projections left them (any strides: no permute
//! copies) and the biases read through their broadcast (never expanded to [b, h, q, k]).
//! Blocks run on rayon's threads; each block's arithmetic is the same whatever the thread count.
//!
//! The reference is burn's operations (`attention::scaled_dot_product`), which float64, autodiff
//! and other backends keep; tested against it below and, through the whole network, against
//! DeepMind's outputs.

use std::any::TypeId;

use burn::prelude::*;
use burn::tensor::DType;
use ndarray::{ArcArray, IxDyn};
use rayon::prelude::*;

use super::cpu_kernels::{
    from_f32_array, into_f32_array, logistic, softmax_row, standard_layout, vectorised,
};
use crate::CpuF32;

/// Queries per block: their scores, `QUERY_BLOCK × keys` floats, are all of the logits that
/// exist at once.
const QUERY_BLOCK: usize = 32;

/// Whether [`gated_attention`] runs on backend `B` (float32 tensors).
pub(crate) fn backend_applies<B: Backend>() -> bool {
    TypeId::of::<B>() == TypeId::of::<CpuF32>()
}

/// Whether [`gated_attention`] runs on tensors like `probe`.
pub(crate) fn applies<B: Backend>(probe: &Tensor<B, 4>) -> bool {
    backend_applies::<B>() && probe.dtype() == DType::F32
}

/// A float32 array of a tensor of `B`, where [`applies`] held.
fn array<B: Backend>(tensor: Tensor<B, 4>) -> ArcArray<f32, IxDyn> {
    into_f32_array(tensor).unwrap_or_else(|_| panic!("cpu attention on a float32 NdArray tensor"))
}

/// A 4-D array's pointer and element strides, 0 along axes of length 1 (broadcast).
struct Strided {
    array: ArcArray<f32, IxDyn>,
    strides: [isize; 4],
}

impl Strided {
    fn new(array: ArcArray<f32, IxDyn>) -> Self {
        let mut strides = [0; 4];
        for (axis, stride) in strides.iter_mut().enumerate() {
            if array.shape()[axis] > 1 {
                *stride = array.strides()[axis];
            }
        }
        Self { array, strides }
    }

    /// The offset of element [a, b, c, 0].
    fn offset(&self, a: usize, b: usize, c: usize) -> isize {
        a as isize * self.strides[0] + b as isize * self.strides[1] + c as isize * self.strides[2]
    }

    /// [`Strided::new`] of `array`, copied into standard layout first if its last axis (longer
    /// than 1) is not contiguous.
    fn contiguous_rows(array: ArcArray<f32, IxDyn>) -> Self {
        let last = array.ndim() - 1;
        if array.shape()[last] > 1 && array.strides()[last] != 1 {
            Self::new(standard_layout(array))
        } else {
            Self::new(array)
        }
    }

    fn ptr(&self) -> *const f32 {
        self.array.as_ptr()
    }
}

/// `query` [b, h, q, d] (the logits are `scale · q · kᵀ`: the GEMM scales, no pass over q),
/// `key` [b, h, k, d], `value` [b, h, k, e]; `bias` and `pair_bias` broadcastable to
/// [b, h, q, k]; `gate` [b, q, h, e] (logits). Returns [b, q, h, e]. Call only where
/// [`applies`] holds.
pub(crate) fn gated_attention<B: Backend>(
    query: Tensor<B, 4>,
    scale: f32,
    key: Tensor<B, 4>,
    value: Tensor<B, 4>,
    bias: Tensor<B, 4>,
    pair_bias: Option<Tensor<B, 4>>,
    gate: Option<Tensor<B, 4>>,
) -> Tensor<B, 4> {
    let [batch, heads, queries, depth] = query.dims();
    let keys = key.dims()[2];
    let width = value.dims()[3];
    let (query, key, value) =
        (Strided::new(array(query)), Strided::new(array(key)), Strided::new(array(value)));
    // Each bias row is read once per query block of every batch row or head that shares it: a
    // bias whose keys are not contiguous (the pair bias, heads last until permuted) is copied
    // once, so that those reads, and the gate's, are contiguous slices.
    let biases: Vec<Strided> = std::iter::once(bias)
        .chain(pair_bias)
        .map(|b| Strided::contiguous_rows(array(b)))
        .collect();
    let gate = gate.map(|g| Strided::contiguous_rows(array(g)));

    let blocks = queries.div_ceil(QUERY_BLOCK);
    let tasks: Vec<(usize, usize, usize)> = (0..batch)
        .flat_map(|b| (0..heads).flat_map(move |h| (0..blocks).map(move |k| (b, h, k))))
        .collect();
    // [b, q, h, e]: each task writes its block's rows of its head, straight from the GEMM.
    let mut output = vec![0f32; batch * queries * heads * width];
    let output_ptr = output.as_mut_ptr() as usize;
    let row_stride = (heads * width) as isize;
    tasks.par_iter().for_each(|&(b, h, block)| {
        vectorised(
            #[inline(always)]
            || {
                let first = block * QUERY_BLOCK;
                let rows = QUERY_BLOCK.min(queries - first);
                let mut scores = vec![0f32; rows * keys];
                for (r, row) in scores.chunks_mut(keys.max(1)).enumerate().take(rows) {
                    for bias in &biases {
                        let start = bias.offset(b, h, first + r);
                        let step = bias.strides[3];
                        // SAFETY: in bounds of `bias`, whose last axis has `keys` elements, contiguous
                        // (step 1), or 1 (step 0).
                        unsafe {
                            let base = bias.ptr().offset(start);
                            if step == 0 {
                                for s in row.iter_mut() {
                                    *s += *base;
                                }
                            } else {
                                let bias_row = std::slice::from_raw_parts(base, keys);
                                for (s, b) in row.iter_mut().zip(bias_row) {
                                    *s += b;
                                }
                            }
                        }
                    }
                }
                // scores += scale · q_block · kᵀ
                // SAFETY: every pointer, length and stride describes a block inside its array.
                unsafe {
                    matrixmultiply::sgemm(
                        rows,
                        depth,
                        keys,
                        scale,
                        query.ptr().offset(query.offset(b, h, first)),
                        query.strides[2],
                        query.strides[3],
                        key.ptr().offset(key.offset(b, h, 0)),
                        key.strides[3],
                        key.strides[2],
                        1.0,
                        scores.as_mut_ptr(),
                        keys as isize,
                        1,
                    );
                }
                for row in scores.chunks_mut(keys.max(1)).take(rows) {
                    softmax_row(row);
                }
                // SAFETY: as above; the block's rows of head `h` in `output`, which no other task
                // writes.
                let out = unsafe {
                    (output_ptr as *mut f32).add(((b * queries + first) * heads + h) * width)
                };
                unsafe {
                    matrixmultiply::sgemm(
                        rows,
                        keys,
                        width,
                        1.0,
                        scores.as_ptr(),
                        keys as isize,
                        1,
                        value.ptr().offset(value.offset(b, h, 0)),
                        value.strides[2],
                        value.strides[3],
                        0.0,
                        out,
                        row_stride,
                        1,
                    );
                }
                if let Some(gate) = &gate {
                    for r in 0..rows {
                        // gate is [b, q, h, e]: the query is its second axis.
                        let start = gate.offset(b, first + r, h);
                        // SAFETY: `width` contiguous elements of `gate`'s last axis, and of this
                        // task's row.
                        unsafe {
                            let row = std::slice::from_raw_parts_mut(
                                out.offset(r as isize * row_stride),
                                width,
                            );
                            let gate_row =
                                std::slice::from_raw_parts(gate.ptr().offset(start), width);
                            for (o, &g) in row.iter_mut().zip(gate_row) {
                                *o *= logistic(g);
                            }
                        }
                    }
                }
            },
        )
    });
    let output = ndarray::Array4::from_shape_vec((batch, queries, heads, width), output)
        .expect("its own size");
    from_f32_array(output.into_dyn().into_shared())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::float_options;
    use crate::primitives::activation::sigmoid;
    use crate::primitives::attention::scaled_dot_product;
    use burn::tensor::Distribution;

    // Explicit dtypes: the process-wide default is fixed by whichever test runs first.
    fn random(shape: [usize; 4]) -> Tensor<CpuF32, 4> {
        let options = float_options::<CpuF32>(&Default::default());
        Tensor::random(shape, Distribution::Normal(0.0, 1.0), options)
    }

    /// The fused kernel against burn's operations: broadcast biases (AlphaFold's mask bias
    /// [b, 1, 1, k] and a permuted pair bias [1, h, q, k]), strided q/k/v (heads split by swapping
    /// axes, as the projections leave them), a gate, more queries than a block, and a fully
    /// masked row (uniform weights, as AlphaFold's −1e9 bias gives).
    #[test]
    fn fused_cpu_attention_equals_burns_operations() {
        let (b, h, q, k, d, e) = (2, 3, 37, 45, 8, 6);
        let query = random([b, q, h, d]).swap_dims(1, 2);
        let key = random([b, k, h, d]).swap_dims(1, 2);
        let value = random([b, k, h, e]).swap_dims(1, 2);
        // Batch 0: every key masked; batch 1: every third key.
        let mask: Vec<f32> = (0..b * k).map(|i| f32::from(i >= k && i % 3 != 0)).collect();
        let data = burn::tensor::TensorData::new(mask, [b * k]);
        let mask =
            Tensor::<CpuF32, 1>::from_data(data, float_options::<CpuF32>(&Default::default()));
        let bias = (mask.reshape([b, 1, 1, k]) - 1.0) * 1e9;
        // Heads last, as the pair bias's projection leaves it: keys not contiguous.
        let pair = random([1, q, k, h]).permute([0, 3, 1, 2]);
        let gate = random([b, q, h, e]);

        let scale = 0.3;
        let fused = gated_attention(
            query.clone(),
            scale,
            key.clone(),
            value.clone(),
            bias.clone(),
            Some(pair.clone()),
            Some(gate.clone()),
        );
        let reference = scaled_dot_product(query * f64::from(scale), key, value, bias + pair, None)
            .swap_dims(1, 2)
            * sigmoid(gate);
        let difference = (fused - reference).abs().max().into_scalar();
        assert!(difference < 1e-5, "max difference {difference}");
    }
}
