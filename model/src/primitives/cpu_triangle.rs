//! The product of AlphaFold's triangle multiplication on burn's ndarray CPU backend: per
//! channel, a GEMM over the pair representation's rows, on ferrofold's AVX-512 kernel where the
//! CPU has it.

use burn::prelude::*;
use ndarray::{ArrayD, IxDyn};
use rayon::prelude::*;

use super::cpu_gemm;
use super::cpu_kernels::{from_f32_array, into_f32_arrays, standard_layout};

/// The product of AlphaFold's triangle multiplication on `[r, r, c]` arrays, channels last:
/// outgoing `out[i, j, c] = Σ_k a[i, k, c] · b[j, k, c]`, incoming
/// `out[i, j, c] = Σ_k a[k, i, c] · b[k, j, c]`.
pub(crate) fn triangle_product<B: Backend>(
    a: Tensor<B, 3>,
    b: Tensor<B, 3>,
    outgoing: bool,
) -> Result<Tensor<B, 3>, (Tensor<B, 3>, Tensor<B, 3>)> {
    let (a, b) = into_f32_arrays(a, b)?;
    let (a, b) = (standard_layout(a), standard_layout(b));
    let (&[a0, a1, c], &[b0, b1, _]) = (a.shape(), b.shape()) else {
        unreachable!("rank-3 tensors")
    };
    let (a, b) = (a.as_slice().expect("standard layout"), b.as_slice().expect("standard layout"));
    let shapes = ([a0, a1, c], [b0, b1]);
    let (rows, columns) = if outgoing { (a0, b0) } else { (a1, b1) };
    let out = triangle_product_channels_first(a, b, shapes, outgoing)
        .unwrap_or_else(|| triangle_product_strided(a, b, shapes, outgoing));
    let out = ArrayD::from_shape_vec(IxDyn(&[rows, columns, c]), out).expect("its own size");
    Ok(from_f32_array(out.into_shared()))
}

/// [`triangle_product`] with ferrofold's GEMM (`None` where the CPU lacks AVX-512), a group of
/// [`CHANNEL_GROUP`] channels at a time: the group's channels of each operand copied channels
/// first (`[g, i, k]` from `a`, `[g, r, r]` from `b`), one `[i, k] · [k, j]` product per channel
/// and rayon task, the products copied into their channels of the channels-last output. The
/// copies are passes over memory in tiles; the GEMM that reads the channels-last layout in place
/// gathers each operand element by element, channel after channel (bench/RESULTS.md). Groups
/// bound the copies to three `[g, r, r]` buffers beside the output.
fn triangle_product_channels_first(
    a: &[f32],
    b: &[f32],
    ([a0, a1, c], [b0, b1]): ([usize; 3], [usize; 2]),
    outgoing: bool,
) -> Option<Vec<f32>> {
    let (rows, columns, depth) = if outgoing { (a0, b0, a1) } else { (a1, b1, a0) };
    if !cpu_gemm::available() || c * rows * columns * depth == 0 {
        return None;
    }
    let group = CHANNEL_GROUP.min(c);
    let (mut left, mut right) = (vec![0f32; group * a0 * a1], vec![0f32; group * b0 * b1]);
    let mut products = vec![0f32; group * rows * columns];
    let mut out = Vec::<f32>::with_capacity(rows * columns * c);
    for first in (0..c).step_by(group) {
        let channels = first..c.min(first + group);
        // left[g] = [i, k]: incoming also swaps a's two residue axes.
        channels_first(a, [a0, a1, c], channels.clone(), !outgoing, &mut left);
        channels_first(b, [b0, b1, c], channels.clone(), false, &mut right);
        let products_ptr = products.as_mut_ptr() as usize;
        channels.clone().into_par_iter().for_each(|channel| {
            let g = channel - first;
            let right = &right[g * b0 * b1..][..b0 * b1];
            // [k, j]: outgoing right[g][j, k] read transposed, incoming right[g][k, j] as it is.
            let (row_stride, column_stride) = if outgoing { (1, b1) } else { (b1, 1) };
            // SAFETY: `right` holds depth × columns elements at these strides.
            let weights = unsafe {
                cpu_gemm::PackedWeights::from_raw(
                    right.as_ptr(),
                    depth,
                    columns,
                    row_stride as isize,
                    column_stride as isize,
                )
            }
            .expect("AVX-512 (checked above) and a non-empty product");
            // SAFETY: channel g's rows of `left` ([rows, depth]) and of `products` ([rows,
            // columns]), which no other task writes.
            unsafe {
                weights.multiply(
                    rows,
                    left[g * rows * depth..].as_ptr(),
                    depth as isize,
                    (products_ptr as *mut f32).add(g * rows * columns),
                    columns,
                    cpu_gemm::Store::PLAIN,
                );
            }
        });
        // SAFETY: `out` has room for rows × columns × c; this writes the group's channels.
        unsafe { channels_last(&products, channels, rows * columns, out.as_mut_ptr(), c) };
    }
    // SAFETY: every group's channels were written above.
    unsafe { out.set_len(rows * columns * c) };
    Some(out)
}

