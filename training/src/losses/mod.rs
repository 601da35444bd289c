//! AlphaFold2's training loss (Jumper et al. 2021, Suppl. Sec. 1.9): the structure module's FAPE,
//! torsion and violation terms plus the heads' losses, weighted as DeepMind's configuration
//! weights them.

pub mod chi;
pub mod fape;
pub mod heads;
pub mod violations;

use std::collections::BTreeMap;

use burn::prelude::*;
use ferrofold_model::host::host_tensor;
use ferrofold_model::IterationOutput;
use ndarray::{Array2, ArrayD};

pub use crate::labels::host;
use crate::labels::LabelTensors;
use violations::ViolationConfig;

pub(crate) fn to_device<B: Backend, const D: usize>(
    values: ArrayD<f64>,
    device: &B::Device,
) -> Tensor<B, D> {
    host_tensor(values, device)
}

/// Weights and parameters of every term. The presets follow DeepMind's configuration and the
/// paper's two training phases.
#[derive(Debug, Clone)]
pub struct LossConfig {
    /// FAPE: distances clamped at `fape_clamp` Å and divided by `fape_length_scale`.
    pub fape_clamp: f64,
    pub fape_length_scale: f64,
    /// Fraction of the backbone FAPE that is clamped (AlphaFold: 90% of samples are clamped,
    /// 10% not; a fraction mixes both deterministically).
    pub fape_clamped_fraction: f64,
    pub sidechain_clamp: f64,
    pub sidechain_length_scale: f64,
    /// Weight of the side-chain FAPE against the mean backbone FAPE (0.5: half each).
    pub sidechain_weight_fraction: f64,
    pub chi_weight: f64,
    pub angle_norm_weight: f64,
    pub violation_weight: f64,
    pub violation: ViolationConfig,
    pub structure_module_weight: f64,
    pub distogram_weight: f64,
    pub distogram_first_break: f64,
    pub distogram_last_break: f64,
    pub masked_msa_weight: f64,
    pub predicted_lddt_weight: f64,
    pub lddt_cutoff: f64,
    pub experimentally_resolved_weight: f64,
    pub predicted_aligned_error_weight: f64,
    pub predicted_aligned_error_max_bin: f64,
    /// The confidence heads learn only from structures in this resolution range (Å).
    pub min_resolution: f64,
    pub max_resolution: f64,
}

impl LossConfig {
    /// DeepMind's model configuration as released (`model_1`'s heads): violations and the
    /// experimentally-resolved head on, predicted aligned error off.
    pub fn alphafold() -> Self {
        Self {
            fape_clamp: 10.0,
            fape_length_scale: 10.0,
            fape_clamped_fraction: 1.0,
            sidechain_clamp: 10.0,
            sidechain_length_scale: 10.0,
            sidechain_weight_fraction: 0.5,
            chi_weight: 0.5,
            angle_norm_weight: 0.01,
            violation_weight: 1.0,
            violation: ViolationConfig::default(),
            structure_module_weight: 1.0,
            distogram_weight: 0.3,
            distogram_first_break: 2.3125,
            distogram_last_break: 21.6875,
            masked_msa_weight: 2.0,
            predicted_lddt_weight: 0.01,
            lddt_cutoff: 15.0,
            experimentally_resolved_weight: 0.01,
            predicted_aligned_error_weight: 0.0,
            predicted_aligned_error_max_bin: 31.0,
            min_resolution: 0.1,
            max_resolution: 3.0,
        }
    }

    /// Initial training (Suppl. Table 4): no violation or experimentally-resolved terms, 90%
    /// of the backbone FAPE clamped.
    pub fn initial_training() -> Self {
        Self {
            violation_weight: 0.0,
            experimentally_resolved_weight: 0.0,
            fape_clamped_fraction: 0.9,
            ..Self::alphafold()
        }
    }

    /// Fine-tuning: violations (1.0) and experimentally resolved (0.01) switched on.
    pub fn fine_tuning() -> Self {
        Self { fape_clamped_fraction: 0.9, ..Self::alphafold() }
    }

    /// Adds the predicted-aligned-error head's loss (weight 0.1), for the `_ptm` models.
    pub fn with_predicted_aligned_error(self) -> Self {
        Self { predicted_aligned_error_weight: 0.1, ..self }
    }
}

