//! Complexes: AlphaFold-Multimer on a record of several chains (`SEQ_A:SEQ_B`, ColabFold's
//! notation). Each chain's alignments are read as for a single chain and also paired across
//! chains by species (`ferrofold_features::multimer`); every recycling iteration draws its own
//! cluster centres and BERT masks from the merged MSA, as DeepMind's network does inside itself;
//! recycling stops early once the structure settles. Templates come per chain, from each
//! chain's hhsearch hits. The outputs are a single chain's, with one
//! chain per sequence (ids A, B, …), ipTM and the ranking confidence 0.8·ipTM + 0.2·pTM.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::Backend;
use ferrofold_features::feature_dict::FeatureDict;
use ferrofold_features::featurize::{read_query_alignment, record_id};
use ferrofold_features::msa::Msa;
use ferrofold_features::multimer::{multimer_features, ChainInput};
use ferrofold_features::parsers::fasta::{chain_id, FastaRecord};
use ferrofold_features::templates::add_template_features;
use ferrofold_model::ModelConfig;

use crate::error::{InferenceError, Result};
use crate::predict::{lock_record, PredictOptions, Progress, RecordResult, WrittenRecord};
use crate::run_models::{run_models, FeaturisedRecord, RecordFeatures};

/// A complex's inputs besides its sequences, one entry per chain.
#[derive(Debug, Clone, Copy)]
pub struct ChainInputs<'a> {
    /// The chain's alignment files (none: its sequence alone).
    pub alignments: &'a [Vec<PathBuf>],
    /// The chain's hhsearch hits (`.hhr`) for templates; needs `PredictOptions::templates`.
    pub template_hits: &'a [Option<PathBuf>],
}

/// Predicts the complex `record` (its chains separated by `:`) with every model of `options`
/// (AlphaFold-Multimer presets only), on `device` of backend `B`, writing its outputs under
/// `out_dir/<id>/`.
pub fn predict_complex<B: Backend>(
    device: &B::Device,
    record: &FastaRecord,
    inputs: &ChainInputs,
    options: &PredictOptions,
    out_dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<RecordResult> {
    let id = record_id(record);
    let input_error = |message: String| InferenceError::Input { origin: id.clone(), message };
    if options.models.is_empty() {
        return Err(input_error("no model to run".into()));
    }
    for spec in &options.models {
        if ModelConfig::preset(&spec.preset)?.multimer.is_none() {
            return Err(input_error(format!(
                "model {} (preset {}) predicts single chains; a complex needs AlphaFold-Multimer \
                 weights (params_model_1_multimer_v3.npz …, preset model_1_multimer_v3)",
                spec.name, spec.preset
            )));
        }
    }
    let sequences = record.chains();
    if inputs.alignments.len() != sequences.len() || inputs.template_hits.len() != sequences.len() {
        return Err(input_error(format!(
            "{} chains but alignments for {} and template hits for {}",
            sequences.len(),
            inputs.alignments.len(),
            inputs.template_hits.len()
        )));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| InferenceError::output(out_dir, e))?;
    let _lock = lock_record(out_dir, &id)?;
    let started = Instant::now();

    let ids: Vec<String> = (0..sequences.len()).map(|k| chain_id(k).to_string()).collect();
    let names: Vec<String> = ids.iter().map(|c| format!("{id} chain {c}")).collect();
    let msas = sequences
        .iter()
        .zip(inputs.alignments)
        .zip(&ids)
        .map(|((sequence, paths), chain)| {
            let query = format!("chain {chain} of `{}`", record.description);
            paths.iter().map(|path| read_query_alignment(path, sequence, &query)).collect()
        })
        .collect::<std::result::Result<Vec<Vec<Msa>>, _>>()?;
    let mut templates: Vec<Option<FeatureDict>> = Vec::with_capacity(sequences.len());
    let mut template_count = 0;
    for (k, hits) in inputs.template_hits.iter().enumerate() {
        let Some(hits) = hits else {
            templates.push(None);
            continue;
        };
        let Some(config) = &options.templates else {
            return Err(input_error(
                "template hits given without a template configuration (mmCIF directory)".into(),
            ));
        };
        let mut features = FeatureDict::default();
        let found = add_template_features(&mut features, sequences[k], hits, config)?;
        found.log_summary(&names[k]);
        template_count += found.templates.len();
        templates.push((!found.templates.is_empty()).then_some(features));
    }
    let chains: Vec<ChainInput> = (0..sequences.len())
        .map(|k| ChainInput {
            name: &names[k],
            sequence: sequences[k],
            msas: &msas[k],
            // The chain's first alignment is also its pairing alignment (AlphaFold pairs the
            // rows of its UniProt search, whose headers name the species).
            pairing_msa: msas[k].first(),
            templates: templates[k].as_ref(),
        })
        .collect();
    let features = multimer_features(&chains)?;
    let residues: usize = sequences.iter().map(|s| s.len()).sum();
    let msa_rows = features.get("num_alignments").and_then(|a| a.to_f64().first().copied());
    let msa_rows = msa_rows.map_or(1, |n| n as usize);
    progress(Progress::Featurized { residues, msa_rows, templates: template_count });
    let featurize_seconds = started.elapsed().as_secs_f64();
    let asym_id: Vec<i64> = features
        .get("asym_id")
        .map(|a| a.to_f64().iter().map(|&v| v as i64).collect())
        .unwrap_or_default();

    let written = WrittenRecord::stage(out_dir, &id, featurize_seconds)?;
    let chain_sequences: Vec<(&str, &str)> =
        ids.iter().map(String::as_str).zip(sequences.iter().copied()).collect();
    let featurised = FeaturisedRecord {
        id: &id,
        features: RecordFeatures::Complex { merged: &features, asym_id: &asym_id },
        chains: &chain_sequences,
        msa_rows,
    };
    let staging = written.staging.path();
    let results = run_models::<B>(device, &featurised, options, out_dir, staging, progress)?;
    written.finish(out_dir, results, options, progress)
}
