//! Embeddings and Evoformer (AlphaFold's `EmbeddingsAndEvoformer`): embedders, template
//! embedding, extra-MSA stack, template torsion rows, the Evoformer stack, and the single
//! representation.

use burn::prelude::*;

use crate::batch::IterationInputs;
use crate::config::ModelConfig;
use crate::embedders::multimer_template_embedder::MultimerTemplateSingleEmbedding;
use crate::embedders::{
    InputEmbedder, MultimerTemplateEmbedding, Recycled, RecyclingEmbedder, TemplateEmbedding,
    TemplateTorsionEmbedding,
};
use crate::evoformer::{EvoformerBlock, MsaPair};
use crate::params::ParamBuilder;
use crate::plan::{Stage, StageContext};
use crate::primitives::{Linear, LinearInit};

#[derive(Module, Debug)]
pub struct EmbeddingsAndEvoformer<B: Backend> {
    pub input_embedder: InputEmbedder<B>,
    pub recycling_embedder: RecyclingEmbedder<B>,
    pub template_embedding: Option<TemplateEmbedding<B>>,
    pub template_torsion_embedding: Option<TemplateTorsionEmbedding<B>>,
    /// AlphaFold-Multimer's template embedder and its per-residue template rows (in place of
    /// the two above).
    pub multimer_template_embedding: Option<MultimerTemplateEmbedding<B>>,
    pub multimer_template_single_embedding: Option<MultimerTemplateSingleEmbedding<B>>,
    pub extra_msa_activations: Linear<B>,
    pub extra_msa_stack: Vec<EvoformerBlock<B>>,
    pub evoformer_iteration: Vec<EvoformerBlock<B>>,
    pub single_activations: Linear<B>,
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

/// The activations between two stages of the trunk.
#[derive(Debug, Clone)]
pub struct TrunkState<B: Backend> {
    /// The Evoformer's MSA, template torsion rows included: [s + t, r, c_m]
    pub msa: Tensor<B, 3>,
    /// The extra-MSA stack's MSA [e, r, c_e], until its last block (no later stage reads it).
    pub extra_msa: Option<Tensor<B, 3>>,
    /// [r, r, c_z]
    pub pair: Tensor<B, 3>,
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
            let multimer = config.multimer.is_some();
            let templates = config.template.enabled && !multimer;
            let multimer_templates = config.template.enabled && multimer;
            Self {
                input_embedder: InputEmbedder::new(b, config),
                recycling_embedder: RecyclingEmbedder::new(b, config),
                template_embedding: templates.then(|| TemplateEmbedding::new(b, config)),
                template_torsion_embedding: (templates && config.template.embed_torsion_angles)
                    .then(|| TemplateTorsionEmbedding::new(b, config)),
                multimer_template_embedding: multimer_templates.then(|| {
                    MultimerTemplateEmbedding::new(
                        b,
                        &config.template,
                        config.template.template_pair_stack.channels(),
                        config.pair_channel,
                        &config.dropout,
                    )
                }),
                multimer_template_single_embedding: multimer_templates
                    .then(|| MultimerTemplateSingleEmbedding::new(b, config.msa_channel)),
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
            }
        })
    }

    /// Whether the Evoformer's MSA ends with one row per template.
    fn has_template_rows(&self) -> bool {
        self.template_torsion_embedding.is_some()
            || self.multimer_template_single_embedding.is_some()
    }

    /// The masks of one iteration's blocks.
    pub fn masks(&self, inputs: &IterationInputs<B>) -> TrunkMasks<B> {
        TrunkMasks {
            extra_msa: inputs.extra_msa_mask.clone(),
            msa: inputs.evoformer_msa_mask(self.has_template_rows()),
            pair: inputs.pair_mask(),
        }
    }

    /// Everything before the blocks: input and recycling embeddings, template embedding, the
    /// extra-MSA stack's input, and the Evoformer's MSA (with the template torsion rows).
    pub fn embed(
        &self,
        inputs: &IterationInputs<B>,
        prev: &Recycled<B>,
        masks: &TrunkMasks<B>,
        context: &StageContext,
        mut capture: Option<&mut TrunkCapture<B>>,
    ) -> TrunkState<B> {
        let (act, relpos) = self.input_embedder.forward(inputs);
        let MsaPair { mut msa, mut pair } =
            self.recycling_embedder.forward(act, prev, inputs.is_glycine.clone());
        pair = pair + relpos;

        if let (Some(embedding), Some(templates)) = (&self.template_embedding, &inputs.templates) {
            let update = embedding.forward(pair.clone(), templates, masks.pair.clone(), context);
            if let Some(c) = capture.as_deref_mut() {
                c.template_embedding_out = Some(update.clone());
            }
            pair = pair + update;
        }
        if let (Some(embedding), Some(templates)) =
            (&self.multimer_template_embedding, &inputs.multimer_templates)
        {
            let update =
                embedding.forward(pair.clone(), &templates.pair, masks.pair.clone(), context);
            if let Some(c) = capture.as_deref_mut() {
                c.template_embedding_out = Some(update.clone());
            }
            pair = pair + update;
        }

        let extra_msa = self.extra_msa_activations.forward(inputs.extra_msa_feat.clone());
        if let Some(c) = capture {
            c.extra_msa_block0_in = Some(MsaPair { msa: extra_msa.clone(), pair: pair.clone() });
        }
        let num_sequences = msa.dims()[0];
        if let (Some(torsion), Some(templates)) =
            (&self.template_torsion_embedding, &inputs.templates)
        {
            msa = Tensor::cat(vec![msa, torsion.forward(templates.torsion_features.clone())], 0);
        }
        if let (Some(single), Some(templates)) =
            (&self.multimer_template_single_embedding, &inputs.multimer_templates)
        {
            msa = Tensor::cat(vec![msa, single.forward(templates.single_features.clone())], 0);
        }
        TrunkState { msa, extra_msa: Some(extra_msa), pair, num_sequences }
    }

    /// The trunk's blocks, in the order they run.
    pub fn blocks(&self) -> impl Iterator<Item = Stage> {
        (0..self.extra_msa_stack.len())
            .map(Stage::ExtraMsaBlock)
            .chain((0..self.evoformer_iteration.len()).map(Stage::EvoformerBlock))
    }

    /// Runs block `stage` (one of [`Self::blocks`]) on `state`.
    pub fn block(
        &self,
        stage: Stage,
        state: TrunkState<B>,
        masks: &TrunkMasks<B>,
        context: &StageContext,
    ) -> TrunkState<B> {
        let TrunkState { msa, extra_msa, pair, num_sequences } = state;
        match stage {
            Stage::ExtraMsaBlock(k) => {
                let extra_msa = extra_msa.expect("the extra-MSA blocks run before the Evoformer's");
                let out = self.extra_msa_stack[k].forward(
                    MsaPair { msa: extra_msa, pair },
                    masks.extra_msa.clone(),
                    masks.pair.clone(),
                    context,
                );
                let last = k + 1 == self.extra_msa_stack.len();
                TrunkState {
                    msa,
                    extra_msa: (!last).then_some(out.msa),
                    pair: out.pair,
                    num_sequences,
                }
            }
            Stage::EvoformerBlock(k) => {
                let out = self.evoformer_iteration[k].forward(
                    MsaPair { msa, pair },
                    masks.msa.clone(),
                    masks.pair.clone(),
                    context,
                );
                TrunkState { msa: out.msa, extra_msa: None, pair: out.pair, num_sequences }
            }
            Stage::Embed | Stage::StructureAndHeads => panic!("{stage:?} is not a trunk block"),
        }
    }

    /// The representations from the last block's activations.
    pub fn representations(&self, state: TrunkState<B>) -> Representations<B> {
        let [_, r, c_m] = state.msa.dims();
        let msa_first_row = state.msa.clone().narrow(0, 0, 1).reshape([r, c_m]);
        Representations {
            single: self.single_activations.forward(msa_first_row.clone()),
            pair: state.pair,
            msa: state.msa.narrow(0, 0, state.num_sequences),
            msa_first_row,
        }
    }
}
