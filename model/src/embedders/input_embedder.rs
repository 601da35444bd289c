//! Input embedder: target features, MSA features and relative positions into the initial MSA
//! and pair representations (Jumper et al. 2021, Suppl. Alg. 3 and 4).

use burn::prelude::*;

use crate::batch::IterationInputs;
use crate::config::ModelConfig;
use crate::evoformer::MsaPair;
use crate::params::ParamBuilder;
use crate::primitives::{Linear, LinearInit};

#[derive(Module, Debug)]
pub struct InputEmbedder<B: Backend> {
    pub preprocess_1d: Linear<B>,
    pub preprocess_msa: Linear<B>,
    pub left_single: Linear<B>,
    pub right_single: Linear<B>,
    /// The relative-position encoding's layer (sic: AlphaFold's parameter name).
    pub pair_activiations: Linear<B>,
}

impl<B: Backend> InputEmbedder<B> {
    /// The monomer's target features have 22 channels (residue type and AlphaFold2's
    /// between-segment bit), the multimer's 21 (residue type); the multimer's relative encoding
    /// is `~_relative_encoding/position_activations`.
    pub fn new(b: &mut ParamBuilder<B>, config: &ModelConfig) -> Self {
        let (m, z) = (config.msa_channel, config.pair_channel);
        let target = config.target_feat_width();
        let init = LinearInit::Default;
        Self {
            preprocess_1d: Linear::new(b, "preprocess_1d", target, m, init),
            preprocess_msa: Linear::new(b, "preprocess_msa", 49, m, init),
            left_single: Linear::new(b, "left_single", target, z, init),
            right_single: Linear::new(b, "right_single", target, z, init),
            pair_activiations: match &config.multimer {
                None => {
                    let relpos = 2 * config.max_relative_feature + 1;
                    Linear::new(b, "pair_activiations", relpos, z, init)
                }
                Some(multimer) => b.scope("~_relative_encoding", |b| {
                    let width = multimer.relative_encoding_width();
                    Linear::new(b, "position_activations", width, z, init)
                }),
            },
        }
    }

    /// The MSA and the pair before recycling and relative positions are added, then the
    /// relative-position term separately (AlphaFold adds it after the recycled pair).
    pub fn forward(&self, inputs: &IterationInputs<B>) -> (MsaPair<B>, Tensor<B, 3>) {
        let msa = self.preprocess_1d.forward(inputs.target_feat.clone()).unsqueeze_dim::<3>(0)
            + self.preprocess_msa.forward(inputs.msa_feat.clone());
        let left = self.left_single.forward(inputs.target_feat.clone());
        let right = self.right_single.forward(inputs.target_feat.clone());
        let pair = left.unsqueeze_dim::<3>(1) + right.unsqueeze_dim::<3>(0);
        let relpos = self.pair_activiations.forward(inputs.relative_position.clone());
        (MsaPair { msa, pair }, relpos)
    }
}
