//! Fused, multi-threaded float32 kernels for burn's ndarray CPU backend.
//!
//! burn-ndarray runs every element-wise operation as its own single-threaded pass over memory: a
//! layer norm is eight of them, a softmax five (its maximum an argmax plus a gather). Profiled on
//! `predict`, such passes took a large share of the wall time, on one core, while the matmuls
//! used all (bench/RESULTS.md has the profile). Each kernel here does the same arithmetic in one pass per row, rows
//! spread over rayon's threads.
//!
//! The model stays generic over the backend: each kernel takes the tensor, and gives it back
//! untouched unless it is a plain `NdArray` float32 tensor. Autodiff tensors (training) and
//! float64 (the verification precision) keep burn's operations, so gradients and the float64
//! parity are unchanged; float32 results differ from burn's only in summation order.

use std::any::Any;

use burn::backend::ndarray::NdArrayTensor;
use burn::prelude::*;
use burn::tensor::TensorPrimitive;
use ndarray::{ArcArray, ArrayD, ArrayView2, Ix2, IxDyn};

use super::cpu_gemm;
use rayon::prelude::*;

/// Elements per rayon task: below this, splitting costs more than it saves.
const ELEMENTS_PER_TASK: usize = 1 << 14;

/// e^x for float32 within about 2 ulp (Cephes' `expf`: x = n·ln 2 + r, |r| ≤ ln 2 / 2, a degree-6
/// polynomial in r, times 2ⁿ), in straight-line arithmetic that the compiler vectorises, where
/// the C library's `expf` is a call per element. x is clamped to [−87, 88]: below, the result is
/// about 1.6e-38 instead of 0 (softmax over −1e9-masked logits, sigmoid of very large inputs: no
/// visible difference).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 in two parts, so that n·LN2_HIGH is exact.
    const LN2_HIGH: f32 = 0.693_359_4;
    const LN2_LOW: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let rounded = x * LOG2_E + ROUND;
    let n = rounded - ROUND;
    let r = x - n * LN2_HIGH - n * LN2_LOW;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * power_of_two(rounded)
}

/// 1.5·2²³: adding and subtracting it rounds a float32 of magnitude below 2²² to the nearest
/// integer, which the sum then holds in its last bits, in two's complement.
const ROUND: f32 = 12_582_912.0;

/// 2ⁿ for `rounded` = [`ROUND`] + n, n in [−126, 127], from `rounded`'s bits: n + 127 (in
/// [1, 254]) shifted into the exponent field, the shift dropping the bits of `ROUND`. Not from
/// `n as i32`: Rust's float-to-integer cast saturates and maps NaN to 0, which the compiler
/// does lane by lane in scalar code, where this stays in vector registers.
#[inline(always)]
fn power_of_two(rounded: f32) -> f32 {
    f32::from_bits(rounded.to_bits().wrapping_add(127) << 23)
}

/// Runs `work` inside a function compiled for AVX2 where this CPU has it, so that the loops
/// inlined into it use 8-wide vectors instead of the 4 of x86-64's baseline (SSE2), for which
/// the crate is compiled. The arithmetic is the same IEEE operations either way (Rust fuses no
/// multiply and add unless asked), so results do not depend on the CPU.
#[inline(always)]
pub(crate) fn vectorised<R>(work: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        fn avx2<R>(work: impl FnOnce() -> R) -> R {
            work()
        }
        // SAFETY: this CPU has AVX2 (checked above).
        return unsafe { avx2(work) };
    }
    work()
}

/// Partial sums (or maxima) of a row: this many, interleaved, so that the compiler keeps them in
/// one vector register. The order of the additions is fixed, not the row's, so a row's sum is
/// the same on every thread count and CPU.
const LANES: usize = 16;

/// `f(x)` summed over `row`, in [`LANES`] interleaved partial sums.
#[inline(always)]
fn sum_of(row: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut lanes = [0f32; LANES];
    let chunks = row.chunks_exact(LANES);
    let rest: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane += f(x);
        }
    }
    lanes.iter().sum::<f32>() + rest
}

