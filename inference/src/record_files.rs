//! The files of a predicted record: `ranked_k.pdb` and `.cif` (every chain), `confidence.json`,
//! `pae.json`, `ranking.json` and the plots.

use std::path::{Path, PathBuf};

use ferrofold_features::feature_dict::write_bytes_atomically;
use ferrofold_features::protein::Protein;
use ferrofold_features::writers::{complex_to_mmcif, complex_to_pdb};
use ndarray::Array2;
use serde::Serialize;

use crate::bundled;
use crate::error::{InferenceError, Result};
use crate::plots;

/// One model's result for one record.
#[derive(Debug, Clone, Serialize)]
pub struct ModelResult {
    pub model: String,
    pub preset: String,
    /// The bundled low-accuracy model made it.
    pub bundled: bool,
    /// The parameter file (or `bundled`).
    pub weights: String,
    pub mean_plddt: f64,
    pub ptm: Option<f64>,
    /// Interface pTM (complexes): pTM over residue pairs of two different chains.
    pub iptm: Option<f64>,
    /// The ranking key: 0.8·ipTM + 0.2·pTM for complexes, pTM for `_ptm` models, else mean
    /// pLDDT / 100.
    pub ranking_confidence: f64,
    pub plddt: Vec<f64>,
    #[serde(skip)]
    pub predicted_aligned_error: Option<Array2<f64>>,
    #[serde(skip)]
    pub max_predicted_aligned_error: Option<f64>,
    /// The predicted chains (one for a single chain; ids A, B, …).
    #[serde(skip)]
    pub chains: Vec<Protein>,
    pub seconds: f64,
}

/// Everything written for one record.
#[derive(Debug, Clone)]
pub struct RecordResult {
    pub id: String,
    pub dir: PathBuf,
    /// Best first.
    pub ranked: Vec<ModelResult>,
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    write_bytes_atomically(path, text.as_bytes())?;
    Ok(())
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("plain data serialises")
}

#[derive(Serialize)]
struct Confidence<'a> {
    model: &'a str,
    preset: &'a str,
    weights: &'a str,
    low_accuracy_bundled_model: bool,
    mean_plddt: f64,
    ptm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iptm: Option<f64>,
    ranking_confidence: f64,
    plddt: &'a [f64],
    /// The chains' sequences, `:` between chains (ColabFold's notation).
    sequence: String,
    /// Per chain of a complex: id, sequence, mean pLDDT.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    chains: Vec<ChainConfidence>,
    timings: Timings,
}

#[derive(Serialize)]
struct ChainConfidence {
    id: String,
    sequence: String,
    residues: usize,
    mean_plddt: f64,
}

#[derive(Serialize)]
struct Timings {
    features_seconds: f64,
    model_seconds: f64,
}

/// AlphaFold DB's PAE file: a list with one object.
#[derive(Serialize)]
struct PaeFile {
    predicted_aligned_error: Vec<Vec<f64>>,
    max_predicted_aligned_error: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ptm: Option<f64>,
}

#[derive(Serialize)]
struct Ranking<'a> {
    /// Best first.
    order: Vec<&'a str>,
    ranking_confidence: std::collections::BTreeMap<&'a str, f64>,
    mean_plddt: std::collections::BTreeMap<&'a str, f64>,
    ranked_by: &'a str,
}

/// Writes the record's files into `dir`; any failure is an [`InferenceError::Output`].
pub(crate) fn write_record(
    result: &RecordResult,
    dir: &Path,
    plots: bool,
    featurize_seconds: f64,
) -> Result<()> {
    // Errors name the file as the user will find it, not its staging path.
    let failed = |name: &str, e: InferenceError| InferenceError::output(&result.dir.join(name), e);
    let write = |name: String, text: String| -> Result<()> {
        write_text(&dir.join(&name), &text).map_err(|e| failed(&name, e))
    };
    for (rank, m) in result.ranked.iter().enumerate() {
        let mut remarks =
            vec![format!("ferrofold model {} (preset {}), rank {rank}", m.model, m.preset)];
        if m.bundled {
            remarks.push(bundled::remark());
        }
        remarks.push("B-factor column: pLDDT (0-100)".into());
        write(format!("ranked_{rank}.pdb"), complex_to_pdb(&m.chains, &remarks))?;
        write(
            format!("ranked_{rank}.cif"),
            complex_to_mmcif(&m.chains, &format!("{}_ranked_{rank}", result.id)),
        )?;
    }
    let best = &result.ranked[0];
    let confidence = Confidence {
        model: &best.model,
        preset: &best.preset,
        weights: &best.weights,
        low_accuracy_bundled_model: best.bundled,
        mean_plddt: best.mean_plddt,
        ptm: best.ptm,
        iptm: best.iptm,
        ranking_confidence: best.ranking_confidence,
        plddt: &best.plddt,
        sequence: best.chains.iter().map(Protein::sequence).collect::<Vec<_>>().join(":"),
        chains: chain_confidences(best),
        timings: Timings { features_seconds: featurize_seconds, model_seconds: best.seconds },
    };
    write("confidence.json".into(), json(&confidence))?;
    if let (Some(pae), Some(max)) =
        (&best.predicted_aligned_error, best.max_predicted_aligned_error)
    {
        let file = [PaeFile {
            predicted_aligned_error: pae
                .outer_iter()
                .map(|row| row.iter().map(|v| (v * 100.0).round() / 100.0).collect())
                .collect(),
            max_predicted_aligned_error: max,
            ptm: best.ptm,
        }];
        write("pae.json".into(), json(&file))?;
    }
    let ranking = Ranking {
        order: result.ranked.iter().map(|m| m.model.as_str()).collect(),
        ranking_confidence: result
            .ranked
            .iter()
            .map(|m| (m.model.as_str(), m.ranking_confidence))
            .collect(),
        mean_plddt: result.ranked.iter().map(|m| (m.model.as_str(), m.mean_plddt)).collect(),
        ranked_by: match (best.iptm, best.ptm) {
            (Some(_), _) => "0.8*iptm+0.2*ptm",
            (None, Some(_)) => "ptm",
            (None, None) => "mean_plddt",
        },
    };
    write("ranking.json".into(), json(&ranking))?;
    if plots {
        plots::plddt_png(&dir.join("plddt.png"), &best.plddt, &best.model)
            .map_err(|e| failed("plddt.png", e))?;
        if let Some(pae) = &best.predicted_aligned_error {
            let max = best.max_predicted_aligned_error.unwrap_or(31.75);
            let boundaries = chain_boundaries(best);
            plots::pae_png(&dir.join("pae.png"), pae, max, &boundaries)
                .map_err(|e| failed("pae.png", e))?;
        }
    }
    Ok(())
}

/// Per chain of a complex (none for a single chain).
fn chain_confidences(result: &ModelResult) -> Vec<ChainConfidence> {
    if result.chains.len() < 2 {
        return Vec::new();
    }
    let mut start = 0;
    result
        .chains
        .iter()
        .map(|chain| {
            let plddt = &result.plddt[start..start + chain.len()];
            start += chain.len();
            ChainConfidence {
                id: chain.chain_id.clone(),
                sequence: chain.sequence(),
                residues: chain.len(),
                mean_plddt: plddt.iter().sum::<f64>() / plddt.len().max(1) as f64,
            }
        })
        .collect()
}

/// Residue indices where a new chain starts (after the first).
fn chain_boundaries(result: &ModelResult) -> Vec<usize> {
    result
        .chains
        .iter()
        .scan(0, |start, chain| {
            *start += chain.len();
            Some(*start)
        })
        .take(result.chains.len().saturating_sub(1))
        .collect()
}
