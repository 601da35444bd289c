//! A single chain: its alignments and template hits featurised as AlphaFold's monomer pipeline
//! does, then every model of the prediction (`run_models`) and the record's files.

use std::path::Path;
use std::time::Instant;

use burn::prelude::Backend;
use ferrofold_features::featurize::{featurize_query, record_id};
use ferrofold_features::parsers::fasta::FastaRecord;
use ferrofold_features::templates::add_template_features;

use crate::error::{InferenceError, Result};
use crate::predict::{
    lock_record, PredictOptions, Progress, RecordInputs, RecordResult, WrittenRecord,
};
use crate::run_models::{run_models, FeaturisedRecord, RecordFeatures};

/// Runs every model on one record (on `device` of backend `B`) and writes its outputs under
/// `out_dir/<id>/`.
pub fn predict_record<B: Backend>(
    device: &B::Device,
    record: &FastaRecord,
    inputs: &RecordInputs,
    options: &PredictOptions,
    out_dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<RecordResult> {
    let id = record_id(record);
    if options.models.is_empty() {
        return Err(InferenceError::Input { origin: id, message: "no model to run".into() });
    }
    std::fs::create_dir_all(out_dir).map_err(|e| InferenceError::output(out_dir, e))?;
    let _lock = lock_record(out_dir, &id)?;
    let started = Instant::now();
    let mut raw = featurize_query(record, inputs.alignments)?;
    let mut templates = 0;
    if let Some(hits) = inputs.template_hits {
        let Some(config) = &options.templates else {
            return Err(InferenceError::Input {
                origin: id,
                message: "template hits given without a template configuration (mmCIF directory)"
                    .into(),
            });
        };
        let found = add_template_features(&mut raw, &record.sequence, hits, config)?;
        found.log_summary(&id);
        templates = found.templates.len();
    }
    let residues = record.sequence.len();
    let msa_rows = raw.get("msa").map_or(1, |m| m.shape()[0]);
    progress(Progress::Featurized { residues, msa_rows, templates });
    let featurize_seconds = started.elapsed().as_secs_f64();

    let written = WrittenRecord::stage(out_dir, &id, featurize_seconds)?;
    let chains = [("A", record.sequence.as_str())];
    let features = RecordFeatures::Monomer { raw: &raw };
    let featurised = FeaturisedRecord { id: &id, features, chains: &chains, msa_rows };
    let staging = written.staging.path();
    let results = run_models::<B>(device, &featurised, options, out_dir, staging, progress)?;
    written.finish(out_dir, results, options, progress)
}