/// The largest element of `row` (−∞ if empty), in [`LANES`] interleaved maxima.
#[inline(always)]
fn max_of(row: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = row.chunks_exact(LANES);
    let rest = chunks.remainder().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane = lane.max(x);
        }
    }
    lanes.iter().copied().fold(rest, f32::max)
}

/// softmax of one row, in place: exp(x − max) / Σ exp(x − max).
#[inline(always)]
pub(crate) fn softmax_row(row: &mut [f32]) {
    let max = max_of(row);
    for x in row.iter_mut() {
        *x = exp(*x - max);
    }
    let inverse = 1.0 / sum_of(row, |x| x);
    for x in row.iter_mut() {
        *x *= inverse;
    }
}

/// The tensor's float32 array if `B` is burn's plain ndarray backend; otherwise the tensor back.
pub(crate) fn into_f32_array<B: Backend, const D: usize>(
    tensor: Tensor<B, D>,
) -> Result<ArcArray<f32, IxDyn>, Tensor<B, D>> {
    let primitive: Box<dyn Any> = Box::new(tensor.into_primitive().tensor());
    match primitive.downcast::<NdArrayTensor>() {
        Ok(ndarray) => match *ndarray {
            NdArrayTensor::F32(storage) => Ok(storage.into_shared()),
            other => Err(from_primitive(Box::new(other))),
        },
        Err(primitive) => Err(from_primitive(primitive)),
    }
}

/// Both tensors' float32 arrays (see [`into_f32_array`]); otherwise both tensors back.
#[allow(clippy::type_complexity)]
pub(crate) fn into_f32_arrays<B: Backend, const D: usize>(
    a: Tensor<B, D>,
    b: Tensor<B, D>,
) -> Result<(ArcArray<f32, IxDyn>, ArcArray<f32, IxDyn>), (Tensor<B, D>, Tensor<B, D>)> {
    match (into_f32_array(a), into_f32_array(b)) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (a, b) => Err((a.map_or_else(|a| a, from_f32_array), b.map_or_else(|b| b, from_f32_array))),
    }
}

fn from_primitive<B: Backend, const D: usize>(primitive: Box<dyn Any>) -> Tensor<B, D> {
    let primitive = primitive
        .downcast::<B::FloatTensorPrimitive>()
        .expect("a primitive taken from a tensor of this backend");
    Tensor::from_primitive(TensorPrimitive::Float(*primitive))
}

/// Wraps a float32 array as a tensor of `B`; only called where `B` is the ndarray backend.
pub(crate) fn from_f32_array<B: Backend, const D: usize>(
    array: ArcArray<f32, IxDyn>,
) -> Tensor<B, D> {
    from_primitive(Box::new(NdArrayTensor::from(array)))
}

/// Applies `row_fn` to every row (last axis) of a standard-layout copy of `array` that this
/// function owns (no copy when the array is contiguous and unshared), rows spread over threads.
fn map_rows<B: Backend, const D: usize>(
    array: ArcArray<f32, IxDyn>,
    row_fn: impl Fn(&mut [f32]) + Sync + Send,
) -> Tensor<B, D> {
    map_rows_indexed(
        array,
        #[inline(always)]
        |_, row| row_fn(row),
    )
}

/// [`map_rows`] with each row's index.
fn map_rows_indexed<B: Backend, const D: usize>(
    array: ArcArray<f32, IxDyn>,
    row_fn: impl Fn(usize, &mut [f32]) + Sync + Send,
) -> Tensor<B, D> {
    let mut array: ArrayD<f32> = standard_layout(array).into_owned();
    let width = array.shape().last().copied().unwrap_or(1);
    for_each_row(array.as_slice_mut().expect("standard layout"), width, row_fn);
    from_f32_array(array.into_shared())
}

