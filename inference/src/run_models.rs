//! Every model of a prediction on one featurised record, a single chain or a complex: load the
//! parameters, plan memory, optionally save the batch, recycle one iteration's features at a
//! time, and collect each model's result.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::prelude::Backend;
use ferrofold_features::feature_dict::FeatureDict;
use ferrofold_features::featurize::safe_file_stem;
use ferrofold_features::multimer::msa_features::{MaskedMsaConfig, MsaSampling};
use ferrofold_features::multimer::{multimer_batch, MultimerIterations};
use ferrofold_features::process::{process_monomer_features, MonomerIterations};
use ferrofold_model::kernels::DeviceWatch;
use ferrofold_model::{FeatureBatch, ModelConfig};

use crate::error::{InferenceError, Result};
use crate::memory::ProblemSize;
use crate::models::load_model;
use crate::predict::{
    model_result, plan_memory, DeviceMemory, ModelResult, PredictOptions, Progress,
};

/// A record's features before the network's per-iteration inputs are drawn from them.
pub(crate) enum RecordFeatures<'a> {
    /// A single chain's raw features (AlphaFold's input pipeline runs per iteration).
    Monomer { raw: &'a FeatureDict },
    /// A complex's merged features (AlphaFold-Multimer's MSA draws run per iteration) and each
    /// residue's chain (`asym_id`, for ipTM).
    Complex { merged: &'a FeatureDict, asym_id: &'a [i64] },
}

impl RecordFeatures<'_> {
    /// The sizes the memory estimate needs, for `config`'s MSA depths.
    fn problem_size(&self, residues: usize, msa_rows: usize, config: &ModelConfig) -> ProblemSize {
        match (self, &config.multimer) {
            (RecordFeatures::Complex { .. }, Some(multimer)) => {
                ProblemSize::split(residues, msa_rows, multimer.num_msa, multimer.num_extra_msa)
            }
            _ => ProblemSize::of(residues, msa_rows, &config.data_pipeline(0)),
        }
    }

    /// The network's inputs, one iteration at a time, `iterations` of them: the draws of
    /// [`Self::batch`], in order.
    fn iterations<'s>(
        &'s self,
        config: &ModelConfig,
        iterations: usize,
        seed: u64,
    ) -> Result<Box<dyn ExactSizeIterator<Item = FeatureDict> + 's>> {
        Ok(match self {
            RecordFeatures::Monomer { raw } => {
                let pipeline = config.data_pipeline(iterations - 1);
                Box::new(MonomerIterations::new(raw, &pipeline, seed)?)
            }
            RecordFeatures::Complex { merged, .. } => {
                Box::new(MultimerIterations::new(merged, iterations, &sampling(config)?, seed)?)
            }
        })
    }

    /// All iterations' inputs in one batch (what `forward` reads).
    fn batch(&self, config: &ModelConfig, iterations: usize, seed: u64) -> Result<FeatureDict> {
        Ok(match self {
            RecordFeatures::Monomer { raw } => {
                process_monomer_features(raw, &config.data_pipeline(iterations - 1), seed)?
            }
            RecordFeatures::Complex { merged, .. } => {
                multimer_batch(merged, iterations, &sampling(config)?, seed)?
            }
        })
    }
}

/// AlphaFold-Multimer's MSA draws for `config` (at inference: Gumbel noise and BERT masking on;
/// the MSA's padding rows left out, which does not change the result).
fn sampling(config: &ModelConfig) -> Result<MsaSampling> {
    let multimer = config.multimer.as_ref().ok_or_else(|| InferenceError::Input {
        origin: config.name.clone(),
        message: "a complex needs an AlphaFold-Multimer preset".into(),
    })?;
    Ok(MsaSampling {
        num_msa: multimer.num_msa,
        num_extra_msa: multimer.num_extra_msa,
        masked_msa: MaskedMsaConfig::default(),
        gumbel_noise: true,
        drop_padding_rows: true,
    })
}

/// A featurised record: its id, features, chains (id, sequence) and MSA depth.
pub(crate) struct FeaturisedRecord<'a> {
    pub id: &'a str,
    pub features: RecordFeatures<'a>,
    pub chains: &'a [(&'a str, &'a str)],
    pub msa_rows: usize,
}

/// Runs every model of `options` on `record` on `device`; saved batches go to `staging`.
pub(crate) fn run_models<B: Backend>(
    device: &B::Device,
    record: &FeaturisedRecord,
    options: &PredictOptions,
    out_dir: &Path,
    staging: &Path,
    progress: &mut dyn FnMut(Progress),
) -> Result<Vec<ModelResult>> {
    let id = record.id;
    let residues: usize = record.chains.iter().map(|(_, sequence)| sequence.len()).sum();
    let mut results = Vec::new();
    for spec in &options.models {
        let mut config = ModelConfig::preset(&spec.preset)?;
        config.attention_kernel = options.attention;
        let iterations = options.num_recycle.unwrap_or(config.num_recycle) + 1;
        let size = record.features.problem_size(residues, record.msa_rows, &config);
        // Parameters are loaded first (their size counts in the estimate); activations,
        // by far the larger part for long chains, only after the estimate allowed them.
        let model = load_model::<B>(spec, &config, device, options.loaded.as_ref())?;
        let device_memory = DeviceMemory::of::<B>(&config, device);
        let estimated_peak_bytes =
            plan_memory(id, size, &mut config, model.num_params(), options, device_memory)?;
        if options.save_features {
            let batch = record.features.batch(&config, iterations, options.seed)?;
            let name = format!("features_{}.npz", safe_file_stem(&spec.name));
            batch
                .save_npz(&staging.join(&name))
                .map_err(|e| InferenceError::output(&out_dir.join(id).join(&name), e))?;
        }
        let watch = DeviceWatch::start::<B>(device);
        let model_started = Instant::now();
        progress(Progress::ModelStarted { model: &spec.name, iterations, estimated_peak_bytes });
        // One iteration's features at a time: memory does not grow with the recycles.
        let inputs = record
            .features
            .iterations(&config, iterations, options.seed)?
            .map(|features| FeatureBatch { features }.iteration(0, &config, device));
        let output = model.forward_each(inputs, &config, device, |i, _| {
            progress(Progress::Recycle { model: &spec.name, iteration: i })
        })?;
        if let Some(message) = watch.as_ref().and_then(DeviceWatch::failure) {
            return Err(InferenceError::DeviceFailed { record: id.to_string(), message });
        }
        let seconds = model_started.elapsed().as_secs_f64();
        progress(Progress::ModelFinished { model: &spec.name, seconds });
        let prediction = output.prediction(&config).map_err(|e| InferenceError::Input {
            origin: format!("{id} ({})", spec.name),
            message: e.to_string(),
        })?;
        let iptm = match record.features {
            RecordFeatures::Complex { asym_id, .. } => output.interface_ptm(&config, asym_id),
            RecordFeatures::Monomer { .. } => None,
        };
        results.push(model_result(spec, prediction, record.chains, iptm, seconds));
    }
    Ok(results)
}
