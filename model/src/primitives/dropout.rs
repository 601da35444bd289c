//! AlphaFold's dropout: each element of an update zeroed with probability `rate`, the others
//! scaled by 1 / (1 − rate); "shared" dropout draws one mask for all slices along an axis (the
//! same residue pairs dropped in every MSA row, or every row of the pair representation).
//!
//! There is no hidden random state: a stage of the network receives a [`Dropout`], either off
//! (inference, validation) or a generator seeded from the pass's key and the stage's id (the
//! stage plan's `Pass::context`). A stage recomputed on its own, on any thread, therefore
//! draws the masks it drew the first time. Shared masks are small ([1, r, c]), so they are
//! drawn on the host.

use std::cell::RefCell;

use burn::prelude::*;
use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::host::host_tensor;

/// The dropout masks of one stage: off, or drawn in order from a generator of the stage.
#[derive(Debug)]
pub struct Dropout {
    masks: Option<RefCell<ChaCha8Rng>>,
}

impl Dropout {
    /// No dropout: every update passes unchanged.
    pub fn off() -> Self {
        Self { masks: None }
    }

    /// Masks drawn from a generator seeded with `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self { masks: Some(RefCell::new(ChaCha8Rng::seed_from_u64(seed))) }
    }

    /// Whether masks are drawn.
    pub fn is_on(&self) -> bool {
        self.masks.is_some()
    }

    /// `x` with dropout at `rate`; with `shared_axis`, one mask broadcast along that axis.
    pub fn apply<B: Backend, const D: usize>(
        &self,
        x: Tensor<B, D>,
        rate: f64,
        shared_axis: Option<usize>,
    ) -> Tensor<B, D> {
        let Some(masks) = &self.masks else { return x };
        if rate <= 0.0 {
            return x;
        }
        let keep = 1.0 - rate;
        let mut shape = x.dims();
        if let Some(axis) = shared_axis {
            shape[axis] = 1;
        }
        let mut rng = masks.borrow_mut();
        let mask = ArrayD::from_shape_simple_fn(IxDyn(&shape), || {
            if rng.random::<f64>() < keep {
                1.0 / keep
            } else {
                0.0
            }
        });
        let device = x.device();
        x * host_tensor::<B, D>(mask, &device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::float_options;
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
    fn off_and_at_rate_zero_change_nothing() {
        let x = ones::<Inference, _>([4, 5, 6]);
        assert_eq!(Dropout::off().apply(x.clone(), 0.5, None).to_data(), x.to_data());
        let y = ones::<Training, _>([4, 5, 6]);
        assert_eq!(Dropout::off().apply(y.clone(), 0.5, None).to_data(), y.to_data());
        assert_eq!(Dropout::seeded(1).apply(y.clone(), 0.0, Some(0)).to_data(), y.to_data());
    }

    #[test]
    fn drops_the_rate_scales_the_rest_and_shares_the_mask() {
        let dropout = Dropout::seeded(7);
        let out = values(dropout.apply(ones::<Training, _>([8, 60, 50]), 0.25, Some(0)));
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
        let out = values(dropout.apply(ones::<Training, _>([5, 7, 3]), 0.5, Some(1)));
        for i in 0..5 {
            for j in 1..7 {
                assert_eq!(out[(i * 7 + j) * 3..(i * 7 + j + 1) * 3], out[i * 21..i * 21 + 3]);
            }
        }
        // Without sharing, rows differ.
        let out = values(dropout.apply(ones::<Training, _>([2, 60, 50]), 0.25, None));
        assert_ne!(out[..row], out[row..]);
        // The same seed draws the same mask, on any backend.
        let draw = || values(Dropout::seeded(11).apply(ones::<Training, _>([30, 30]), 0.5, None));
        assert_eq!(draw(), draw());
        let inference = Dropout::seeded(11).apply(ones::<Inference, _>([30, 30]), 0.5, None);
        assert_eq!(inference.into_data().to_vec::<f64>().unwrap(), draw());
    }
}