/// Applies `row_fn` to every row of `width` elements of `data` with the row's index: tasks of
/// [`ELEMENTS_PER_TASK`] over rayon's threads, each [`vectorised`].
fn for_each_row(data: &mut [f32], width: usize, row_fn: impl Fn(usize, &mut [f32]) + Sync + Send) {
    let width = width.max(1);
    let rows_per_task = (ELEMENTS_PER_TASK / width).max(1);
    data.par_chunks_mut(width * rows_per_task).enumerate().for_each(|(task, rows)| {
        vectorised(
            #[inline(always)]
            || {
                for (index, row) in rows.chunks_mut(width).enumerate() {
                    row_fn(task * rows_per_task + index, row);
                }
            },
        )
    });
}

/// 1 / (1 + e^(−x)).
#[inline(always)]
pub(crate) fn logistic(x: f32) -> f32 {
    1.0 / (exp(-x) + 1.0)
}

/// A parameter vector as float32 values (`None` if it is not float32).
fn values<B: Backend>(vector: &Tensor<B, 1>) -> Option<Vec<f32>> {
    vector.to_data().to_vec::<f32>().ok()
}

/// `(x − mean) / sqrt(var + 1e-5) · scale + offset` over the last axis (haiku's LayerNorm).
pub(crate) fn layer_norm<B: Backend, const D: usize>(
    input: Tensor<B, D>,
    scale: &Tensor<B, 1>,
    offset: &Tensor<B, 1>,
) -> Result<Tensor<B, D>, Tensor<B, D>> {
    let input = into_f32_array(input)?;
    let (Some(scale), Some(offset)) = (values(scale), values(offset)) else {
        return Err(from_f32_array(input));
    };
    Ok(map_rows(
        input,
        #[inline(always)]
        |row| {
            let n = row.len() as f32;
            let mean = sum_of(row, |x| x) / n;
            let variance = sum_of(row, |x| (x - mean) * (x - mean)) / n;
            let inverse = 1.0 / (variance + 1e-5).sqrt();
            for ((x, s), o) in row.iter_mut().zip(&scale).zip(&offset) {
                *x = (*x - mean) * (inverse * s) + o;
            }
        },
    ))
}

/// softmax over the last axis: exp(x − max) / Σ exp(x − max).
pub(crate) fn softmax_last<B: Backend, const D: usize>(
    logits: Tensor<B, D>,
) -> Result<Tensor<B, D>, Tensor<B, D>> {
    Ok(map_rows(into_f32_array(logits)?, softmax_row))
}

/// 1 / (1 + e^(−x)), element-wise.
pub(crate) fn sigmoid<B: Backend, const D: usize>(
    x: Tensor<B, D>,
) -> Result<Tensor<B, D>, Tensor<B, D>> {
    Ok(map_rows(
        into_f32_array(x)?,
        #[inline(always)]
        |row| {
            for x in row.iter_mut() {
                *x = logistic(*x);
            }
        },
    ))
}

/// `input @ weights + bias` (then ReLU with `relu`) for `input` `[rows, in]` and `weights`
/// `[in, out]`, on ferrofold's AVX-512 kernel ([`cpu_gemm`]) where it applies, else
/// [`linear_with_matrixmultiply`].
pub(crate) fn linear<B: Backend>(
    input: Tensor<B, 2>,
    weights: &Tensor<B, 2>,
    bias: Option<&Tensor<B, 1>>,
    relu: bool,
) -> Result<Tensor<B, 2>, Tensor<B, 2>> {
    let input = into_f32_array(input)?;
    let (Ok(weights), bias) =
        (into_f32_array(weights.clone()), bias.map(|b| values(b).ok_or(())).transpose())
    else {
        return Err(from_f32_array(input));
    };
    let Ok(bias) = bias else { return Err(from_f32_array(input)) };
    let [input, weights] =
        [&input, &weights].map(|a| a.view().into_dimensionality::<Ix2>().expect("a matrix"));
    let (rows, width) = (input.dim().0, weights.dim().1);
    let mut out = Vec::<f32>::with_capacity(rows * width);
    if cpu_gemm::linear(input, weights, bias.as_deref(), relu, out.spare_capacity_mut()) {
        // SAFETY: the kernel wrote every element.
        unsafe { out.set_len(rows * width) };
    } else {
        out = linear_with_matrixmultiply(input, weights, bias.as_deref(), relu);
    }
    let out = ArrayD::from_shape_vec(IxDyn(&[rows, width]), out).expect("its own size");
    Ok(from_f32_array(out.into_shared()))
}

