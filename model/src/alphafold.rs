//! The whole network with AlphaFold's recycling: iteration `i` reads slice `i` of the batch and
//! the previous iteration's positions, MSA first row and pair (gradients stopped).

use burn::prelude::*;

use crate::batch::{FeatureBatch, IterationInputs};
use crate::config::ModelConfig;
use crate::embedders::Recycled;
use crate::error::{ModelError, Result};
use crate::evoformer::MsaPair;
use crate::heads::Heads;
use crate::params::{ParamBuilder, ParamFile, ParamLayout};
use crate::plan::{Pass, Stage, StageContext};
use crate::structure::{Folding, MultimerStructureModule, StructureModule, StructureOutput};
use crate::trunk::{EmbeddingsAndEvoformer, Representations, TrunkCapture, TrunkState};

#[derive(Module, Debug)]
pub struct AlphaFold<B: Backend> {
    pub evoformer: EmbeddingsAndEvoformer<B>,
    pub structure_module: Folding<B>,
    pub heads: Heads<B>,
}

/// One iteration's results, as tensors.
#[derive(Debug, Clone)]
pub struct IterationOutput<B: Backend> {
    pub representations: Representations<B>,
    pub structure: StructureOutput<B>,
    pub distogram_logits: Tensor<B, 3>,
    pub masked_msa_logits: Tensor<B, 3>,
    pub experimentally_resolved_logits: Tensor<B, 2>,
    pub predicted_lddt_logits: Tensor<B, 2>,
    pub predicted_aligned_error_logits: Option<Tensor<B, 3>>,
}

impl<B: Backend> AlphaFold<B> {
    /// Builds the network for `config` in `builder`'s scope root (AlphaFold's
    /// `alphafold/alphafold_iteration`).
    pub fn build(builder: &mut ParamBuilder<B>, config: &ModelConfig) -> Self {
        builder.scope("alphafold", |b| {
            b.scope("alphafold_iteration", |b| Self {
                evoformer: EmbeddingsAndEvoformer::new(b, config),
                structure_module: {
                    let (c, s, z) =
                        (&config.structure_module, config.seq_channel, config.pair_channel);
                    let dropout = config.dropout.structure_module;
                    match config.multimer {
                        None => Folding::Monomer(StructureModule::new(b, c, s, z, dropout)),
                        Some(_) => {
                            Folding::Multimer(MultimerStructureModule::new(b, c, s, z, dropout))
                        }
                    }
                },
                heads: Heads::new(
                    b,
                    &config.heads,
                    config.msa_channel,
                    config.pair_channel,
                    config.seq_channel,
                    config.structure_module.num_channel,
                ),
            })
        })
    }

    /// Loads a parameter file, failing with every mismatch listed.
    pub fn load(file: &ParamFile, config: &ModelConfig, device: &B::Device) -> Result<Self> {
        Self::load_with_layout(file, config, device).map(|(model, _)| model)
    }

    /// [`Self::load`], consuming the file: each of its tensors is freed as soon as the network
    /// has taken it, so loading holds about one copy of the parameters at a time, not two.
    pub fn load_owned(file: ParamFile, config: &ModelConfig, device: &B::Device) -> Result<Self> {
        let mut builder = ParamBuilder::from_owned_file(file, device);
        let model = Self::build(&mut builder, config);
        builder.finish(&config.name)?;
        Ok(model)
    }

    /// [`Self::load`], with where each parameter lives in the file (to save it back).
    pub fn load_with_layout(
        file: &ParamFile,
        config: &ModelConfig,
        device: &B::Device,
    ) -> Result<(Self, ParamLayout)> {
        let mut builder = ParamBuilder::from_file(file, device);
        let model = Self::build(&mut builder, config);
        let layout = builder.layout().clone();
        builder.finish(&config.name)?;
        Ok((model, layout))
    }

    /// A new network with AlphaFold's initialisers, drawn from `seed`.
    pub fn init(config: &ModelConfig, seed: u64, device: &B::Device) -> (Self, ParamLayout) {
        let mut builder = ParamBuilder::random(seed, device);
        let model = Self::build(&mut builder, config);
        (model, builder.layout().clone())
    }

    /// One iteration on slice `inputs`, given the previous iteration's results: the plan's
    /// stages in order ([`Stage::Embed`], the trunk's blocks, [`Stage::StructureAndHeads`]),
    /// each with its context from `pass`.
    pub fn iteration(
        &self,
        inputs: &IterationInputs<B>,
        prev: &Recycled<B>,
        pass: &Pass,
        mut capture: Option<&mut TrunkCapture<B>>,
    ) -> IterationOutput<B> {
        let trunk = &self.evoformer;
        let masks = trunk.masks(inputs);
        let embed = pass.context(Stage::Embed);
        let mut state = trunk.embed(inputs, prev, &masks, &embed, capture.as_deref_mut());
        for block in trunk.blocks() {
            if let (Stage::EvoformerBlock(0), Some(c)) = (block, capture.as_deref_mut()) {
                c.evoformer_block0_in =
                    Some(MsaPair { msa: state.msa.clone(), pair: state.pair.clone() });
            }
            state = trunk.block(block, state, &masks, &pass.context(block));
        }
        self.structure_and_heads(state, inputs, &pass.context(Stage::StructureAndHeads))
    }

