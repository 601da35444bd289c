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

/// Whether this CPU has AVX-512, which the kernel needs.
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

/// How a product is stored into the output: `scale · product`, plus what the output held where
/// `accumulate`, plus `bias` (one per output column), then ReLU where `relu`: the operations
/// and order of matrixmultiply's `α·A·B + β·C` (β 0 or 1) and the separate bias and ReLU passes.
#[derive(Clone, Copy)]
pub(crate) struct Store<'a> {
    pub scale: f32,
    pub accumulate: bool,
    pub bias: Option<&'a [f32]>,
    pub relu: bool,
}

impl Store<'_> {
    /// The output is the product, nothing added.
    pub(crate) const PLAIN: Store<'static> =
        Store { scale: 1.0, accumulate: false, bias: None, relu: false };
}

/// Writes `input · weights (+ bias)`, then ReLU where `relu`, into `out` (`[rows, width]`,
/// row-major; every element written), rows spread over rayon's threads. `input` is
/// `[rows, depth]` with contiguous rows; `weights` `[depth, width]` in any layout. Returns
/// `false`, writing nothing, where the CPU lacks AVX-512 or the input's rows are not contiguous.
pub(crate) fn linear(
    input: ArrayView2<f32>,
    weights: ArrayView2<f32>,
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut [MaybeUninit<f32>],
) -> bool {
    let ((rows, depth), width) = (input.dim(), weights.dim().1);
    if input.strides()[1] != 1 && depth > 1 {
        return false;
    }
    let Some(packed) = PackedWeights::new(weights) else { return false };
    assert_eq!(weights.dim().0, depth, "weights' rows are the input's columns");
    assert_eq!(out.len(), rows * width, "the output holds rows × width");
    let store = Store { bias, relu, ..Store::PLAIN };
    let (input, row_stride) = (SendPtr(input.as_ptr()), input.strides()[0]);
    out.par_chunks_mut(ROWS_PER_TASK * width).enumerate().for_each(|(task, out)| {
        let first_row = task * ROWS_PER_TASK;
        // SAFETY: `input`'s rows first_row.. (row_stride apart, `depth` contiguous each) and this
        // task's rows of `out`, which it writes in full.
        unsafe {
            packed.multiply(
                out.len() / width,
                input.get().offset(first_row as isize * row_stride),
                row_stride,
                out.as_mut_ptr().cast(),
                width,
                store,
            )
        }
    });
    true
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

/// The right-hand matrix of products, `[depth, width]`, in panels of [`PANEL`] columns: panel
/// `p` holds, row by row, columns `p·PANEL..`, zero past the last column; 64-byte aligned for
/// the vector loads.
pub(crate) struct PackedWeights {
    buffer: Vec<f32>,
    start: usize,
    depth: usize,
    width: usize,
}

impl PackedWeights {
    /// `None` where the CPU lacks AVX-512 or the matrix is empty: multiply with matrixmultiply.
    pub(crate) fn new(weights: ArrayView2<f32>) -> Option<Self> {
        let (depth, width) = weights.dim();
        let [row_stride, column_stride] = [0, 1].map(|axis| weights.strides()[axis]);
        // SAFETY: the view's own pointer, shape and strides.
        unsafe { Self::from_raw(weights.as_ptr(), depth, width, row_stride, column_stride) }
    }

    /// [`PackedWeights::new`] of the `[depth, width]` matrix at `matrix` with these strides.
    ///
    /// # Safety
    /// Every element `matrix + k·row_stride + j·column_stride` (`k < depth`, `j < width`) is
    /// readable.
    pub(crate) unsafe fn from_raw(
        matrix: *const f32,
        depth: usize,
        width: usize,
        row_stride: isize,
        column_stride: isize,
    ) -> Option<Self> {
        if !available() || depth == 0 || width == 0 {
            return None;
        }
        let len = width.div_ceil(PANEL) * depth * PANEL;
        let mut buffer = vec![0f32; len + 16];
        let start = buffer.as_ptr().align_offset(64).min(16);
        for (p, panel) in buffer[start..start + len].chunks_exact_mut(depth * PANEL).enumerate() {
            let columns = PANEL.min(width - p * PANEL);
            for (k, packed_row) in panel.chunks_exact_mut(PANEL).enumerate() {
                let row =
                    matrix.offset(k as isize * row_stride + (p * PANEL) as isize * column_stride);
                if column_stride == 1 {
                    packed_row[..columns].copy_from_slice(std::slice::from_raw_parts(row, columns));
                } else {
                    for (j, slot) in packed_row[..columns].iter_mut().enumerate() {
                        *slot = *row.offset(j as isize * column_stride);
                    }
                }
            }
        }
        Some(Self { buffer, start, depth, width })
    }

    /// The packed weights of panel `p`, from row `k` on.
    fn panel(&self, p: usize, k: usize) -> *const f32 {
        self.buffer[self.start + (p * self.depth + k) * PANEL..].as_ptr()
    }

    /// `out ← input · self` as `store` says, on this thread, for `rows` rows of the input at
    /// `input` (`depth` contiguous floats each, `input_stride` apart) into `out` (`width`
    /// floats each, `out_stride` apart).
    ///
    /// # Safety
    /// Those input elements are readable and those output elements writable (and, where
    /// `store.accumulate`, initialised).
    pub(crate) unsafe fn multiply(
        &self,
        rows: usize,
        input: *const f32,
        input_stride: isize,
        out: *mut f32,
        out_stride: usize,
        store: Store,
    ) {
        assert!(store.bias.is_none_or(|b| b.len() == self.width), "one bias per output");
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `self` exists only where the CPU has AVX-512F; the rest is the caller's.
        avx512::multiply(self, rows, input, input_stride, out, out_stride, store);
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("no packed weights without AVX-512: {rows} {input:?} {input_stride} {out:?} {out_stride}");
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{PackedWeights, Store, DEPTH_BLOCK, PANEL, TILE_ROWS};

    /// [`PackedWeights::multiply`].
    ///
    /// # Safety
    /// AVX-512F present, and [`PackedWeights::multiply`]'s conditions.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn multiply(
        packed: &PackedWeights,
        rows: usize,
        input: *const f32,
        input_stride: isize,
        out: *mut f32,
        out_stride: usize,
        store: Store,
    ) {
        let (depth, width) = (packed.depth, packed.width);
        for k in (0..depth).step_by(DEPTH_BLOCK) {
            let block = DEPTH_BLOCK.min(depth - k);
            let step = Step {
                overwrite: k == 0 && !store.accumulate,
                last: k + block == depth,
                scale: store.scale,
                relu: store.relu,
            };
            for row in (0..rows).step_by(TILE_ROWS) {
                let a = input.offset(row as isize * input_stride).add(k);
                for p in 0..width.div_ceil(PANEL) {
                    let outputs = PANEL.min(width - p * PANEL);
                    let tile = Tile {
                        a,
                        a_stride: input_stride,
                        b: packed.panel(p, k),
                        depth: block,
                        c: out.add(row * out_stride + p * PANEL),
                        c_stride: out_stride,
                        masks: [mask(outputs), mask(outputs.saturating_sub(16))],
                        bias: store.bias.map(|b| b.as_ptr().add(p * PANEL)),
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

    /// What a tile's product over one block of inputs does to the output: the first block
    /// overwrites it (unless accumulating), later ones add to it (matrixmultiply's β = 1), the
    /// last adds the bias and applies the ReLU.
    #[derive(Clone, Copy)]
    struct Step {
        overwrite: bool,
        last: bool,
        scale: f32,
        relu: bool,
    }

    /// Up to [`TILE_ROWS`] rows × one panel of outputs over one block of inputs.
    struct Tile {
        a: *const f32,
        a_stride: isize,
        b: *const f32,
        depth: usize,
        c: *mut f32,
        c_stride: usize,
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
                    let a = _mm512_set1_ps(*self.a.offset(i as isize * self.a_stride).add(k));
                    acc[0] = _mm512_fmadd_ps(a, b0, acc[0]);
                    acc[1] = _mm512_fmadd_ps(a, b1, acc[1]);
                }
            }
            for (i, [low, high]) in acc.into_iter().enumerate() {
                self.store(i, 0, low, step);
                self.store(i, 1, high, step);
            }
        }

        /// Stores `sum`, half `half` of row `i` of the tile, as `step` says.
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn store(&self, i: usize, half: usize, sum: __m512, step: Step) {
            let mask = self.masks[half];
            if mask == 0 {
                return;
            }
            let c = self.c.add(i * self.c_stride + 16 * half);
            let scale = _mm512_set1_ps(step.scale);
            let mut v = if step.overwrite {
                _mm512_mul_ps(scale, sum)
            } else {
                _mm512_fmadd_ps(scale, sum, _mm512_maskz_loadu_ps(mask, c))
            };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::cpu_kernels::linear_with_matrixmultiply;
    use ndarray::{s, Array2};
    use rand::{Rng, SeedableRng};

    fn random(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((rows, cols), |_| rng.random_range(-1.0..1.0))
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
                let expected = linear_with_matrixmultiply(input, weights, bias, relu);
                let same = out.iter().zip(&expected).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{rows}×{depth}×{width}, bias {}, relu {relu}", bias.is_some());
            }
        }
    }

    /// The attention's products: `out = 0.25·input·weights + out` into rows with a stride
    /// (matrixmultiply's α = 0.25, β = 1; a power of two, so its edge tiles round alike).
    #[test]
    fn scaled_products_added_to_the_output_equal_matrixmultiplys_bit_for_bit() {
        let (rows, depth, width, out_stride) = (45, 32, 37, 50);
        let input = random(rows, depth, 7);
        let weights = random(width, depth, 8);
        let Some(packed) = PackedWeights::new(weights.t()) else {
            eprintln!("skipped: this CPU has no AVX-512");
            return;
        };
        let initial = random(rows, out_stride, 9).into_raw_vec_and_offset().0;
        let (mut ours, mut expected) = (initial.clone(), initial);
        let store = Store { scale: 0.25, accumulate: true, ..Store::PLAIN };
        // SAFETY: the pointers and strides describe the arrays above.
        unsafe {
            packed.multiply(
                rows,
                input.as_ptr(),
                depth as isize,
                ours.as_mut_ptr(),
                out_stride,
                store,
            );
            matrixmultiply::sgemm(
                rows,
                depth,
                width,
                0.25,
                input.as_ptr(),
                depth as isize,
                1,
                weights.as_ptr(),
                1,
                depth as isize,
                1.0,
                expected.as_mut_ptr(),
                out_stride as isize,
                1,
            );
        }
        assert!(ours.iter().zip(&expected).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn inputs_whose_rows_are_not_contiguous_are_left_to_the_caller() {
        let input = random(8, 4, 0);
        let weights = random(8, 3, 1);
        let mut out = Vec::with_capacity(4 * 3);
        assert!(!linear(input.t(), weights.view(), None, false, out.spare_capacity_mut()));
    }
}