/// [`linear`] with matrixmultiply (CPUs without AVX-512, inputs whose rows are not contiguous):
/// the GEMM writes an output that no pass zero-filled first, and the bias and the ReLU are one
/// threaded pass after it.
pub(crate) fn linear_with_matrixmultiply(
    input: ArrayView2<f32>,
    weights: ArrayView2<f32>,
    bias: Option<&[f32]>,
    relu: bool,
) -> Vec<f32> {
    let ((rows, depth), width) = (input.dim(), weights.dim().1);
    let mut out = Vec::<f32>::with_capacity(rows * width);
    let (is, ws) = (input.strides(), weights.strides());
    // SAFETY: the pointers and strides describe `input`, `weights` and `out` as they are; with
    // β = 0 the GEMM writes every element of `out` without reading it.
    unsafe {
        matrixmultiply::sgemm(
            rows,
            depth,
            width,
            1.0,
            input.as_ptr(),
            is[0],
            is[1],
            weights.as_ptr(),
            ws[0],
            ws[1],
            0.0,
            out.as_mut_ptr(),
            width as isize,
            1,
        );
        out.set_len(rows * width);
    }
    if bias.is_some() || relu {
        for_each_row(
            &mut out,
            width,
            #[inline(always)]
            |_, row| {
                if let Some(bias) = bias {
                    for (x, b) in row.iter_mut().zip(bias) {
                        *x += b;
                    }
                }
                if relu {
                    for x in row.iter_mut() {
                        *x = x.max(0.0);
                    }
                }
            },
        );
    }
    out
}

/// `a + b` for tensors of one shape, in one threaded pass (into `a`'s buffer where `a` holds it
/// alone).
pub(crate) fn add<B: Backend, const D: usize>(
    a: Tensor<B, D>,
    b: Tensor<B, D>,
) -> Result<Tensor<B, D>, (Tensor<B, D>, Tensor<B, D>)> {
    if a.dims() != b.dims() {
        return Err((a, b));
    }
    let (a, b) = into_f32_arrays(a, b)?;
    let b = standard_layout(b);
    let b = b.as_slice().expect("standard layout");
    let width = a.shape().last().copied().unwrap_or(1).max(1);
    Ok(map_rows_indexed(
        a,
        #[inline(always)]
        |index, row| {
            for (x, y) in row.iter_mut().zip(&b[index * width..][..width]) {
                *x += y;
            }
        },
    ))
}

/// `mask ⊙ x ⊙ sigmoid(gate)` for `x` and `gate` of one shape `[a, b, c]` and `mask` `[a, b]`
/// (broadcast over the channels; `None`: no mask), in one pass over rows spread over threads.
pub(crate) fn masked_gate<B: Backend>(
    x: Tensor<B, 3>,
    gate: Tensor<B, 3>,
    mask: Option<Tensor<B, 2>>,
) -> Result<Tensor<B, 3>, (Tensor<B, 3>, Tensor<B, 3>)> {
    let (x, gate) = into_f32_arrays(x, gate)?;
    let mask = match mask.map(|m| m.to_data().to_vec::<f32>()) {
        Some(Ok(mask)) => Some(mask),
        Some(Err(_)) => return Err((from_f32_array(x), from_f32_array(gate))),
        None => None,
    };
    let gate = standard_layout(gate);
    let gate = gate.as_slice().expect("standard layout");
    let width = x.shape().last().copied().unwrap_or(1).max(1);
    Ok(map_rows_indexed(
        x,
        #[inline(always)]
        |row_index, row| {
            let factor = mask.as_ref().map_or(1.0, |m| m[row_index]);
            let gate = &gate[row_index * width..][..width];
            for (x, g) in row.iter_mut().zip(gate) {
                *x *= factor / (exp(-g) + 1.0);
            }
        },
    ))
}

