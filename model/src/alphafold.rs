//! The whole network with AlphaFold's recycling: iteration `i` reads slice `i` of the batch and
//! the previous iteration's positions, MSA first row and pair (gradients stopped).

use std::collections::BTreeMap;

use burn::prelude::*;
use ndarray::ArrayD;

use crate::batch::{linspace, FeatureBatch, IterationInputs};
use crate::config::ModelConfig;
use crate::embedders::Recycled;
use crate::error::{ModelError, Result};
use crate::evoformer::MsaPair;
use crate::heads::{compute_plddt, compute_predicted_aligned_error, predicted_tm_score, Heads};
use crate::params::{to_array, ParamBuilder, ParamFile, ParamLayout};
use crate::plan::{Pass, Stage, StageContext};
use crate::structure::{StructureModule, StructureOutput};
use crate::trunk::{EmbeddingsAndEvoformer, Representations, TrunkCapture, TrunkState};

#[derive(Module, Debug)]
pub struct AlphaFold<B: Backend> {
    pub evoformer: EmbeddingsAndEvoformer<B>,
    pub structure_module: StructureModule<B>,
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

/// Named outputs (AlphaFold's flattened names) as float64 arrays.
pub type Outputs = BTreeMap<String, ArrayD<f64>>;

impl<B: Backend> AlphaFold<B> {
    /// Builds the network for `config` in `builder`'s scope root (AlphaFold's
    /// `alphafold/alphafold_iteration`).
    pub fn build(builder: &mut ParamBuilder<B>, config: &ModelConfig) -> Self {
        builder.scope("alphafold", |b| {
            b.scope("alphafold_iteration", |b| Self {
                evoformer: EmbeddingsAndEvoformer::new(b, config),
                structure_module: StructureModule::new(
                    b,
                    &config.structure_module,
                    config.seq_channel,
                    config.pair_channel,
                    config.dropout.structure_module,
                ),
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
        let mut last: Option<IterationOutput<B>> = None;
        for (i, inputs) in iterations.into_iter().enumerate() {
            let inputs = inputs?;
            let prev = match &last {
                Some(out) => out.recycled().detach(),
                None => Recycled::zeros(inputs.seq_mask.dims()[0], config, device),
            };
            let out = self.iteration(&inputs, &prev, &pass, None);
            on_iteration(i, &out);
            last = Some(out);
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

    /// [`Self::to_outputs`], refused when any value is NaN or infinite (weights or inputs that
    /// overflow): such outputs must never reach a file.
    pub fn finite_outputs(&self, config: &ModelConfig) -> Result<Outputs> {
        let outputs = self.to_outputs(config);
        for (name, array) in &outputs {
            let count = array.iter().filter(|x| !x.is_finite()).count();
            if count > 0 {
                return Err(ModelError::NonFiniteOutput { name: name.clone(), count });
            }
        }
        Ok(outputs)
    }

    /// Every output under AlphaFold's flattened names, with the confidence summaries.
    pub fn to_outputs(&self, config: &ModelConfig) -> Outputs {
        let mut out = Outputs::new();
        let r = &self.representations;
        out.insert("representations/single".into(), to_array(r.single.clone()));
        out.insert("representations/pair".into(), to_array(r.pair.clone()));
        out.insert("representations/msa".into(), to_array(r.msa.clone()));
        out.insert("representations/msa_first_row".into(), to_array(r.msa_first_row.clone()));
        out.insert("representations/structure_module".into(), to_array(self.structure.act.clone()));
        let s = &self.structure;
        out.insert(
            "structure_module/final_atom_positions".into(),
            to_array(s.final_atom_positions.clone()),
        );
        out.insert("structure_module/final_atom_mask".into(), to_array(s.final_atom_mask.clone()));
        out.insert(
            "structure_module/final_atom14_positions".into(),
            to_array(s.final_atom14_positions.clone()),
        );
        out.insert("structure_module/act".into(), to_array(s.layer_acts.clone()));
        let traj = to_array(s.traj.clone());
        let layers = traj.shape()[0];
        out.insert(
            "structure_module/final_affines".into(),
            traj.index_axis(ndarray::Axis(0), layers - 1).to_owned(),
        );
        out.insert("structure_module/traj".into(), traj);
        let stack = |f: &dyn Fn(&crate::structure::SidechainOutput<B>) -> Tensor<B, 3>| {
            to_array(Tensor::stack::<4>(s.sidechains.iter().map(f).collect(), 0))
        };
        out.insert(
            "structure_module/sidechains/angles_sin_cos".into(),
            stack(&|x| x.angles_sin_cos.clone()),
        );
        out.insert(
            "structure_module/sidechains/unnormalized_angles_sin_cos".into(),
            stack(&|x| x.unnormalized_angles_sin_cos.clone()),
        );
        out.insert("structure_module/sidechains/atom_pos".into(), stack(&|x| x.atom_pos.clone()));
        out.insert("structure_module/sidechains/frames".into(), stack(&|x| x.frames.clone()));

        let h = &config.heads;
        out.insert("distogram/logits".into(), to_array(self.distogram_logits.clone()));
        let edges =
            linspace(h.distogram_first_break, h.distogram_last_break, h.distogram_num_bins - 1);
        out.insert(
            "distogram/bin_edges".into(),
            ArrayD::from_shape_vec(vec![edges.len()], edges).unwrap(),
        );
        out.insert("masked_msa/logits".into(), to_array(self.masked_msa_logits.clone()));
        out.insert(
            "experimentally_resolved/logits".into(),
            to_array(self.experimentally_resolved_logits.clone()),
        );
        let plddt_logits = to_array(self.predicted_lddt_logits.clone());
        let residues = plddt_logits.shape()[0];
        let plddt = compute_plddt(plddt_logits.as_slice().unwrap(), h.predicted_lddt_num_bins);
        out.insert("plddt".into(), ArrayD::from_shape_vec(vec![residues], plddt).unwrap());
        out.insert("predicted_lddt/logits".into(), plddt_logits);
        if let (Some(logits), Some(bins)) =
            (&self.predicted_aligned_error_logits, h.predicted_aligned_error_num_bins)
        {
            let logits = to_array(logits.clone());
            let flat = logits.as_slice().unwrap();
            let (pae, probs, max_pae) = compute_predicted_aligned_error(
                flat,
                bins,
                h.predicted_aligned_error_max_error_bin,
            );
            let ptm =
                predicted_tm_score(flat, residues, bins, h.predicted_aligned_error_max_error_bin);
            let (breaks, _) = crate::heads::aligned_error_bin_centers(
                bins,
                h.predicted_aligned_error_max_error_bin,
            );
            out.insert(
                "predicted_aligned_error".into(),
                ArrayD::from_shape_vec(vec![residues, residues], pae).unwrap(),
            );
            out.insert(
                "aligned_confidence_probs".into(),
                ArrayD::from_shape_vec(logits.shape().to_vec(), probs).unwrap(),
            );
            out.insert("max_predicted_aligned_error".into(), ArrayD::from_elem(vec![], max_pae));
            out.insert("ptm".into(), ArrayD::from_elem(vec![], ptm));
            out.insert(
                "predicted_aligned_error/breaks".into(),
                ArrayD::from_shape_vec(vec![breaks.len()], breaks).unwrap(),
            );
            out.insert("predicted_aligned_error/logits".into(), logits);
        }
        out
    }
}
