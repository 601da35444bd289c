//! The network's results on the host, made here and only here: the typed [`Prediction`] that
//! structure prediction writes (atoms and confidences), and [`Outputs`], every output under
//! AlphaFold's flattened names (for `forward --output` and the reference fixtures).

use std::collections::BTreeMap;

use burn::prelude::*;
use ndarray::{Array1, Array2, Array3, ArrayD, Ix2, Ix3};

use crate::alphafold::IterationOutput;
use crate::batch::linspace;
use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::heads::{
    aligned_error_bin_centers, compute_plddt, compute_predicted_aligned_error,
    predicted_interface_tm_score, predicted_tm_score,
};
use crate::host::to_array;

/// Named outputs (AlphaFold's flattened names) as float64 arrays.
pub type Outputs = BTreeMap<String, ArrayD<f64>>;

/// The structure and confidences of one prediction (float64, on the host).
#[derive(Debug, Clone)]
pub struct Prediction {
    /// [r, 37, 3], Å
    pub atom_positions: Array3<f64>,
    /// [r, 37]
    pub atom_mask: Array2<f64>,
    /// \[r\], 0–100
    pub plddt: Array1<f64>,
    /// From the aligned-error head (`_ptm` models).
    pub aligned_error: Option<AlignedError>,
}

/// The aligned-error head's confidences.
#[derive(Debug, Clone)]
pub struct AlignedError {
    /// Expected aligned error of residue j in the frame of residue i: [r, r], Å
    pub predicted_aligned_error: Array2<f64>,
    pub max_predicted_aligned_error: f64,
    pub ptm: f64,
}

impl<B: Backend> IterationOutput<B> {
    /// The prediction; refused when any value is NaN or infinite (weights or inputs that
    /// overflow): such values must never reach a file.
    pub fn prediction(&self, config: &ModelConfig) -> Result<Prediction> {
        let structure = &self.structure;
        let atom_positions = to_array(structure.final_atom_positions.clone());
        let atom_mask = to_array(structure.final_atom_mask.clone());
        let plddt = plddt(&to_array(self.predicted_lddt_logits.clone()), config);
        let aligned_error = self
            .predicted_aligned_error_logits
            .as_ref()
            .map(|logits| aligned_error(&to_array(logits.clone()), config).0);
        refuse_non_finite("structure_module/final_atom_positions", &atom_positions)?;
        refuse_non_finite("structure_module/final_atom_mask", &atom_mask)?;
        refuse_non_finite("plddt", &plddt)?;
        if let Some(a) = &aligned_error {
            refuse_non_finite("predicted_aligned_error", &a.predicted_aligned_error)?;
            refuse_non_finite("ptm", &ndarray::arr0(a.ptm))?;
        }
        Ok(Prediction {
            atom_positions: atom_positions.into_dimensionality::<Ix3>().expect("[r, 37, 3]"),
            atom_mask: atom_mask.into_dimensionality::<Ix2>().expect("[r, 37]"),
            plddt,
            aligned_error,
        })
    }

    /// AlphaFold-Multimer's interface pTM (ipTM) from the aligned-error head, residue pairs
    /// of two different chains (`asym_id` \[r\]) only; `None` without the head.
    pub fn interface_ptm(&self, config: &ModelConfig, asym_id: &[i64]) -> Option<f64> {
        let logits = to_array(self.predicted_aligned_error_logits.clone()?);
        let bins = logits.shape()[2];
        let flat = logits.as_standard_layout();
        let flat = flat.as_slice().expect("standard layout");
        let max_bin = config.heads.predicted_aligned_error_max_error_bin;
        Some(predicted_interface_tm_score(flat, asym_id, bins, max_bin))
    }

    /// [`Self::to_outputs`], refused when any value is NaN or infinite.
    pub fn finite_outputs(&self, config: &ModelConfig) -> Result<Outputs> {
        let outputs = self.to_outputs(config);
        for (name, array) in &outputs {
            refuse_non_finite(name, array)?;
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
        out.insert("distogram/bin_edges".into(), Array1::from(edges).into_dyn());
        out.insert("masked_msa/logits".into(), to_array(self.masked_msa_logits.clone()));
        out.insert(
            "experimentally_resolved/logits".into(),
            to_array(self.experimentally_resolved_logits.clone()),
        );
        let plddt_logits = to_array(self.predicted_lddt_logits.clone());
        out.insert("plddt".into(), plddt(&plddt_logits, config).into_dyn());
        out.insert("predicted_lddt/logits".into(), plddt_logits);
        if let (Some(logits), Some(bins)) =
            (&self.predicted_aligned_error_logits, h.predicted_aligned_error_num_bins)
        {
            let logits = to_array(logits.clone());
            let (summary, probabilities) = aligned_error(&logits, config);
            let (breaks, _) =
                aligned_error_bin_centers(bins, h.predicted_aligned_error_max_error_bin);
            out.insert(
                "predicted_aligned_error".into(),
                summary.predicted_aligned_error.into_dyn(),
            );
            out.insert("aligned_confidence_probs".into(), probabilities);
            out.insert(
                "max_predicted_aligned_error".into(),
                ndarray::arr0(summary.max_predicted_aligned_error).into_dyn(),
            );
            out.insert("ptm".into(), ndarray::arr0(summary.ptm).into_dyn());
            out.insert("predicted_aligned_error/breaks".into(), Array1::from(breaks).into_dyn());
            out.insert("predicted_aligned_error/logits".into(), logits);
        }
        out
    }
}

/// Per-residue pLDDT from the pLDDT head's logits [r, bins].
fn plddt(logits: &ArrayD<f64>, config: &ModelConfig) -> Array1<f64> {
    let flat = logits.as_standard_layout();
    let bins = config.heads.predicted_lddt_num_bins;
    Array1::from(compute_plddt(flat.as_slice().expect("standard layout"), bins))
}

/// The aligned-error summaries and per-pair bin probabilities [r, r, bins] from the head's
/// logits [r, r, bins].
fn aligned_error(logits: &ArrayD<f64>, config: &ModelConfig) -> (AlignedError, ArrayD<f64>) {
    let (residues, bins) = (logits.shape()[0], logits.shape()[2]);
    let max_bin = config.heads.predicted_aligned_error_max_error_bin;
    let flat = logits.as_standard_layout();
    let flat = flat.as_slice().expect("standard layout");
    let (pae, probabilities, max_pae) = compute_predicted_aligned_error(flat, bins, max_bin);
    let summary = AlignedError {
        predicted_aligned_error: Array2::from_shape_vec((residues, residues), pae).expect("[r, r]"),
        max_predicted_aligned_error: max_pae,
        ptm: predicted_tm_score(flat, residues, bins, max_bin),
    };
    let probabilities =
        ArrayD::from_shape_vec(logits.shape().to_vec(), probabilities).expect("[r, r, bins]");
    (summary, probabilities)
}

fn refuse_non_finite<D: ndarray::Dimension>(
    name: &str,
    array: &ndarray::Array<f64, D>,
) -> Result<()> {
    let count = array.iter().filter(|x| !x.is_finite()).count();
    if count > 0 {
        return Err(ModelError::NonFiniteOutput { name: name.to_string(), count });
    }
    Ok(())
}
