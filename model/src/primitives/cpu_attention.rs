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

use super::cpu_gemm::{PackedWeights, Store};
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

/// The right-hand matrix of a task's products (kᵀ, v), `[depth, width]` with any strides: packed
/// once for the AVX-512 kernel where the CPU has it, else read in place by matrixmultiply.
struct Operand {
    matrix: *const f32,
    shape: [usize; 2],
    strides: [isize; 2],
    packed: Option<PackedWeights>,
}

impl Operand {
    /// # Safety
    /// Every element of the described matrix is readable while the operand lives.
    unsafe fn new(matrix: *const f32, shape: [usize; 2], strides: [isize; 2]) -> Self {
        let packed = PackedWeights::from_raw(matrix, shape[0], shape[1], strides[0], strides[1]);
        Self { matrix, shape, strides, packed }
    }

    /// `out ← scale · lhs · self`, plus what `out` held where `accumulate`: `lhs` is `rows` rows
    /// with these strides, `out` `rows` rows of `shape[1]` floats, `out_stride` apart.
    ///
    /// # Safety
    /// Those elements are readable (`lhs`) and writable and, where `accumulate`, initialised
    /// (`out`).
    #[allow(clippy::too_many_arguments)]
    unsafe fn multiply(
        &self,
        rows: usize,
        lhs: *const f32,
        lhs_strides: [isize; 2],
        out: *mut f32,
        out_stride: usize,
        scale: f32,
        accumulate: bool,
    ) {
        let [depth, width] = self.shape;
        match &self.packed {
            Some(packed) if lhs_strides[1] == 1 || depth == 1 => {
                let store = Store { scale, accumulate, ..Store::PLAIN };
                packed.multiply(rows, lhs, lhs_strides[0], out, out_stride, store)
            }
            _ => matrixmultiply::sgemm(
                rows,
                depth,
                width,
                scale,
                lhs,
                lhs_strides[0],
                lhs_strides[1],
                self.matrix,
                self.strides[0],
                self.strides[1],
                if accumulate { 1.0 } else { 0.0 },
                out,
                out_stride as isize,
                1,
            ),
        }
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

    // A task per (batch row, head) packs that head's keys and values once for all its query
    // blocks; where there are few of those, a task per query block keeps every core busy.
    let blocks = queries.div_ceil(QUERY_BLOCK);
    let blocks_per_task = if batch * heads >= 16 { blocks.max(1) } else { 1 };
    let tasks: Vec<(usize, usize, usize)> = (0..batch)
        .flat_map(|b| {
            (0..heads)
                .flat_map(move |h| (0..blocks).step_by(blocks_per_task).map(move |k| (b, h, k)))
        })
        .collect();
    // [b, q, h, e]: each task writes its blocks' rows of its head, straight from the GEMM.
    let mut output = Vec::<f32>::with_capacity(batch * queries * heads * width);
    let output_ptr = output.as_mut_ptr() as usize;
    let row_stride = heads * width;
    tasks.par_iter().for_each(|&(b, h, first_block)| {
        vectorised(
            #[inline(always)]
            || {
                // SAFETY: head h of batch row b of `key` ([keys, depth]) and `value`
                // ([keys, width]), read as kᵀ and v.
                let (key_t, value) = unsafe {
                    (
                        Operand::new(
                            key.ptr().offset(key.offset(b, h, 0)),
                            [depth, keys],
                            [key.strides[3], key.strides[2]],
                        ),
                        Operand::new(
                            value.ptr().offset(value.offset(b, h, 0)),
                            [keys, width],
                            [value.strides[2], value.strides[3]],
                        ),
                    )
                };
                let mut scores = vec![0f32; QUERY_BLOCK.min(queries) * keys];
                let last_block = blocks.min(first_block + blocks_per_task);
                for block in first_block..last_block {
                    let first = block * QUERY_BLOCK;
                    let rows = QUERY_BLOCK.min(queries - first);
                    for (r, row) in scores.chunks_mut(keys.max(1)).enumerate().take(rows) {
                        row.fill(0.0);
                        for bias in &biases {
                            let start = bias.offset(b, h, first + r);
                            let step = bias.strides[3];
                            // SAFETY: in bounds of `bias`, whose last axis has `keys` elements,
                            // contiguous (step 1), or 1 (step 0).
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
                    // SAFETY: the block's query rows; `scores` holds rows × keys.
                    unsafe {
                        key_t.multiply(
                            rows,
                            query.ptr().offset(query.offset(b, h, first)),
                            [query.strides[2], query.strides[3]],
                            scores.as_mut_ptr(),
                            keys,
                            scale,
                            true,
                        );
                    }
                    for row in scores.chunks_mut(keys.max(1)).take(rows) {
                        softmax_row(row);
                    }
                    // SAFETY: the block's rows of head `h` in `output`, which no other task
                    // writes.
                    let out = unsafe {
                        (output_ptr as *mut f32).add(((b * queries + first) * heads + h) * width)
                    };
                    // out = weights · v
                    // SAFETY: as above.
                    unsafe {
                        value.multiply(
                            rows,
                            scores.as_ptr(),
                            [keys as isize, 1],
                            out,
                            row_stride,
                            1.0,
                            false,
                        );
                    }
                    if let Some(gate) = &gate {
                        for r in 0..rows {
                            // gate is [b, q, h, e]: the query is its second axis.
                            let start = gate.offset(b, first + r, h);
                            // SAFETY: `width` contiguous elements of `gate`'s last axis, and of
                            // this task's row.
                            unsafe {
                                let row =
                                    std::slice::from_raw_parts_mut(out.add(r * row_stride), width);
                                let gate_row =
                                    std::slice::from_raw_parts(gate.ptr().offset(start), width);
                                for (o, &g) in row.iter_mut().zip(gate_row) {
                                    *o *= logistic(g);
                                }
                            }
                        }
                    }
                }
            },
        )
    });
    // SAFETY: the tasks wrote every element: each (batch row, query, head) once.
    unsafe { output.set_len(batch * queries * heads * width) };
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
        // A task per query block (few batch rows × heads) and a task per batch row and head.
        for (b, h) in [(2, 3), (6, 3)] {
            fused_cpu_attention_equals_burns_operations_for(b, h);
        }
    }

    fn fused_cpu_attention_equals_burns_operations_for(b: usize, h: usize) {
        let (q, k, d, e) = (37, 45, 8, 6);
        let query = random([b, q, h, d]).swap_dims(1, 2);
        let key = random([b, k, h, d]).swap_dims(1, 2);
        let value = random([b, k, h, e]).swap_dims(1, 2);
        // Batch 0: every key masked; the others: every third key.
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
        assert!(difference < 1e-5, "{b} batch rows, {h} heads: max difference {difference}");
    }
}