/// Channels per group of [`triangle_product_channels_first`]: a cache line of float32s, so that
/// the copies read and write the channels-last arrays a whole line at a time.
const CHANNEL_GROUP: usize = 16;

/// Channels `channels` of `x` (`[d0, d1, c]`, standard layout) into `out` as `[g, d0, d1]`, or
/// `[g, d1, d0]` where `swap`.
fn channels_first(
    x: &[f32],
    [d0, d1, c]: [usize; 3],
    channels: std::ops::Range<usize>,
    swap: bool,
    out: &mut [f32],
) {
    let (plane, g) = (d0 * d1, channels.len());
    assert!(x.len() == plane * c && out.len() >= plane * g && channels.end <= c);
    let (x, out_ptr) = (x[channels.start..].as_ptr() as usize, out.as_mut_ptr() as usize);
    if swap {
        // For each j of axis 1: its [d0, g] rows, transposed into out[·][j][..d0].
        (0..d1).into_par_iter().for_each(|j| {
            // SAFETY: in bounds of `x` and `out` (asserted above); task j writes out[·][j][·]
            // only.
            unsafe {
                transpose(
                    (x as *const f32).add(j * c),
                    d1 * c,
                    d0,
                    g,
                    (out_ptr as *mut f32).add(j * d0),
                    plane,
                )
            }
        });
    } else {
        // x as a [d0·d1, c] matrix, the group's columns transposed, in blocks of rows.
        for_each_block(plane, |first, len| {
            // SAFETY: in bounds of `x` and `out` (asserted above); each task writes its own
            // columns of `out`'s rows.
            unsafe {
                transpose(
                    (x as *const f32).add(first * c),
                    c,
                    len,
                    g,
                    (out_ptr as *mut f32).add(first),
                    plane,
                )
            }
        });
    }
}

/// `x` (`[g, plane]`, the channels `channels`) into those channels of `out` (`[plane, c]`).
///
/// # Safety
/// `out` has room for `plane × c` elements.
unsafe fn channels_last(
    x: &[f32],
    channels: std::ops::Range<usize>,
    plane: usize,
    out: *mut f32,
    c: usize,
) {
    let g = channels.len();
    assert!(x.len() >= g * plane && channels.end <= c);
    let out = out.add(channels.start) as usize;
    for_each_block(plane, |first, len| {
        // SAFETY: in bounds of `x` (asserted) and `out` (the caller's); each task writes its
        // own rows of `out`.
        unsafe {
            transpose(x.as_ptr().add(first), plane, g, len, (out as *mut f32).add(first * c), c)
        }
    });
}

/// `work(first, len)` for the blocks of `TRANSPOSE_TILE · 64` positions that split `0..plane`, over
/// rayon's threads.
fn for_each_block(plane: usize, work: impl Fn(usize, usize) + Sync + Send) {
    let block = TRANSPOSE_TILE * 64;
    (0..plane.div_ceil(block))
        .into_par_iter()
        .for_each(|task| work(task * block, block.min(plane - task * block)));
}

/// Side of the square tiles of [`transpose`]: a cache line of floats.
const TRANSPOSE_TILE: usize = 16;

