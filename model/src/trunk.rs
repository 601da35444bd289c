//! Embeddings and Evoformer (AlphaFold's `EmbeddingsAndEvoformer`): embedders, template
//! embedding, extra-MSA stack, template torsion rows, the Evoformer stack, and the single
//! representation.

use burn::prelude::*;

use crate::batch::IterationInputs;
use crate::config::ModelConfig;
use crate::embedders::{
    InputEmbedder, Recycled, RecyclingEmbedder, TemplateEmbedding, TemplateTorsionEmbedding,
};
use crate::evoformer::{EvoformerBlock, MsaPair};
use crate::params::ParamBuilder;
use crate::primitives::{seed_dropout_stage, Chunking, Linear, LinearInit};

#[derive(Module, Debug)]
pub struct EmbeddingsAndEvoformer<B: Backend> {
    pub input_embedder: InputEmbedder<B>,
    pub recycling_embedder: RecyclingEmbedder<B>,
    pub template_embedding: Option<TemplateEmbedding<B>>,
    pub template_torsion_embedding: Option<TemplateTorsionEmbedding<B>>,
    pub extra_msa_activations: Linear<B>,
    pub extra_msa_stack: Vec<EvoformerBlock<B>>,
    pub evoformer_iteration: Vec<EvoformerBlock<B>>,
    pub single_activations: Linear<B>,
    pub chunk_size: Option<usize>,
    pub key_chunk_size: Option<usize>,
}

/// The trunk's outputs (AlphaFold's `representations`).
#[derive(Debug, Clone)]
pub struct Representations<B: Backend> {
    /// [r, c_s]
    pub single: Tensor<B, 2>,
    /// [r, r, c_z]
    pub pair: Tensor<B, 3>,
    /// The MSA rows (template rows dropped): [s, r, c_m]
    pub msa: Tensor<B, 3>,
    /// [r, c_m]
    pub msa_first_row: Tensor<B, 2>,
}

/// The trunk before its blocks ([`EmbeddingsAndEvoformer::embed`]).
#[derive(Debug, Clone)]
pub struct TrunkStart<B: Backend> {
    /// The Evoformer's MSA input, template torsion rows included: [s + t, r, c_m]
    pub msa: Tensor<B, 3>,
    /// The extra-MSA stack's input: [e, r, c_e] and the pair [r, r, c_z]
    pub extra: MsaPair<B>,
    /// MSA rows before the template rows.
    pub num_sequences: usize,
}

/// The masks every block of an iteration reads, computed once
/// ([`EmbeddingsAndEvoformer::masks`]).
#[derive(Debug, Clone)]
pub struct TrunkMasks<B: Backend> {
    /// Extra-MSA rows: [e, r]
    pub extra_msa: Tensor<B, 2>,
    /// The Evoformer's MSA rows, template torsion rows included: [s (+ t), r]
    pub msa: Tensor<B, 2>,
    /// [r, r]
    pub pair: Tensor<B, 2>,
}

/// Dropout stages (see [`seed_dropout_stage`]): the embedding, each block, the structure
/// module and heads.
pub const STAGE_EMBEDDING: u64 = 0;
pub const STAGE_EXTRA_MSA_BLOCK: u64 = 1_000;
pub const STAGE_EVOFORMER_BLOCK: u64 = 2_000;
pub const STAGE_STRUCTURE_MODULE: u64 = 3_000;

/// Activations captured inside the trunk, for block-level parity tests.
#[derive(Debug, Clone, Default)]
pub struct TrunkCapture<B: Backend> {
    pub template_embedding_out: Option<Tensor<B, 3>>,
    pub extra_msa_block0_in: Option<MsaPair<B>>,
    pub evoformer_block0_in: Option<MsaPair<B>>,
}

impl<B: Backend> EmbeddingsAndEvoformer<B> {
    pub fn new(builder: &mut ParamBuilder<B>, config: &ModelConfig) -> Self {
        builder.scope("evoformer", |b| {
            let templates = config.template.enabled;
            Self {
                input_embedder: InputEmbedder::new(b, config),
                recycling_embedder: RecyclingEmbedder::new(b, config),
                template_embedding: templates.then(|| TemplateEmbedding::new(b, config)),
                template_torsion_embedding: (templates && config.template.embed_torsion_angles)
                    .then(|| TemplateTorsionEmbedding::new(b, config)),
                extra_msa_activations: Linear::new(
                    b,
                    "extra_msa_activations",
                    25,
                    config.extra_msa_channel,
                    LinearInit::Default,
                ),
                extra_msa_stack: b.stacked(
                    "extra_msa_stack",
                    config.extra_msa_stack_num_block,
                    |b| {
                        EvoformerBlock::new(
                            b,
                            &config.evoformer,
                            config.extra_msa_channel,
                            config.pair_channel,
                            true,
                            &config.dropout,
                        )
                    },
                ),
                evoformer_iteration: b.stacked(
                    "evoformer_iteration",
                    config.evoformer_num_block,
                    |b| {
                        EvoformerBlock::new(
                            b,
                            &config.evoformer,
                            config.msa_channel,
                            config.pair_channel,
                            false,
                            &config.dropout,
                        )
                    },
                ),
                single_activations: Linear::new(
                    b,
                    "single_activations",
                    config.msa_channel,
                    config.seq_channel,
                    LinearInit::Default,
                ),
                chunk_size: config.chunk_size,
                key_chunk_size: config.key_chunk_size,
            }
        })
    }

