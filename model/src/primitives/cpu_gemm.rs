//! The linear layers' product on x86-64 CPUs with AVX-512: `out = input · weights (+ bias)
//! (then ReLU)` for an input whose rows are contiguous.
//!
//! matrixmultiply (burn-ndarray's GEMM) first copies the whole input into panels of 16 rows
//! ("packing"), one element at a time for a row-major input. The network's linear layers have
//! many rows and few outputs (4 to 1,024), so that copy costs as much as a large part of the
//! products (bench/RESULTS.md has the profile). Here only the weights are packed; the kernel
//! broadcasts each input element straight from its row, and a tile of rows stays in the L1
//! cache while every panel of outputs is computed from it.
//!
//! The arithmetic is matrixmultiply's, operation for operation: each output is a sequential
//! fused multiply-add over the inputs in blocks of 256, each block's sum added to the previous
//! ones', then the bias added, then the ReLU; so the results are bit for bit the same (a test
//! checks it) and do not depend on the thread count.

use std::mem::MaybeUninit;

use ndarray::ArrayView2;
use rayon::prelude::*;

/// Rows of the input multiplied per tile: the tile's 12 × 2 accumulator vectors, two weight
/// vectors and the broadcast input fill AVX-512's 32 registers.
const TILE_ROWS: usize = 12;
/// Outputs per panel of packed weights: two vectors of 16.
const PANEL: usize = 32;
/// Inputs summed before the output is updated (matrixmultiply's `kc`: same blocks, same bits).
const DEPTH_BLOCK: usize = 256;
/// Rows per rayon task.
const ROWS_PER_TASK: usize = TILE_ROWS * 8;

