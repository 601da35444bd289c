//! The training loop: AlphaFold's recipe (Jumper et al. 2021, Suppl. Sec. 1.11) on one device —
//! a random chain and crop per step, a random number of recycling iterations of which only the
//! last carries gradients, Adam with warm-up and step decay, clipping by the global gradient
//! norm, an exponential moving average of the weights, and checkpoints that a later run resumes
//! from exactly (every random draw of step `k` derives from the seed and `k` alone).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{AutodiffModule, ParamId};
use burn::optim::Optimizer;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use ferrofold_features::crop::CropMode;
use ferrofold_features::feature_dict::write_bytes_atomically;
use ferrofold_features::process::PipelineConfig;
use ferrofold_model::kernels::DeviceWatch;
use ferrofold_model::params::parameter_values;
use ferrofold_model::{AlphaFold, ModelConfig, ParamFile};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use crate::checkpoint::latest_checkpoint;
use crate::checkpoint::{adam, checkpoints_dir, load_checkpoint, save_checkpoint};
use crate::config::{ActivationCheckpointing, TrainConfig};
use crate::corpus::Corpus;
use crate::error::{io, Result, TrainingError};
use crate::example::{make_example, ExampleConfig};
use crate::gradients::{batch_gradients_on_devices, gradient_norm, scale_gradients};
use crate::losses::heads::CaLddt;
use ferrofold_data::sampling::read_clusters;
use ferrofold_data::{ChainFilter, TrainingChain, WeightedSampler};

/// What one step did, as written to `metrics.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepReport {
    /// Steps completed, this one included.
    pub step: usize,
    #[serde(deserialize_with = "null_as_nan")]
    pub loss: f64,
    /// The chains of the step's examples, comma-separated.
    pub chain: String,
    /// Residues in all of the step's crops.
    pub residues: usize,
    /// The most recycling iterations of the step's examples.
    pub recycles: usize,
    pub learning_rate: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub grad_norm: f64,
    /// The step was skipped: non-finite loss or gradient.
    pub skipped: bool,
    pub seconds: f64,
    /// Every loss term and metric (unweighted), AlphaFold's names.
    #[serde(deserialize_with = "nulls_as_nan")]
    pub terms: BTreeMap<String, f64>,
}

// JSON has no NaN or infinity: serde_json writes them as null, and they are read back as NaN.
fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn nulls_as_nan<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<BTreeMap<String, f64>, D::Error> {
    let map = BTreeMap::<String, Option<f64>>::deserialize(d)?;
    Ok(map.into_iter().map(|(k, v)| (k, v.unwrap_or(f64::NAN))).collect())
}

/// lDDT-Cα of each validation chain after `step` steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValidationReport {
    pub step: usize,
    pub mean_lddt_ca: f64,
    pub chains: BTreeMap<String, f64>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    pub first_step: usize,
    pub steps: usize,
    pub final_params: PathBuf,
    pub final_ema_params: PathBuf,
    pub metrics: PathBuf,
}

/// Predicts every validation chain with `model` (no gradients) and scores its Cα against the
/// structure: lDDT-Cα as `ferrofold score` computes it (the residues correspond one to one).
pub fn validate<B: Backend>(
    model: &AlphaFold<B>,
    model_config: &ModelConfig,
    chains: &[TrainingChain],
    example_config: &ExampleConfig,
    recycles: usize,
    step: usize,
    device: &B::Device,
) -> Result<ValidationReport> {
    let mut scores = BTreeMap::new();
    for (k, chain) in chains.iter().enumerate() {
        let example = make_example(chain, example_config, recycles, k as u64)?;
        let out = model.forward(&example.batch, model_config, device, |_, _| {})?;
        let predicted = crate::losses::host(out.structure.final_atom_positions)
            .into_dimensionality::<ndarray::Ix3>()
            .expect("[r, 37, 3]");
        let labels = &example.labels;
        let score = CaLddt::compute(
            predicted.view(),
            labels.all_atom_positions.view(),
            labels.all_atom_mask.view(),
            15.0,
        )
        .global();
        scores.insert(chain.id.clone(), score);
    }
    let mean = scores.values().sum::<f64>() / scores.len().max(1) as f64;
    Ok(ValidationReport { step, mean_lddt_ca: mean, chains: scores })
}

/// The random draws of step `step`, independent of every other step.
fn step_rng(seed: u64, step: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(step as u64 + 1);
    rng
}