/// `dst[j·dst_stride + i] = src[i·src_stride + j]` for `i < rows`, `j < columns`, tile by tile,
/// so that each cache line read or written is used whole.
///
/// # Safety
/// Those elements of `src` readable and of `dst` writable.
unsafe fn transpose(
    src: *const f32,
    src_stride: usize,
    rows: usize,
    columns: usize,
    dst: *mut f32,
    dst_stride: usize,
) {
    for i0 in (0..rows).step_by(TRANSPOSE_TILE) {
        for j0 in (0..columns).step_by(TRANSPOSE_TILE) {
            for j in j0..columns.min(j0 + TRANSPOSE_TILE) {
                for i in i0..rows.min(i0 + TRANSPOSE_TILE) {
                    *dst.add(j * dst_stride + i) = *src.add(i * src_stride + j);
                }
            }
        }
    }
}

/// [`triangle_product`] where ferrofold's GEMM is not available: one channel per rayon task,
/// each a single-threaded GEMM (the `gemm` crate) reading and writing the channels-last layout
/// through its strides, no GEMM threads nested inside rayon's.
fn triangle_product_strided(
    a: &[f32],
    b: &[f32],
    ([a0, a1, c], [b0, b1]): ([usize; 3], [usize; 2]),
    outgoing: bool,
) -> Vec<f32> {
    // Rows i, columns j, contraction k, and the strides of each operand's (row, column).
    let (rows, columns, depth) = if outgoing { (a0, b0, a1) } else { (a1, b1, a0) };
    let (lhs_rs, lhs_cs, rhs_rs, rhs_cs) =
        if outgoing { (a1 * c, c, c, b1 * c) } else { (c, a1 * c, b1 * c, c) };
    let mut out = vec![0f32; rows * columns * c];
    let (a_ptr, b_ptr, out_ptr) =
        (a.as_ptr() as usize, b.as_ptr() as usize, out.as_mut_ptr() as usize);
    (0..c).into_par_iter().for_each(|channel| {
        // SAFETY: every offset stays inside its array (the strides above are those of the
        // standard-layout shapes), and each task writes only its own channel of `out`.
        unsafe {
            gemm::gemm(
                rows,
                columns,
                depth,
                (out_ptr as *mut f32).add(channel),
                c as isize,
                (columns * c) as isize,
                false,
                (a_ptr as *const f32).add(channel),
                lhs_cs as isize,
                lhs_rs as isize,
                (b_ptr as *const f32).add(channel),
                rhs_cs as isize,
                rhs_rs as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::cpu_kernels::into_f32_array;
    use crate::primitives::cpu_kernels::tests::{assert_close, pair, Reference};

    #[test]
    fn triangle_products_equal_burns_matmuls() {
        // Channels last, as triangle multiplication makes them; `b` also as a permuted view.
        // 37 residues and 19 channels: more than a GEMM panel (32 columns) and a transposed
        // tile (16), neither a multiple of them.
        let (a, a_ref) = pair([37, 37, 19], 1.0);
        let (b, b_ref) = pair([37, 37, 19], 1.0);
        let (b, b_ref) = (b.swap_dims(0, 1), b_ref.swap_dims(0, 1));
        let channels_first = |x: Tensor<Reference, 3>| x.permute([2, 0, 1]);
        // outgoing: out[i, j] = Σ_k a[i, k] b[j, k]; incoming: Σ_k a[k, i] b[k, j].
        let outgoing = channels_first(a_ref.clone())
            .matmul(channels_first(b_ref.clone()).swap_dims(1, 2))
            .permute([1, 2, 0]);
        let incoming =
            channels_first(a_ref).swap_dims(1, 2).matmul(channels_first(b_ref)).permute([1, 2, 0]);
        let fused = |outgoing| {
            triangle_product(a.clone(), b.clone(), outgoing).unwrap_or_else(|_| panic!("kernel"))
        };
        assert_close(fused(true), outgoing.clone());
        assert_close(fused(false), incoming.clone());
        // The fallback for CPUs without AVX-512, on this one.
        let (a, b) = (into_f32_array(a).unwrap(), standard_layout(into_f32_array(b).unwrap()));
        let (a, b) = (a.as_slice().unwrap(), b.as_slice().unwrap());
        for (outgoing, expected) in [(true, outgoing), (false, incoming)] {
            let strided = triangle_product_strided(a, b, ([37, 37, 19], [37, 37]), outgoing);
            let strided = ArrayD::from_shape_vec(IxDyn(&[37, 37, 19]), strided).unwrap();
            assert_close(from_f32_array(strided.into_shared()), expected);
        }
    }
}