/// Whether this CPU runs [`linear`].
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Writes `input · weights (+ bias)`, then ReLU where `relu`, into `out` (`[rows, width]`,
/// row-major; every element written). `input` is `[rows, depth]` with contiguous rows;
/// `weights` `[depth, width]` in any layout. Returns `false`, writing nothing, where the CPU
/// lacks AVX-512 or the input's rows are not contiguous.
pub(crate) fn linear(
    input: ArrayView2<f32>,
    weights: ArrayView2<f32>,
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut [MaybeUninit<f32>],
) -> bool {
    let ((rows, depth), width) = (input.dim(), weights.dim().1);
    let row_stride = input.strides()[0];
    if !available() || (input.strides()[1] != 1 && depth > 1) || depth == 0 || width == 0 {
        return false;
    }
    assert_eq!(weights.dim().0, depth, "weights' rows are the input's columns");
    assert_eq!(out.len(), rows * width, "the output holds rows × width");
    assert!(bias.is_none_or(|b| b.len() == width), "one bias per output");
    #[cfg(target_arch = "x86_64")]
    {
        let packed = PackedWeights::new(weights);
        let input = SendPtr(input.as_ptr());
        out.par_chunks_mut(ROWS_PER_TASK * width).enumerate().for_each(|(task, out)| {
            let first_row = task * ROWS_PER_TASK;
            // SAFETY: AVX-512F is present (checked above); the pointers address `input`'s rows
            // first_row.. (row_stride apart, `depth` contiguous each), the packed weights and
            // this task's rows of `out`, which the task writes in full.
            unsafe {
                avx512::rows(
                    out.len() / width,
                    depth,
                    width,
                    input.get().offset(first_row as isize * row_stride),
                    row_stride,
                    &packed,
                    bias,
                    relu,
                    out.as_mut_ptr().cast(),
                )
            }
        });
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("available() is false")
}

/// A raw pointer that rayon's tasks may share: they only read through it.
#[derive(Clone, Copy)]
struct SendPtr(*const f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer (a method, so that closures capture the whole `SendPtr`, not its field).
    fn get(self) -> *const f32 {
        self.0
    }
}

/// The weights in panels of [`PANEL`] outputs: panel `p` holds, input by input, the weights of
/// outputs `p·PANEL..`, zero past the last output; 64-byte aligned for the vector loads.
struct PackedWeights {
    buffer: Vec<f32>,
    start: usize,
    depth: usize,
}

impl PackedWeights {
    fn new(weights: ArrayView2<f32>) -> Self {
        let (depth, width) = weights.dim();
        let panels = width.div_ceil(PANEL);
        let len = panels * depth * PANEL;
        let mut buffer = vec![0f32; len + 16];
        let start = buffer.as_ptr().align_offset(64).min(16);
        let packed = &mut buffer[start..start + len];
        for (p, panel) in packed.chunks_exact_mut(depth * PANEL).enumerate() {
            let outputs = p * PANEL..(width).min((p + 1) * PANEL);
            for (k, packed_row) in panel.chunks_exact_mut(PANEL).enumerate() {
                for (slot, j) in packed_row.iter_mut().zip(outputs.clone()) {
                    *slot = weights[[k, j]];
                }
            }
        }
        Self { buffer, start, depth }
    }

    /// The packed weights of panel `p`, from input `k` on.
    fn panel(&self, p: usize, k: usize) -> *const f32 {
        self.buffer[self.start + (p * self.depth + k) * PANEL..].as_ptr()
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{PackedWeights, DEPTH_BLOCK, PANEL, TILE_ROWS};

    /// `rows` rows of the output from the input rows at `input` (`row_stride` apart).
    ///
    /// # Safety
    /// AVX-512F present; `input` addresses `rows` rows of `depth` contiguous floats, `out`
    /// `rows × width` writable floats.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn rows(
        rows: usize,
        depth: usize,
        width: usize,
        input: *const f32,
        row_stride: isize,
        packed: &PackedWeights,
        bias: Option<&[f32]>,
        relu: bool,
        out: *mut f32,
    ) {
        for k in (0..depth).step_by(DEPTH_BLOCK) {
            let block = DEPTH_BLOCK.min(depth - k);
            let step = Step { first: k == 0, last: k + block == depth, relu };
            for row in (0..rows).step_by(TILE_ROWS) {
                let a = input.offset(row as isize * row_stride).add(k);
                for p in 0..width.div_ceil(PANEL) {
                    let outputs = PANEL.min(width - p * PANEL);
                    let tile = Tile {
                        a,
                        row_stride,
                        b: packed.panel(p, k),
                        depth: block,
                        c: out.add(row * width + p * PANEL),
                        out_stride: width,
                        masks: [mask(outputs), mask(outputs.saturating_sub(16))],
                        bias: bias.map(|b| b.as_ptr().add(p * PANEL)),
                    };
                    match TILE_ROWS.min(rows - row) {
                        12 => tile.run::<12>(step),
                        11 => tile.run::<11>(step),
                        10 => tile.run::<10>(step),
                        9 => tile.run::<9>(step),
                        8 => tile.run::<8>(step),
                        7 => tile.run::<7>(step),
                        6 => tile.run::<6>(step),
                        5 => tile.run::<5>(step),
                        4 => tile.run::<4>(step),
                        3 => tile.run::<3>(step),
                        2 => tile.run::<2>(step),
                        _ => tile.run::<1>(step),
                    }
                }
            }
        }
    }

    /// The first `n` (≤ 16) lanes.
    fn mask(n: usize) -> __mmask16 {
        ((1u32 << n.min(16)) - 1) as __mmask16
    }

    /// Which block of inputs a tile's product is (the first writes the output, later ones add
    /// to it, the last adds the bias and applies the ReLU).
    #[derive(Clone, Copy)]
    struct Step {
        first: bool,
        last: bool,
        relu: bool,
    }

    /// Up to [`TILE_ROWS`] rows × one panel of outputs over one block of inputs.
    struct Tile {
        a: *const f32,
        row_stride: isize,
        b: *const f32,
        depth: usize,
        c: *mut f32,
        out_stride: usize,
        masks: [__mmask16; 2],
        bias: Option<*const f32>,
    }

    impl Tile {
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn run<const R: usize>(&self, step: Step) {
            let mut acc = [[_mm512_setzero_ps(); 2]; R];
            for k in 0..self.depth {
                let b0 = _mm512_load_ps(self.b.add(k * PANEL));
                let b1 = _mm512_load_ps(self.b.add(k * PANEL + 16));
                for (i, acc) in acc.iter_mut().enumerate() {
                    let a = _mm512_set1_ps(*self.a.offset(i as isize * self.row_stride).add(k));
                    acc[0] = _mm512_fmadd_ps(a, b0, acc[0]);
                    acc[1] = _mm512_fmadd_ps(a, b1, acc[1]);
                }
            }
            for (i, acc) in acc.iter().enumerate() {
                for (half, (&mask, &sum)) in self.masks.iter().zip(acc).enumerate() {
                    if mask == 0 {
                        continue;
                    }
                    let c = self.c.add(i * self.out_stride + 16 * half);
                    let mut v = sum;
                    if !step.first {
                        v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, c), v);
                    }
                    if step.last {
                        if let Some(bias) = self.bias {
                            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, bias.add(16 * half)));
                        }
                        if step.relu {
                            v = _mm512_max_ps(v, _mm512_setzero_ps());
                        }
                    }
                    _mm512_mask_storeu_ps(c, mask, v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array2};
    use rand::{Rng, SeedableRng};

    fn random(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((rows, cols), |_| rng.random_range(-1.0..1.0))
    }

    /// matrixmultiply's product, then the bias and the ReLU as separate passes: what the
    /// linear layers computed before this kernel.
    fn reference(
        input: ArrayView2<f32>,
        weights: ArrayView2<f32>,
        bias: Option<&[f32]>,
        relu: bool,
    ) -> Vec<f32> {
        let ((rows, depth), width) = (input.dim(), weights.dim().1);
        let mut out = vec![f32::NAN; rows * width];
        let (is, ws) = (input.strides(), weights.strides());
        // SAFETY: pointers and strides describe the arrays; β = 0 ignores `out`'s NaNs.
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
        }
        for row in out.chunks_mut(width) {
            for (j, x) in row.iter_mut().enumerate() {
                if let Some(bias) = bias {
                    *x += bias[j];
                }
                if relu {
                    *x = x.max(0.0);
                }
            }
        }
        out
    }

    /// Every tail (rows not a multiple of 12, outputs not of 32 or 16, inputs over one block
    /// of 256), transposed weights, rows with a stride: the same bits as matrixmultiply.
    #[test]
    fn the_products_equal_matrixmultiplys_bit_for_bit() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX-512");
            return;
        }
        let shapes = [(1, 1, 1), (13, 7, 5), (100, 128, 8), (97, 300, 48), (250, 600, 33)];
        for (case, &(rows, depth, width)) in shapes.iter().enumerate() {
            let seed = case as u64 * 3;
            // Input rows 3 floats apart from each other's ends; weights stored transposed.
            let padded = random(rows, depth + 3, seed);
            let input = padded.slice(s![.., ..depth]);
            let weights_t = random(width, depth, seed + 1);
            let weights = weights_t.t();
            let bias: Vec<f32> = random(1, width, seed + 2).into_raw_vec_and_offset().0;
            for (bias, relu) in [(None, false), (Some(&bias[..]), true), (Some(&bias[..]), false)] {
                let mut out = Vec::with_capacity(rows * width);
                assert!(linear(input, weights, bias, relu, out.spare_capacity_mut()));
                // SAFETY: `linear` wrote every element.
                unsafe { out.set_len(rows * width) };
                let expected = reference(input, weights, bias, relu);
                let same = out.iter().zip(&expected).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{rows}×{depth}×{width}, bias {}, relu {relu}", bias.is_some());
            }
        }
    }

    #[test]
    fn inputs_whose_rows_are_not_contiguous_are_left_to_the_caller() {
        let input = random(8, 4, 0);
        let weights = random(8, 3, 1);
        let mut out = Vec::with_capacity(4 * 3);
        assert!(!linear(input.t(), weights.view(), None, false, out.spare_capacity_mut()));
    }
}
