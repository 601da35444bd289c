//! Recycling embedder: the previous iteration's positions (as a pseudo-beta distogram), MSA first
//! row and pair, added to the new iteration's representations (Jumper et al. 2021, Suppl. Alg. 32).

use burn::prelude::*;

use crate::batch::squared_bin_bounds;
use crate::config::{DistogramBins, ModelConfig};
use crate::evoformer::MsaPair;
use crate::host::float_options;
use crate::params::ParamBuilder;
use crate::primitives::{bool_to_float, LayerNorm, Linear, LinearInit};

#[derive(Module, Debug)]
pub struct RecyclingEmbedder<B: Backend> {
    pub prev_pos_linear: Linear<B>,
    pub prev_msa_first_row_norm: LayerNorm<B>,
    pub prev_pair_norm: LayerNorm<B>,
    pub min_bin: f64,
    pub max_bin: f64,
    pub num_bins: usize,
}

/// What one iteration hands to the next (AlphaFold's `prev_*`), gradients stopped.
#[derive(Debug, Clone)]
pub struct Recycled<B: Backend> {
    /// [r, 37, 3]
    pub positions: Tensor<B, 3>,
    /// [r, c_m]
    pub msa_first_row: Tensor<B, 2>,
    /// [r, r, c_z]
    pub pair: Tensor<B, 3>,
}

impl<B: burn::tensor::backend::AutodiffBackend> Recycled<B> {
    /// Values computed without gradients (on the inner backend), as inputs of a pass with them.
    pub fn from_inner(inner: Recycled<B::InnerBackend>) -> Self {
        Self {
            positions: Tensor::from_inner(inner.positions),
            msa_first_row: Tensor::from_inner(inner.msa_first_row),
            pair: Tensor::from_inner(inner.pair),
        }
    }
}

impl<B: Backend> Recycled<B> {
    /// The first iteration's inputs: zeros.
    pub fn zeros(residues: usize, config: &ModelConfig, device: &B::Device) -> Self {
        Self {
            positions: Tensor::zeros([residues, 37, 3], float_options::<B>(device)),
            msa_first_row: Tensor::zeros(
                [residues, config.msa_channel],
                float_options::<B>(device),
            ),
            pair: Tensor::zeros(
                [residues, residues, config.pair_channel],
                float_options::<B>(device),
            ),
        }
    }

    pub fn detach(self) -> Self {
        Self {
            positions: self.positions.detach(),
            msa_first_row: self.msa_first_row.detach(),
            pair: self.pair.detach(),
        }
    }
}

impl<B: Backend> RecyclingEmbedder<B> {
    pub fn new(b: &mut ParamBuilder<B>, config: &ModelConfig) -> Self {
        let DistogramBins { min_bin, max_bin, num_bins } = config.prev_pos.clone();
        Self {
            prev_pos_linear: Linear::new(
                b,
                "prev_pos_linear",
                num_bins,
                config.pair_channel,
                LinearInit::Default,
            ),
            prev_msa_first_row_norm: LayerNorm::new(
                b,
                "prev_msa_first_row_norm",
                config.msa_channel,
            ),
            prev_pair_norm: LayerNorm::new(b, "prev_pair_norm", config.pair_channel),
            min_bin,
            max_bin,
            num_bins,
        }
    }

    /// Adds the recycled quantities to `act`; `is_glycine` [r, 1] picks CA over CB.
    pub fn forward(
        &self,
        act: MsaPair<B>,
        prev: &Recycled<B>,
        is_glycine: Tensor<B, 2>,
    ) -> MsaPair<B> {
        let MsaPair { msa, pair } = act;
        let [r, _, _] = prev.positions.dims();
        let ca = prev.positions.clone().narrow(1, 1, 1).reshape([r, 3]);
        let cb = prev.positions.clone().narrow(1, 3, 1).reshape([r, 3]);
        let pseudo_beta = ca * is_glycine.clone() + cb * (is_glycine.neg() + 1.0);
        let bins =
            DistogramBins { min_bin: self.min_bin, max_bin: self.max_bin, num_bins: self.num_bins };
        let dgram = distogram(pseudo_beta, &bins);
        let pair = pair
            + self.prev_pos_linear.forward(dgram)
            + self.prev_pair_norm.forward(prev.pair.clone());
        let first_row =
            self.prev_msa_first_row_norm.forward(prev.msa_first_row.clone()).unsqueeze_dim::<3>(0);
        let [s, _, c] = msa.dims();
        let updated_first = msa.clone().narrow(0, 0, 1) + first_row;
        // A single-sequence MSA has no other rows (burn cannot narrow to length zero).
        let msa = if s > 1 {
            Tensor::cat(vec![updated_first, msa.narrow(0, 1, s - 1)], 0)
        } else {
            updated_first
        };
        debug_assert_eq!(msa.dims()[2], c);
        MsaPair { msa, pair }
    }
}

/// AlphaFold's `dgram_from_positions` on tensors: `points` [r, 3] → one-hot [r, r, bins].
pub fn distogram<B: Backend>(points: Tensor<B, 2>, bins: &DistogramBins) -> Tensor<B, 3> {
    let [r, _] = points.dims();
    let device = points.device();
    let (lower, upper) = squared_bin_bounds(bins);
    let n = bins.num_bins;
    let edge = |v: Vec<f64>| {
        Tensor::<B, 1>::from_data(
            burn::tensor::TensorData::new(v, [n]).convert::<B::FloatElem>(),
            float_options::<B>(&device),
        )
        .reshape([1, 1, n])
        .expand([r, r, n])
    };
    let diff = points.clone().unsqueeze_dim::<3>(1) - points.unsqueeze_dim::<3>(0);
    let dist2 = diff.powi_scalar(2).sum_dim(2).expand([r, r, n]);
    bool_to_float(dist2.clone().greater(edge(lower))) * bool_to_float(dist2.lower(edge(upper)))
}