/// What the losses read from the network: the structure module's trajectory and last-layer
/// side chains, and every head's logits.
#[derive(Debug, Clone)]
pub struct Predictions<B: Backend> {
    /// [L, r, 7]
    pub traj: Tensor<B, 3>,
    /// The last layer's rigid-group frames [r, 8, 12] and atoms [r, 14, 3].
    pub sidechain_frames: Tensor<B, 3>,
    pub atom14_positions: Tensor<B, 3>,
    /// Every layer's torsions: [L, r, 7, 2].
    pub angles_sin_cos: Tensor<B, 4>,
    pub unnormalized_angles_sin_cos: Tensor<B, 4>,
    /// [r, 37, 3]
    pub final_atom_positions: Tensor<B, 3>,
    pub distogram_logits: Tensor<B, 3>,
    pub masked_msa_logits: Tensor<B, 3>,
    pub predicted_lddt_logits: Tensor<B, 2>,
    pub experimentally_resolved_logits: Tensor<B, 2>,
    pub predicted_aligned_error_logits: Option<Tensor<B, 3>>,
}

impl<B: Backend> Predictions<B> {
    pub fn from_iteration(out: &IterationOutput<B>) -> Self {
        let s = &out.structure;
        let last = s.sidechains.last().expect("at least one structure-module layer");
        let stack =
            |f: &dyn Fn(&ferrofold_model::structure::SidechainOutput<B>) -> Tensor<B, 3>| {
                Tensor::stack::<4>(s.sidechains.iter().map(f).collect(), 0)
            };
        Self {
            traj: s.traj.clone(),
            sidechain_frames: last.frames.clone(),
            atom14_positions: last.atom_pos.clone(),
            angles_sin_cos: stack(&|x| x.angles_sin_cos.clone()),
            unnormalized_angles_sin_cos: stack(&|x| x.unnormalized_angles_sin_cos.clone()),
            final_atom_positions: s.final_atom_positions.clone(),
            distogram_logits: out.distogram_logits.clone(),
            masked_msa_logits: out.masked_msa_logits.clone(),
            predicted_lddt_logits: out.predicted_lddt_logits.clone(),
            experimentally_resolved_logits: out.experimentally_resolved_logits.clone(),
            predicted_aligned_error_logits: out.predicted_aligned_error_logits.clone(),
        }
    }
}

/// The masked-MSA head's targets: the MSA before BERT corruption and where it was corrupted,
/// [s, r] each (the batch's `true_msa` and `bert_mask`).
#[derive(Debug, Clone)]
pub struct MsaTargets {
    pub true_msa: Array2<i32>,
    pub bert_mask: Array2<f64>,
}

/// The total loss (differentiable) and every term, weighted terms under their AlphaFold names
/// and unweighted metrics alongside.
#[derive(Debug, Clone)]
pub struct LossBreakdown<B: Backend> {
    pub total: Tensor<B, 1>,
    /// Unweighted terms (`fape`, `sidechain_fape`, `chi_loss`, `distogram`, ...), one-element
    /// tensors (still attached to the graph).
    pub terms: BTreeMap<String, Tensor<B, 1>>,
    /// Metrics without gradients: lDDT-Cα of the prediction, violation fractions.
    pub metrics: BTreeMap<String, f64>,
}

impl<B: Backend> LossBreakdown<B> {
    /// Every term and metric as numbers, with `loss` the total.
    pub fn values(&self) -> BTreeMap<String, f64> {
        let scalar = |t: &Tensor<B, 1>| host(t.clone())[[0]];
        let mut out: BTreeMap<String, f64> =
            self.terms.iter().map(|(k, t)| (k.clone(), scalar(t))).collect();
        out.extend(self.metrics.clone());
        out.insert("loss".into(), scalar(&self.total));
        out
    }
}