/// `array` in standard layout, copied (over threads) only if it is not.
pub(crate) fn standard_layout(array: ArcArray<f32, IxDyn>) -> ArcArray<f32, IxDyn> {
    if array.is_standard_layout() {
        array
    } else {
        burn_ndarray::standard_layout_copy(&array).into_shared()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::host::float_options;
    use crate::primitives::activation::{sigmoid, softmax_last_axis};
    use crate::primitives::linear::matmul_last;
    use crate::primitives::LayerNorm;
    use crate::{CpuF32, CpuF64};
    use burn::backend::Autodiff;
    use burn::module::Param;
    use burn::tensor::{Distribution, TensorData};

    /// Autodiff tensors take burn's own operations: the reference for the fused kernels.
    pub(crate) type Reference = Autodiff<CpuF32>;

    /// The same values as a tensor of each backend.
    pub(crate) fn pair<const D: usize>(
        shape: [usize; D],
        std: f64,
    ) -> (Tensor<CpuF32, D>, Tensor<Reference, D>) {
        let data: TensorData = Tensor::<CpuF32, D>::random(
            shape,
            Distribution::Normal(0.5, std),
            float_options::<CpuF32>(&Default::default()),
        )
        .into_data();
        // Explicit dtypes: the process-wide default would otherwise be fixed by these tests.
        (
            Tensor::from_data(data.clone(), float_options::<CpuF32>(&Default::default())),
            Tensor::from_data(data, float_options::<Reference>(&Default::default())),
        )
    }

    pub(crate) fn assert_close<const D: usize>(
        fused: Tensor<CpuF32, D>,
        reference: Tensor<Reference, D>,
    ) {
        assert_eq!(fused.dims(), reference.dims());
        let fused = fused.into_data().to_vec::<f32>().unwrap();
        let reference = reference.into_data().to_vec::<f32>().unwrap();
        let scale = reference.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let diff = fused.iter().zip(&reference).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(diff <= 1e-6 * scale.max(1.0), "largest difference {diff} (scale {scale})");
    }

    #[test]
    fn only_plain_float32_ndarray_tensors_take_the_kernels() {
        let (fused, reference) = pair([3, 5], 1.0);
        assert!(softmax_last(fused).is_ok());
        assert!(softmax_last(reference).is_err());
        let float64 =
            Tensor::<CpuF64, 2>::zeros([3, 5], float_options::<CpuF64>(&Default::default()));
        let back = softmax_last(float64).expect_err("float64 keeps burn's operations");
        assert_eq!(back.dims(), [3, 5]);
    }

    #[test]
    fn softmax_and_sigmoid_equal_burns_operations() {
        let (fused, reference) = pair([2, 3, 7, 33], 4.0);
        assert_close(softmax_last_axis(fused.clone()), softmax_last_axis(reference.clone()));
        assert_close(sigmoid(fused.clone()), sigmoid(reference.clone()));
        // A permuted (non-contiguous) input, and masked logits far below the rest.
        let (fused, reference) = (fused.swap_dims(2, 3), reference.swap_dims(2, 3));
        fn masked<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
            x.clone().mask_fill(x.lower_elem(-2.0), -1e9)
        }
        assert_close(
            softmax_last_axis(masked(fused.clone())),
            softmax_last_axis(masked(reference.clone())),
        );
        assert_close(sigmoid(fused), sigmoid(reference));
    }

    #[test]
    fn exp_is_within_two_ulp_of_the_c_library() {
        let mut worst = 0f32;
        for i in 0..=200_000 {
            let x = -87.0 + 175.0 * i as f32 / 200_000.0;
            let (ours, libm) = (exp(x), x.exp());
            worst = worst.max((ours - libm).abs() / libm);
        }
        assert!(worst <= 2.0 * f32::EPSILON, "relative error {worst}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1e9) < 1e-37 && exp(-1e9) >= 0.0);
        assert!(exp(1e9).is_finite());
    }

    #[test]
    fn powers_of_two_from_the_rounding_constant_are_exact() {
        for n in -126..=127 {
            assert_eq!(power_of_two(n as f32 + ROUND), 2f32.powi(n), "2^{n}");
        }
    }

    /// The AVX2 build of a kernel gives the baseline build's bits: the claim that lets results
    /// not depend on the CPU.
    #[test]
    fn vectorised_rows_equal_the_baseline_bit_for_bit() {
        let (x, _) = pair([7, 53], 5.0);
        let rows = x.into_data().to_vec::<f32>().unwrap();
        let (mut baseline, mut wide) = (rows.clone(), rows);
        for row in baseline.chunks_mut(53) {
            softmax_row(row);
        }
        vectorised(
            #[inline(always)]
            || {
                for row in wide.chunks_mut(53) {
                    softmax_row(row);
                }
            },
        );
        assert_eq!(baseline, wide);
        let total: f32 = baseline[..53].iter().sum();
        assert!((total - 1.0).abs() < 1e-6, "a softmax row sums to {total}");
    }

    #[test]
    fn masked_gates_equal_burns_operations() {
        let (x, x_ref) = pair([4, 5, 6], 1.0);
        let (g, g_ref) = pair([4, 5, 6], 3.0);
        let (m, m_ref) = pair([4, 5], 1.0);
        let (m, m_ref) = (
            crate::primitives::bool_to_float(m.greater_elem(0.5)),
            crate::primitives::bool_to_float(m_ref.greater_elem(0.5)),
        );
        let reference = x_ref.clone() * sigmoid(g_ref.clone());
        let fused = |mask| {
            masked_gate(x.clone(), g.clone(), mask).unwrap_or_else(|_| panic!("float32 kernel"))
        };
        assert_close(fused(None), reference.clone());
        assert_close(fused(Some(m)), reference * m_ref.unsqueeze_dim::<3>(2));
    }

    #[test]
    fn a_narrowed_tensor_shares_its_buffer_and_copies_before_writing() {
        let (x, _) = pair([8, 3], 1.0);
        let before = x.to_data();
        let half = x.clone().narrow(0, 2, 4);
        let part = into_f32_array(half.clone()).unwrap_or_else(|_| panic!("float32"));
        let whole = into_f32_array(x.clone()).unwrap_or_else(|_| panic!("float32"));
        assert_eq!(part.as_ptr(), whole.as_ptr().wrapping_add(2 * 3), "narrow copied");
        drop((part, whole));
        // Writing to the part (in place where burn can) leaves the whole tensor as it was.
        let expected: Vec<f32> =
            half.to_data().to_vec::<f32>().unwrap().iter().map(|v| v + 1.0).collect();
        let written = half.add_scalar(1.0);
        assert_eq!(x.to_data(), before);
        assert_eq!(written.into_data().to_vec::<f32>().unwrap(), expected);
    }

    #[test]
    fn layer_norm_and_bias_equal_burns_operations() {
        let (scale, scale_ref) = pair([24], 1.0);
        let (offset, offset_ref) = pair([24], 1.0);
        let fused =
            LayerNorm { scale: Param::from_tensor(scale), offset: Param::from_tensor(offset) };
        let reference = LayerNorm {
            scale: Param::from_tensor(scale_ref),
            offset: Param::from_tensor(offset_ref),
        };
        let (x, x_ref) = pair([5, 6, 24], 3.0);
        assert_close(fused.forward(x.clone()), reference.forward(x_ref.clone()));
        let (w, w_ref) = pair([24, 10], 1.0);
        let (b, b_ref) = pair([10], 1.0);
        assert_close(
            matmul_last(x.clone(), w.clone(), Some(b.clone())),
            matmul_last(x_ref.clone(), w_ref.clone(), Some(b_ref.clone())),
        );
        // Rows that are not contiguous: the channel axis taken from a permuted tensor.
        let (x, x_ref) = (x.permute([1, 0, 2]), x_ref.permute([1, 0, 2]));
        assert_close(fused.forward(x.clone()), reference.forward(x_ref.clone()));
        assert_close(matmul_last(x, w, Some(b)), matmul_last(x_ref, w_ref, Some(b_ref)));
    }
}