/// Keeps only metric lines of steps up to `step` (a resumed run rewrites what follows; a line
/// cut short by a kill is dropped).
fn truncate_metrics(path: &Path, step: usize) -> Result<()> {
    let Ok(file) = std::fs::File::open(path) else { return Ok(()) };
    let kept: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .map_while(|l| l.ok())
        .filter(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("step").and_then(|s| s.as_u64()))
                .is_some_and(|s| s as usize <= step)
        })
        .collect();
    let text: String = kept.iter().map(|l| format!("{l}\n")).collect();
    write_bytes_atomically(path, text.as_bytes())?;
    Ok(())
}

/// Runs (or resumes) training as `config` says; `on_step` sees every step's report.
pub fn train<B: AutodiffBackend>(
    config: &TrainConfig,
    device: &B::Device,
    on_step: impl FnMut(&StepReport),
) -> Result<TrainSummary> {
    train_on_devices::<B>(config, &vec![device.clone(); config.data_parallel.max(1)], on_step)
}

/// [`train`] with each step's examples shared out over `devices`
/// ([`batch_gradients_on_devices`]); the model, the optimizer and the checkpoints live on the
/// first device.
pub fn train_on_devices<B: AutodiffBackend>(
    config: &TrainConfig,
    devices: &[B::Device],
    mut on_step: impl FnMut(&StepReport),
) -> Result<TrainSummary> {
    let device =
        devices.first().ok_or_else(|| TrainingError::Config("no device to train on".into()))?;
    let (loss_config, model_config) = config.validate()?;
    let rematerialise = config.activation_checkpointing == ActivationCheckpointing::Blocks;
    let data = config.data.as_deref().expect("validate refuses a configuration without data");
    let corpus = Corpus::open(data, config.msa_dir.as_deref(), &config.filter)?;
    let sampler = match &config.clusters {
        Some(path) => WeightedSampler::new(&corpus.lengths(), &read_clusters(path)?),
        None => WeightedSampler::uniform(corpus.len()),
    };
    tracing::info!("{} chains from {}", corpus.len(), data.display());
    let distillation = match &config.distillation_data {
        Some(dir) => {
            let corpus = Corpus::open(dir, config.msa_dir.as_deref(), &ChainFilter::default())?;
            tracing::info!("{} distillation chains from {}", corpus.len(), dir.display());
            Some(corpus)
        }
        None => None,
    };
    io(&config.out, std::fs::create_dir_all(checkpoints_dir(&config.out)))?;
    let example_config = ExampleConfig {
        crop_size: config.crop_size,
        crop_mode: config.crop_mode,
        pipeline: PipelineConfig {
            max_msa_clusters: config.max_msa_clusters,
            max_extra_msa: config.max_extra_msa,
            ..PipelineConfig::default()
        },
        default_resolution: config.default_resolution,
    };

    let validation_chains = match &config.validation_data {
        Some(dir) => {
            Corpus::open(dir, config.msa_dir.as_deref(), &ChainFilter::default())?.all()?
        }
        None => Vec::new(),
    };
    let validation_config = ExampleConfig {
        crop_size: config.validation_max_residues,
        crop_mode: CropMode::Contiguous,
        ..example_config.clone()
    };
    let resume_from = if config.resume { latest_checkpoint(&config.out) } else { None };
    if config.resume && resume_from.is_none() {
        tracing::warn!(
            "--resume: no complete checkpoint in {}; starting from step 1",
            config.out.join("checkpoints").display()
        );
    }
    let (mut model, layout, mut ema, mut optimizer, first_step, mut nonfinite) = match &resume_from
    {
        Some(dir) => {
            let loaded = load_checkpoint::<B>(dir, &config.preset, &model_config, device)?;
            tracing::info!("resuming from {} (step {})", dir.display(), loaded.step);
            (
                loaded.model,
                loaded.layout,
                loaded.ema,
                loaded.optimizer,
                loaded.step,
                loaded.consecutive_nonfinite,
            )
        }
        None => {
            let (model, layout) = match &config.init_params {
                Some(path) => AlphaFold::<B>::load_with_layout(
                    &ParamFile::read(path)?,
                    &model_config,
                    device,
                )?,
                None => AlphaFold::<B>::init(&model_config, config.seed, device),
            };
            let ema = parameter_values(&model);
            (model, layout, ema, adam::<B>(), 0, 0)
        }
    };
    let metrics_path = config.out.join("metrics.jsonl");
    let validation_path = config.out.join("validation.jsonl");
    truncate_metrics(&metrics_path, first_step)?;
    truncate_metrics(&validation_path, first_step)?;
    let run_validation = |model: &AlphaFold<B>, step: usize| -> Result<()> {
        if validation_chains.is_empty() {
            return Ok(());
        }
        let report = validate(
            &model.valid(),
            &model_config,
            &validation_chains,
            &validation_config,
            config.max_recycles,
            step,
            device,
        )?;
        tracing::info!("step {step}: validation lDDT-Cα {:.3}", report.mean_lddt_ca);
        let line = serde_json::to_string(&report).expect("plain data") + "\n";
        let mut file = io(
            &validation_path,
            std::fs::OpenOptions::new().create(true).append(true).open(&validation_path),
        )?;
        io(&validation_path, file.write_all(line.as_bytes()))
    };
    let mut metrics = io(
        &metrics_path,
        std::fs::OpenOptions::new().create(true).append(true).open(&metrics_path),
    )?;

    // A GPU backend's device thread swallows its own failures (a tensor above the device's
    // largest buffer); a step that saw one stops the run before its garbage is applied.
    let watch = DeviceWatch::start::<B>(device);
    for step in first_step..config.steps {
        let started = Instant::now();
        let mut rng = step_rng(config.seed, step);
        let mut examples = Vec::with_capacity(config.accumulate.max(1));
        let mut recycles = 0;
        for _ in 0..config.accumulate.max(1) {
            let distilled = distillation
                .as_ref()
                .filter(|_| rng.random::<f64>() < config.distillation_fraction);
            let chain = match distilled {
                Some(d) => std::borrow::Cow::Owned(
                    d.get(rng.random_range(0..d.len()))?
                        .mask_below_plddt(config.distillation_min_plddt),
                ),
                None => corpus.get(sampler.sample(&mut rng))?,
            };
            let iterations = rng.random_range(0..=config.max_recycles);
            recycles = recycles.max(iterations);
            examples.push(make_example(&chain, &example_config, iterations, rng.random())?);
        }
        let chains: Vec<&str> = examples.iter().map(|e| e.id.as_str()).collect();
        let residues = examples.iter().map(|e| e.residues.len()).sum();
        let (mut grads, terms) = batch_gradients_on_devices(
            &model,
            &examples,
            &model_config,
            &loss_config,
            rematerialise,
            devices,
        )?;
        if let Some(message) = watch.as_ref().and_then(DeviceWatch::failure) {
            return Err(TrainingError::Device { step: step + 1, message });
        }
        let loss = terms["loss"];
        let grad_norm = gradient_norm(&model, &grads);
        let learning_rate = config.learning_rate_at(step);
        let skipped = !(loss.is_finite() && grad_norm.is_finite());
        if skipped {
            nonfinite += 1;
            tracing::warn!(
                "step {}: non-finite loss ({loss}) or gradient norm ({grad_norm}); skipped",
                step + 1
            );
        } else {
            nonfinite = 0;
            if grad_norm > config.grad_clip_norm {
                scale_gradients(&model, &mut grads, config.grad_clip_norm / grad_norm);
            }
            model = optimizer.step(learning_rate, model, grads);
            update_ema(&mut ema, &parameter_values(&model), config.ema_decay);
        }
        let report = StepReport {
            step: step + 1,
            loss,
            chain: chains.join(","),
            residues,
            recycles,
            learning_rate,
            grad_norm,
            skipped,
            seconds: started.elapsed().as_secs_f64(),
            terms,
        };
        let line = serde_json::to_string(&report).expect("plain data");
        io(&metrics_path, writeln!(metrics, "{line}").and_then(|_| metrics.flush()))?;
        on_step(&report);
        if nonfinite >= config.max_nonfinite_steps.max(1) {
            return Err(TrainingError::NonFinite { count: nonfinite, step: step + 1 });
        }
        let last = step + 1 == config.steps;
        if config.validate_every > 0 && ((step + 1) % config.validate_every == 0 || last) {
            run_validation(&model, step + 1)?;
        }
        if (step + 1) % config.checkpoint_every == 0 || last {
            save_checkpoint(config, &model, &layout, &ema, &optimizer, step + 1, nonfinite)?;
        }
    }

    let final_params = config.out.join("final.safetensors");
    let final_ema_params = config.out.join("final_ema.safetensors");
    layout.export(&model.valid(), &config.preset).write_safetensors(&final_params)?;
    layout.export_values(&ema, &config.preset).write_safetensors(&final_ema_params)?;
    Ok(TrainSummary {
        first_step,
        steps: config.steps,
        final_params,
        final_ema_params,
        metrics: metrics_path,
    })
}

fn update_ema(
    ema: &mut BTreeMap<ParamId, Vec<f32>>,
    current: &BTreeMap<ParamId, Vec<f32>>,
    decay: f64,
) {
    let decay = decay as f32;
    for (id, values) in current {
        match ema.get_mut(id) {
            Some(average) => {
                for (a, v) in average.iter_mut().zip(values) {
                    *a = decay * *a + (1.0 - decay) * v;
                }
            }
            None => {
                ema.insert(*id, values.clone());
            }
        }
    }
}
