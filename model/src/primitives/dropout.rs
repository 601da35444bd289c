//! AlphaFold's dropout: each element of an update zeroed with probability `rate`, the others
//! scaled by 1 / (1 − rate); "shared" dropout draws one mask for all slices along an axis (the
//! same residue pairs dropped in every MSA row, or every row of the pair representation).
//!
//! Active while gradients are recorded (`B::ad_enabled`), as burn's own `Dropout`, or where a
//! training pass without gradients asks for it ([`dropout_always`]: the recycling passes before
//! the gradient pass, as in AlphaFold); off at inference and in validation.
//!
//! Masks come from a generator of this thread, which [`seed_dropout`] resets (the trainer does
//! so per example): the masks of an example are then the same however examples are batched,
//! after a resume, and whatever other threads do. Each stage of the network (embedding, every
//! block, the structure module) restarts the generator from the example's seed and its own
//! number ([`seed_dropout_stage`]), so that a block recomputed on its own in the backward pass
//! draws the masks it drew in the forward pass. Shared masks are small ([1, r, c]), so they are
//! drawn on the host.

use std::cell::{Cell, RefCell};

use burn::prelude::*;
use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::batch::host_tensor;

thread_local! {
    static MASKS: RefCell<ChaCha8Rng> = RefCell::new(ChaCha8Rng::seed_from_u64(0));
    static SEED: Cell<u64> = const { Cell::new(0) };
    static ALWAYS: Cell<bool> = const { Cell::new(false) };
}

/// Restarts this thread's dropout masks from `seed`. A training loop calls it once per example
/// (with a seed of that example): every stage restarts from it, so passes that share a seed
/// share their masks.
pub fn seed_dropout(seed: u64) {
    SEED.with(|s| s.set(seed));
    MASKS.with(|rng| *rng.borrow_mut() = ChaCha8Rng::seed_from_u64(seed));
}

/// The seed of the last [`seed_dropout`] call on this thread.
pub fn dropout_seed() -> u64 {
    SEED.with(|s| s.get())
}

/// Restarts this thread's dropout masks for network stage `stage`, from the last
/// [`seed_dropout`] seed: the masks of a stage do not depend on what ran before it.
pub fn seed_dropout_stage(stage: u64) {
    let seed = SEED.with(|s| s.get()) ^ stage.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17);
    MASKS.with(|rng| *rng.borrow_mut() = ChaCha8Rng::seed_from_u64(seed));
}

/// While the returned guard lives, dropout is applied on this thread on any backend, with or
/// without gradients: for a forward pass that only produces the values a later pass with
/// gradients recomputes.
pub fn dropout_always() -> DropoutAlways {
    DropoutAlways(ALWAYS.with(|a| a.replace(true)))
}

/// See [`dropout_always`]; restores the previous setting when dropped.
pub struct DropoutAlways(bool);

impl Drop for DropoutAlways {
    fn drop(&mut self) {
        ALWAYS.with(|a| a.set(self.0));
    }
}

/// `x` with dropout at `rate`; with `shared_axis`, one mask broadcast along that axis.
pub fn dropout<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    rate: f64,
    shared_axis: Option<usize>,
) -> Tensor<B, D> {
    let device = x.device();
    if rate <= 0.0 || !(B::ad_enabled(&device) || ALWAYS.with(|a| a.get())) {
        return x;
    }
    let keep = 1.0 - rate;
    let mut shape = x.dims();
    if let Some(axis) = shared_axis {
        shape[axis] = 1;
    }
    let mask = MASKS.with(|rng| {
        let mut rng = rng.borrow_mut();
        ArrayD::from_shape_simple_fn(IxDyn(&shape), || {
            if rng.random::<f64>() < keep {
                1.0 / keep
            } else {
                0.0
            }
        })
    });
    x * host_tensor::<B, D>(mask, &device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::float_options;
    use burn::backend::{Autodiff, NdArray};

    type Inference = NdArray<f64>;
    type Training = Autodiff<NdArray<f64>>;

    /// Ones in the backend's own dtype (the process-wide default is fixed by whichever test
    /// creates the first tensor).
    fn ones<B: Backend, const D: usize>(shape: [usize; D]) -> Tensor<B, D> {
        Tensor::ones(shape, float_options::<B>(&Default::default()))
    }

    fn values<const D: usize>(t: Tensor<Training, D>) -> Vec<f64> {
        t.into_data().to_vec().unwrap()
    }

    #[test]
    fn off_without_gradients_and_at_rate_zero() {
        let x = ones::<Inference, _>([4, 5, 6]);
        assert_eq!(dropout(x.clone(), 0.5, None).to_data(), x.to_data());
        let y = ones::<Training, _>([4, 5, 6]);
        assert_eq!(dropout(y.clone(), 0.0, Some(0)).to_data(), y.to_data());
    }

    #[test]
    fn drops_the_rate_scales_the_rest_and_shares_the_mask() {
        seed_dropout(7);
        let out = values(dropout(ones::<Training, _>([8, 60, 50]), 0.25, Some(0)));
        // Every value is 0 or 1/0.75.
        assert!(out.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-12));
        // One mask for all 8 rows.
        let row = 60 * 50;
        for k in 1..8 {
            assert_eq!(out[k * row..(k + 1) * row], out[..row]);
        }
        let dropped = out[..row].iter().filter(|&&v| v == 0.0).count() as f64 / row as f64;
        // 3,000 draws: the fraction is within 5 standard deviations (0.04) of the rate.
        assert!((dropped - 0.25).abs() < 0.04, "dropped {dropped}");
        // Shared along the second axis: every row holds one value per channel.
        let out = values(dropout(ones::<Training, _>([5, 7, 3]), 0.5, Some(1)));
        for i in 0..5 {
            for j in 1..7 {
                assert_eq!(out[(i * 7 + j) * 3..(i * 7 + j + 1) * 3], out[i * 21..i * 21 + 3]);
            }
        }
        // Without sharing, rows differ.
        let out = values(dropout(ones::<Training, _>([2, 60, 50]), 0.25, None));
        assert_ne!(out[..row], out[row..]);
        // The same seed draws the same mask.
        let draw = || {
            seed_dropout(11);
            values(dropout(ones::<Training, _>([30, 30]), 0.5, None))
        };
        assert_eq!(draw(), draw());
    }

    #[test]
    fn stages_draw_their_own_masks_and_the_guard_applies_them_without_gradients() {
        let stage = |k| {
            seed_dropout_stage(k);
            dropout(ones::<Training, _>([20, 20]), 0.5, None).into_data()
        };
        seed_dropout(3);
        let (a, b) = (stage(1), stage(2));
        assert_ne!(a, b);
        // The same stage of the same example, whatever ran in between.
        let _ = stage(5);
        assert_eq!(stage(1), a);
        seed_dropout(4);
        assert_ne!(stage(1), a);
        // Without gradients: off, unless the guard is alive; then the same masks.
        seed_dropout(3);
        let x = ones::<Inference, _>([20, 20]);
        assert_eq!(dropout(x.clone(), 0.5, None).into_data(), x.to_data());
        {
            let _always = dropout_always();
            seed_dropout_stage(1);
            let inference = dropout(x.clone(), 0.5, None).into_data().convert::<f64>();
            assert_eq!(inference, a.convert::<f64>());
        }
        assert_eq!(dropout(x.clone(), 0.5, None).into_data(), x.to_data());
    }
}