    /// The whole trunk: [`Self::embed`], the extra-MSA blocks, the Evoformer blocks and
    /// [`Self::representations`].
    pub fn forward(
        &self,
        inputs: &IterationInputs<B>,
        prev: &Recycled<B>,
        mut capture: Option<&mut TrunkCapture<B>>,
    ) -> Representations<B> {
        let masks = self.masks(inputs);
        let start = self.embed(inputs, prev, &masks, capture.as_deref_mut());
        let mut extra = start.extra;
        for k in 0..self.extra_msa_stack.len() {
            extra = self.extra_msa_block(k, extra, &masks);
        }
        let mut act = MsaPair { msa: start.msa, pair: extra.pair };
        if let Some(c) = capture {
            c.evoformer_block0_in = Some(act.clone());
        }
        for k in 0..self.evoformer_iteration.len() {
            act = self.evoformer_block(k, act, &masks);
        }
        self.representations(act, start.num_sequences)
    }

    /// The masks of one iteration's blocks.
    pub fn masks(&self, inputs: &IterationInputs<B>) -> TrunkMasks<B> {
        TrunkMasks {
            extra_msa: inputs.extra_msa_mask.clone(),
            msa: inputs.evoformer_msa_mask(self.template_torsion_embedding.is_some()),
            pair: inputs.pair_mask(),
        }
    }

    fn chunking(&self) -> Chunking {
        Chunking { rows: self.chunk_size, keys: self.key_chunk_size }
    }

    /// Everything before the blocks: input and recycling embeddings, template embedding, the
    /// extra-MSA stack's input, and the Evoformer's MSA (with the template torsion rows).
    pub fn embed(
        &self,
        inputs: &IterationInputs<B>,
        prev: &Recycled<B>,
        masks: &TrunkMasks<B>,
        mut capture: Option<&mut TrunkCapture<B>>,
    ) -> TrunkStart<B> {
        seed_dropout_stage(STAGE_EMBEDDING);
        let (act, relpos) = self.input_embedder.forward(inputs);
        let MsaPair { mut msa, mut pair } =
            self.recycling_embedder.forward(act, prev, inputs.is_glycine.clone());
        pair = pair + relpos;

        if let (Some(embedding), Some(templates)) = (&self.template_embedding, &inputs.templates) {
            let update =
                embedding.forward(pair.clone(), templates, masks.pair.clone(), self.chunking());
            if let Some(c) = capture.as_deref_mut() {
                c.template_embedding_out = Some(update.clone());
            }
            pair = pair + update;
        }

        let extra = MsaPair {
            msa: self.extra_msa_activations.forward(inputs.extra_msa_feat.clone()),
            pair,
        };
        if let Some(c) = capture {
            c.extra_msa_block0_in = Some(extra.clone());
        }
        let num_sequences = msa.dims()[0];
        if let (Some(torsion), Some(templates)) =
            (&self.template_torsion_embedding, &inputs.templates)
        {
            msa = Tensor::cat(vec![msa, torsion.forward(templates.torsion_features.clone())], 0);
        }
        TrunkStart { msa, extra, num_sequences }
    }

    /// Block `k` of the extra-MSA stack.
    pub fn extra_msa_block(&self, k: usize, act: MsaPair<B>, masks: &TrunkMasks<B>) -> MsaPair<B> {
        seed_dropout_stage(STAGE_EXTRA_MSA_BLOCK + k as u64);
        self.extra_msa_stack[k].forward(
            act,
            masks.extra_msa.clone(),
            masks.pair.clone(),
            self.chunking(),
        )
    }

    /// Block `k` of the Evoformer stack.
    pub fn evoformer_block(&self, k: usize, act: MsaPair<B>, masks: &TrunkMasks<B>) -> MsaPair<B> {
        seed_dropout_stage(STAGE_EVOFORMER_BLOCK + k as u64);
        self.evoformer_iteration[k].forward(
            act,
            masks.msa.clone(),
            masks.pair.clone(),
            self.chunking(),
        )
    }

    /// The representations from the last block's activations (`num_sequences` MSA rows before
    /// the template rows).
    pub fn representations(&self, act: MsaPair<B>, num_sequences: usize) -> Representations<B> {
        let [_, r, c_m] = act.msa.dims();
        let msa_first_row = act.msa.clone().narrow(0, 0, 1).reshape([r, c_m]);
        Representations {
            single: self.single_activations.forward(msa_first_row.clone()),
            pair: act.pair,
            msa: act.msa.narrow(0, 0, num_sequences),
            msa_first_row,
        }
    }
}