    /// The last stage: the single representation, the structure module and the heads on the
    /// last block's activations.
    pub fn structure_and_heads(
        &self,
        state: TrunkState<B>,
        inputs: &IterationInputs<B>,
        context: &StageContext,
    ) -> IterationOutput<B> {
        let representations = self.evoformer.representations(state);
        let structure = self.structure_module.forward(
            representations.single.clone(),
            representations.pair.clone(),
            inputs.seq_mask.clone(),
            &inputs.residue_tables,
            &context.dropout,
        );
        IterationOutput {
            distogram_logits: self.heads.distogram.forward(representations.pair.clone()),
            masked_msa_logits: self.heads.masked_msa.forward(representations.msa.clone()),
            experimentally_resolved_logits: self
                .heads
                .experimentally_resolved
                .forward(representations.single.clone()),
            predicted_lddt_logits: self.heads.predicted_lddt.forward(structure.act.clone()),
            predicted_aligned_error_logits: self
                .heads
                .predicted_aligned_error
                .as_ref()
                .map(|h| h.forward(representations.pair.clone())),
            representations,
            structure,
        }
    }

    /// The inference forward pass (no dropout, chunked as `config` says) with recycling over
    /// the batch's leading axis; `on_iteration` sees each iteration's index and output (for
    /// progress and captures).
    pub fn forward(
        &self,
        batch: &FeatureBatch,
        config: &ModelConfig,
        device: &B::Device,
        on_iteration: impl FnMut(usize, &IterationOutput<B>),
    ) -> Result<IterationOutput<B>> {
        let iterations = batch.num_iterations()?;
        batch.num_residues()?;
        let inputs = (0..iterations).map(|i| batch.iteration::<B>(i, config, device));
        self.forward_each(inputs, config, device, on_iteration)
    }

    /// The forward pass with recycling over iterations given one at a time (each one's inputs
    /// are made only when it runs, so memory does not grow with the number of recycles).
    pub fn forward_each(
        &self,
        iterations: impl IntoIterator<Item = Result<IterationInputs<B>>>,
        config: &ModelConfig,
        device: &B::Device,
        mut on_iteration: impl FnMut(usize, &IterationOutput<B>),
    ) -> Result<IterationOutput<B>> {
        let pass = Pass::inference(config);
        let tolerance = config.multimer.as_ref().map(|m| m.recycle_early_stop_tolerance);
        let mut last: Option<IterationOutput<B>> = None;
        // AlphaFold-Multimer stops recycling early: once an iteration moves the structure by at
        // most the tolerance, one more iteration runs and is the last.
        let mut final_iteration = None;
        for (i, inputs) in iterations.into_iter().enumerate() {
            let inputs = inputs?;
            let prev = match &last {
                Some(out) => out.recycled().detach(),
                None => Recycled::zeros(inputs.seq_mask.dims()[0], config, device),
            };
            let out = self.iteration(&inputs, &prev, &pass, None);
            on_iteration(i, &out);
            let done = final_iteration == Some(i);
            if let (Some(tolerance), None) = (tolerance, final_iteration) {
                let change = ca_distance_change(
                    prev.positions,
                    out.structure.final_atom_positions.clone(),
                    inputs.seq_mask.clone(),
                );
                if change <= tolerance {
                    final_iteration = Some(i + 1);
                }
            }
            last = Some(out);
            if done {
                break;
            }
        }
        last.ok_or_else(|| ModelError::Batch {
            name: "aatype".into(),
            message: "no iteration on the leading axis".into(),
        })
    }
}

impl<B: Backend> IterationOutput<B> {
    /// What the next iteration receives: positions, MSA first row and pair.
    pub fn recycled(&self) -> Recycled<B> {
        Recycled {
            positions: self.structure.final_atom_positions.clone(),
            msa_first_row: self.representations.msa_first_row.clone(),
            pair: self.representations.pair.clone(),
        }
    }
}

/// How far the structure moved between two iterations (AlphaFold-Multimer's early-stop
/// criterion, after AF2Complex): the root mean square change of the CA–CA distances over pairs
/// of present residues; positions [r, 37, 3], `seq_mask` \[r\].
pub fn ca_distance_change<B: Backend>(
    before: Tensor<B, 3>,
    after: Tensor<B, 3>,
    seq_mask: Tensor<B, 1>,
) -> f64 {
    let [r, _, _] = after.dims();
    let distances = |positions: Tensor<B, 3>| {
        let ca = positions.narrow(1, 1, 1).reshape([r, 3]);
        let diff = ca.clone().unsqueeze_dim::<3>(1) - ca.unsqueeze_dim::<3>(0);
        diff.powi_scalar(2).sum_dim(2).sqrt().reshape([r, r])
    };
    let pair_mask = seq_mask.clone().unsqueeze_dim::<2>(1) * seq_mask.unsqueeze_dim::<2>(0);
    let squared = (distances(before) - distances(after)).powi_scalar(2);
    let sum: f64 = (squared * pair_mask.clone()).sum().into_scalar().elem();
    let count: f64 = pair_mask.sum().into_scalar().elem();
    (sum / (count + 1e-10) + 1e-8).sqrt()
}
