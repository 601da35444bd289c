//! The network's stages in the order they run, and how one pass runs them.
//!
//! One iteration of AlphaFold is a fixed sequence of stages ([`Stage`]): the embeddings, each
//! extra-MSA block, each Evoformer block, then the structure module and heads (the trunk's
//! blocks in order: `EmbeddingsAndEvoformer::blocks`). [`crate::AlphaFold::iteration`] walks
//! them forwards, and training's rematerialisation walks the same blocks backwards. Each stage runs
//! with a [`StageContext`] made by [`Pass::context`]: its chunking and its dropout masks, drawn
//! from the pass's [`DropoutKey`] and the stage's id, so that a stage recomputed on its own (on
//! any thread) draws the masks it drew the first time.

use crate::config::ModelConfig;
use crate::primitives::{Chunking, Dropout};

/// One stage of an iteration of the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Input, recycling and template embeddings: features to the first block's activations.
    Embed,
    /// Block `k` of the extra-MSA stack.
    ExtraMsaBlock(usize),
    /// Block `k` of the Evoformer stack.
    EvoformerBlock(usize),
    /// The single representation, the structure module and the output heads.
    StructureAndHeads,
}

impl Stage {
    /// A number unique to the stage, mixed into the pass's key for the stage's masks.
    fn id(self) -> u64 {
        match self {
            Stage::Embed => 0,
            Stage::ExtraMsaBlock(k) => 1_000 + k as u64,
            Stage::EvoformerBlock(k) => 2_000 + k as u64,
            Stage::StructureAndHeads => 3_000,
        }
    }
}

/// Where the dropout masks of a training pass come from: every stage draws its own from the
/// key and its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropoutKey(pub u64);

impl DropoutKey {
    /// The key of recycling pass `i` of an example (the passes before the gradient pass),
    /// which draws masks of its own.
    pub fn recycling_pass(self, i: usize) -> Self {
        Self(self.0 ^ (i as u64 + 1).wrapping_mul(0xd1b5_4a32_d192_ed03))
    }

    fn stage_seed(self, stage: Stage) -> u64 {
        self.0 ^ stage.id().wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17)
    }
}

/// How one forward pass runs its stages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// `None`: no dropout (inference, validation).
    pub dropout: Option<DropoutKey>,
    pub chunking: Chunking,
}

impl Pass {
    /// Without dropout, chunked as `config` says.
    pub fn inference(config: &ModelConfig) -> Self {
        Self { dropout: None, chunking: chunking(config) }
    }

    /// With dropout drawn from `key`, chunked as `config` says.
    pub fn training(config: &ModelConfig, key: DropoutKey) -> Self {
        Self { dropout: Some(key), chunking: chunking(config) }
    }

    /// What stage `stage` runs with.
    pub fn context(&self, stage: Stage) -> StageContext {
        StageContext {
            dropout: match self.dropout {
                Some(key) => Dropout::seeded(key.stage_seed(stage)),
                None => Dropout::off(),
            },
            chunking: self.chunking,
        }
    }
}

fn chunking(config: &ModelConfig) -> Chunking {
    Chunking {
        rows: config.chunk_size,
        keys: config.key_chunk_size,
        attention: config.attention_kernel,
    }
}

/// What one stage runs with: its dropout masks and its chunking.
#[derive(Debug)]
pub struct StageContext {
    pub dropout: Dropout,
    pub chunking: Chunking,
}

impl StageContext {
    /// No dropout, with `chunking` (for running one block on its own).
    pub fn inference(chunking: Chunking) -> Self {
        Self { dropout: Dropout::off(), chunking }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::prelude::*;

    fn masks(pass: &Pass, stage: Stage) -> Vec<f64> {
        let x = Tensor::<NdArray<f64>, 2>::ones([20, 20], &Default::default());
        pass.context(stage).dropout.apply(x, 0.5, None).into_data().to_vec().unwrap()
    }

    #[test]
    fn each_stage_draws_its_own_masks_from_the_key() {
        let config = ModelConfig::preset("reduced").unwrap();
        let pass = Pass::training(&config, DropoutKey(3));
        let a = masks(&pass, Stage::EvoformerBlock(1));
        assert_ne!(a, masks(&pass, Stage::EvoformerBlock(2)));
        assert_ne!(a, masks(&pass, Stage::ExtraMsaBlock(1)));
        // The same stage of the same pass, whatever ran in between.
        let _ = masks(&pass, Stage::Embed);
        assert_eq!(masks(&pass, Stage::EvoformerBlock(1)), a);
        assert_ne!(masks(&Pass::training(&config, DropoutKey(4)), Stage::EvoformerBlock(1)), a);
        let recycling = Pass::training(&config, DropoutKey(3).recycling_pass(0));
        assert_ne!(masks(&recycling, Stage::EvoformerBlock(1)), a);
        // Inference passes drop nothing.
        assert!(masks(&Pass::inference(&config), Stage::Embed).iter().all(|&v| v == 1.0));
    }
}