/// AlphaFold's loss on one prediction. Terms with weight zero are skipped entirely.
pub fn alphafold_loss<B: Backend>(
    pred: &Predictions<B>,
    labels: &LabelTensors<B>,
    msa: &MsaTargets,
    config: &LossConfig,
) -> LossBreakdown<B> {
    let mut terms = BTreeMap::new();
    let mut metrics = BTreeMap::new();

    // Structure module (AlphaFold's `StructureModule.loss`).
    let backbone = fape::backbone_fape_per_layer(
        pred.traj.clone(),
        labels,
        config.fape_length_scale,
        config.fape_clamp,
        config.fape_clamped_fraction,
    );
    let layers = backbone.dims()[0];
    terms.insert("fape".into(), backbone.clone().narrow(0, layers - 1, 1));
    let renamed = fape::rename_symmetric_ground_truth(pred.atom14_positions.clone(), labels);
    let sidechain = fape::sidechain_fape(
        pred.sidechain_frames.clone(),
        pred.atom14_positions.clone(),
        &renamed,
        labels,
        config.sidechain_length_scale,
        config.sidechain_clamp,
    );
    let chi = chi::supervised_chi_loss(pred.angles_sin_cos.clone(), labels);
    let angle_norm = chi::angle_norm_loss(pred.unnormalized_angles_sin_cos.clone(), labels);
    let fraction = config.sidechain_weight_fraction;
    let mut structure = backbone.mean().mul_scalar(1.0 - fraction)
        + sidechain.clone().mul_scalar(fraction)
        + chi.clone().mul_scalar(config.chi_weight)
        + angle_norm.clone().mul_scalar(config.angle_norm_weight);
    if config.violation_weight != 0.0 {
        let violations = violations::find_structural_violations(
            pred.atom14_positions.clone(),
            labels,
            &config.violation,
        );
        let loss = violations.loss(labels);
        metrics.insert("violations_per_residue".into(), violations.per_residue_fraction());
        structure = structure + loss.clone().mul_scalar(config.violation_weight);
        terms.insert("structural_violation".into(), loss);
    }
    terms.insert("sidechain_fape".into(), sidechain);
    terms.insert("chi_loss".into(), chi);
    terms.insert("angle_norm_loss".into(), angle_norm);
    terms.insert("structure_module".into(), structure.clone());
    let mut total = structure.mul_scalar(config.structure_module_weight);

    let distogram = heads::distogram_loss(
        pred.distogram_logits.clone(),
        labels,
        config.distogram_first_break,
        config.distogram_last_break,
    );
    total = total + distogram.clone().mul_scalar(config.distogram_weight);
    terms.insert("distogram".into(), distogram);

    let masked_msa =
        heads::masked_msa_loss(pred.masked_msa_logits.clone(), &msa.true_msa, &msa.bert_mask);
    total = total + masked_msa.clone().mul_scalar(config.masked_msa_weight);
    terms.insert("masked_msa".into(), masked_msa);

    let resolution =
        heads::resolution_filter(labels.resolution, config.min_resolution, config.max_resolution);
    let (plddt, lddt) = heads::predicted_lddt_loss(
        pred.predicted_lddt_logits.clone(),
        pred.final_atom_positions.clone(),
        labels,
        config.lddt_cutoff,
    );
    metrics.insert("lddt_ca".into(), lddt.mean());
    let plddt = plddt.mul_scalar(resolution);
    total = total + plddt.clone().mul_scalar(config.predicted_lddt_weight);
    terms.insert("predicted_lddt".into(), plddt);

    if config.experimentally_resolved_weight != 0.0 {
        let loss = heads::experimentally_resolved_loss(
            pred.experimentally_resolved_logits.clone(),
            labels,
        )
        .mul_scalar(resolution);
        total = total + loss.clone().mul_scalar(config.experimentally_resolved_weight);
        terms.insert("experimentally_resolved".into(), loss);
    }
    if let (Some(logits), true) =
        (&pred.predicted_aligned_error_logits, config.predicted_aligned_error_weight != 0.0)
    {
        let final_affine =
            pred.traj.clone().narrow(0, layers - 1, 1).reshape([pred.traj.dims()[1], 7]);
        let loss = heads::predicted_aligned_error_loss(
            logits.clone(),
            final_affine,
            labels,
            config.predicted_aligned_error_max_bin,
        )
        .mul_scalar(resolution);
        total = total + loss.clone().mul_scalar(config.predicted_aligned_error_weight);
        terms.insert("predicted_aligned_error".into(), loss);
    }
    LossBreakdown { total, terms, metrics }
}
