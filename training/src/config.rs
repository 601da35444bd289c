//! Every option of a training run, defined once: each field below is at the same time a key of
//! the TOML file (`ferrofold train --config`), a flag of `ferrofold train` (`_` → `-`), and its
//! default (AlphaFold's initial-training settings, except the step count and crop size, which
//! suit a CPU). A flag given on the command line overrides the file ([`TrainConfig::overlay`]).

use std::path::{Path, PathBuf};

use clap::{ArgAction, Parser, ValueEnum};
use ferrofold_data::ChainFilter;
use ferrofold_features::crop::CropMode;
use ferrofold_model::config::DropoutConfig;
use ferrofold_model::ModelConfig;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainingError};
use crate::losses::LossConfig;

/// Which of AlphaFold's two training stages the loss follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// No violation or experimentally-resolved terms.
    Initial,
    /// Every term, at AlphaFold's fine-tuning weights.
    Finetune,
}

/// What the backward pass keeps of the forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ActivationCheckpointing {
    /// Every activation.
    None,
    /// burn's `BalancedCheckpointing`: the outputs of memory-bound operations are recomputed in
    /// the backward pass instead of kept. The caller picks the backend type
    /// (`Autodiff<_, BalancedCheckpointing>`).
    Balanced,
    /// Only each trunk block's input; the blocks are recomputed one at a time in the backward
    /// pass (AlphaFold's gradient checkpointing, [`crate::rematerialise`]).
    Blocks,
}

/// Every option of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Parser)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Network preset (reduced, small, model_1 … model_5, with _ptm).
    #[arg(long, default_value = "reduced")]
    pub preset: String,
    /// Directory of PDB/mmCIF files (one chain each), or a store built by `ferrofold data
    /// build`.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// mmseqs2 cluster file (`representative<TAB>member`): chains are drawn with AlphaFold's
    /// weights (1 / cluster size, longer chains favoured); without it, uniformly (a store's
    /// own clusters.tsv is used when it has one).
    #[arg(long)]
    pub clusters: Option<PathBuf>,
    /// Which chains of `data` to train on (AlphaFold's filters by default).
    #[command(flatten)]
    pub filter: ChainFilter,
    /// Predicted structures (pLDDT in the B-factor column) as a second source, a directory or
    /// a store: AlphaFold's self-distillation set.
    #[arg(long)]
    pub distillation_data: Option<PathBuf>,
    /// Fraction of examples drawn from `distillation_data` (AlphaFold: 0.75).
    #[arg(long, default_value_t = 0.75)]
    pub distillation_fraction: f64,
    /// Residues of distillation structures below this pLDDT leave the labels (AlphaFold: 70).
    #[arg(long, default_value_t = 70.0)]
    pub distillation_min_plddt: f64,
    /// Directory of alignments named after the structure files (`<stem>.a3m|.sto|.aln`);
    /// without it, single sequences.
    #[arg(long)]
    pub msa_dir: Option<PathBuf>,
    /// Output directory: `metrics.jsonl`, `checkpoints/`, the final weights, `loss.png`.
    #[arg(long, default_value = "training_run")]
    pub out: PathBuf,
    /// Optimizer steps in all (a resumed run continues up to this count).
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Residues per training crop.
    #[arg(long, default_value_t = 64)]
    pub crop_size: usize,
    /// How a crop is chosen: contiguous (AlphaFold's monomer training) or spatial.
    #[arg(long, default_value = "contiguous")]
    pub crop_mode: CropMode,
    #[arg(long, default_value_t = 128)]
    pub max_msa_clusters: usize,
    #[arg(long, default_value_t = 1024)]
    pub max_extra_msa: usize,
    /// Each step runs 1 to `max_recycles + 1` iterations, uniformly.
    #[arg(long, default_value_t = 3)]
    pub max_recycles: usize,
    /// Examples per optimizer step (their gradients averaged): the batch size.
    #[arg(long, default_value_t = 1)]
    pub accumulate: usize,
    /// Model replicas that compute a step's examples in parallel, each on its share (data
    /// parallelism: one thread each on the CPU; [`crate::trainer::train_on_devices`] takes
    /// other devices).
    #[arg(long, default_value_t = 1)]
    pub data_parallel: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub learning_rate: f64,
    /// Linear warm-up of the learning rate over these steps.
    #[arg(long, default_value_t = 1000)]
    pub warmup_steps: usize,
    /// After this many steps the learning rate is multiplied by `decay_factor`.
    #[arg(long, default_value_t = 50_000)]
    pub decay_after: usize,
    #[arg(long, default_value_t = 0.95)]
    pub decay_factor: f64,
    /// Gradients are scaled down to this global norm when larger.
    #[arg(long, default_value_t = 0.1)]
    pub grad_clip_norm: f64,
    /// Decay of the exponential moving average of the weights.
    #[arg(long, default_value_t = 0.999)]
    pub ema_decay: f64,
    #[arg(long, default_value_t = 50)]
    pub checkpoint_every: usize,
    /// Older checkpoints are deleted beyond this many.
    #[arg(long, default_value_t = 3)]
    pub keep_checkpoints: usize,
    #[arg(long, value_enum, default_value = "initial")]
    pub phase: Phase,
    /// Fraction of the backbone FAPE that is clamped at 10 Å (AlphaFold: 0.9). Lower values
    /// give every residue pair a gradient from the start, which speeds up fitting few chains.
    #[arg(long)]
    pub fape_clamped_fraction: Option<f64>,
    /// AlphaFold's dropout in the network (the rates of `DropoutConfig::alphafold`); false:
    /// none.
    #[arg(long, default_value_t = true, action = ArgAction::Set)]
    pub dropout: bool,
    /// What the backward pass keeps (bench/RESULTS.md has the memory and time of each).
    #[arg(long, value_enum, default_value = "none")]
    pub activation_checkpointing: ActivationCheckpointing,
    /// Stop after this many steps in a row with a non-finite loss or gradient.
    #[arg(long, default_value_t = 10)]
    pub max_nonfinite_steps: usize,
    /// Resolution (Å) assumed for structures whose file states none; 0 leaves them out of the
    /// confidence heads' losses.
    #[arg(long, default_value_t = 0.0)]
    pub default_resolution: f64,
    /// Start from these weights (AlphaFold `.npz`, OpenFold `.pt` or ferrofold
    /// `.safetensors`) instead of AlphaFold's random initialisation: fine-tuning.
    #[arg(long)]
    pub init_params: Option<PathBuf>,
    /// Continue from the last complete checkpoint in `out` when there is one.
    #[arg(long)]
    pub resume: bool,
    /// Held-out structures (a directory like `data`), predicted every `validate_every` steps
    /// (and at the end) with `max_recycles` recycles; lDDT-Cα goes to `validation.jsonl`.
    #[arg(long)]
    pub validation_data: Option<PathBuf>,
    #[arg(long, default_value_t = 100)]
    pub validate_every: usize,
    /// Validation chains longer than this are cropped to a contiguous window of it.
    #[arg(long, default_value_t = 256)]
    pub validation_max_residues: usize,
}

impl Default for TrainConfig {
    /// The defaults of the flags above.
    fn default() -> Self {
        Self::parse_from(["train"])
    }
}

impl TrainConfig {
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = ferrofold_features::error::read_text(path)?;
        toml::from_str(&text).map_err(|e| TrainingError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// `self` (a configuration file's options) with the options for which `given(name)` holds
    /// (the flags given on the command line) taken from `flags`.
    pub fn overlay(&self, flags: &TrainConfig, given: impl Fn(&str) -> bool) -> Result<Self> {
        fn table(config: &TrainConfig) -> toml::Table {
            toml::Table::try_from(config).expect("a configuration serialises")
        }
        fn overlay(base: &mut toml::Table, flags: toml::Table, given: &dyn Fn(&str) -> bool) {
            for (name, value) in flags {
                match (value, base.get_mut(&name)) {
                    (toml::Value::Table(inner), Some(toml::Value::Table(base))) => {
                        overlay(base, inner, given)
                    }
                    (value, _) if given(&name) => {
                        base.insert(name, value);
                    }
                    _ => {}
                }
            }
        }
        let mut base = table(self);
        overlay(&mut base, table(flags), &given);
        base.try_into().map_err(|e: toml::de::Error| TrainingError::Config(e.to_string()))
    }

    /// The checked options: the loss and the network's configuration they make.
    pub fn validate(&self) -> Result<(LossConfig, ModelConfig)> {
        let mut loss = match self.phase {
            Phase::Initial => LossConfig::initial_training(),
            Phase::Finetune => LossConfig::fine_tuning(),
        };
        if self.data.is_none() {
            return Err(TrainingError::Config(
                "no training data: give --data DIR (or `data` in --config)".into(),
            ));
        }
        if let Some(fraction) = self.fape_clamped_fraction {
            if !(0.0..=1.0).contains(&fraction) {
                return Err(TrainingError::Config(
                    "fape_clamped_fraction must lie in [0, 1]".into(),
                ));
            }
            loss.fape_clamped_fraction = fraction;
        }
        if self.data_parallel == 0 {
            return Err(TrainingError::Config("data_parallel must be at least 1".into()));
        }
        if self.steps == 0 || self.accumulate == 0 {
            return Err(TrainingError::Config("steps and accumulate must be at least 1".into()));
        }
        if self.max_recycles > ferrofold_model::config::MAX_RECYCLES {
            return Err(TrainingError::Config(format!(
                "max_recycles {} is more than {}",
                self.max_recycles,
                ferrofold_model::config::MAX_RECYCLES
            )));
        }
        let mut model = ModelConfig::preset(&self.preset)?;
        if !self.dropout {
            model.dropout = DropoutConfig::none();
        }
        if model.heads.predicted_aligned_error_num_bins.is_some() {
            loss = loss.with_predicted_aligned_error();
        }
        if self.crop_size == 0 || self.checkpoint_every == 0 || self.max_msa_clusters == 0 {
            return Err(TrainingError::Config(
                "crop_size, checkpoint_every and max_msa_clusters must be positive".into(),
            ));
        }
        if !(self.learning_rate > 0.0 && self.grad_clip_norm > 0.0) {
            return Err(TrainingError::Config(
                "learning_rate and grad_clip_norm must be positive".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.ema_decay) {
            return Err(TrainingError::Config("ema_decay must lie in [0, 1)".into()));
        }
        Ok((loss, model))
    }

    /// The learning rate of step `step` (0-based).
    pub fn learning_rate_at(&self, step: usize) -> f64 {
        let warmup = if self.warmup_steps == 0 {
            1.0
        } else {
            ((step + 1) as f64 / self.warmup_steps as f64).min(1.0)
        };
        let decay = if step >= self.decay_after { self.decay_factor } else { 1.0 };
        self.learning_rate * warmup * decay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_round_trip_through_toml() {
        let mut config = TrainConfig {
            data: Some(PathBuf::from("structures")),
            msa_dir: Some(PathBuf::from("alignments")),
            fape_clamped_fraction: Some(0.5),
            ..TrainConfig::default()
        };
        config.filter.released_before = Some("2018-04-30".into());
        let text = toml::to_string_pretty(&config).unwrap();
        let back: TrainConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, config);
        // Unknown keys are refused with their name, missing ones take the defaults.
        let err = toml::from_str::<TrainConfig>("stepz = 3\n").unwrap_err().to_string();
        assert!(err.contains("stepz"), "{err}");
        let partial: TrainConfig =
            toml::from_str("steps = 7\n[filter]\nmax_length = 300\n").unwrap();
        assert_eq!((partial.steps, partial.filter.max_length), (7, Some(300)));
        assert_eq!(partial.crop_size, TrainConfig::default().crop_size);
    }

    #[test]
    fn learning_rate_warms_up_then_decays() {
        let config = TrainConfig { warmup_steps: 10, decay_after: 100, ..TrainConfig::default() };
        assert!((config.learning_rate_at(0) - 1e-4).abs() < 1e-12);
        assert!((config.learning_rate_at(9) - 1e-3).abs() < 1e-12);
        assert!((config.learning_rate_at(99) - 1e-3).abs() < 1e-12);
        assert!((config.learning_rate_at(100) - 0.95e-3).abs() < 1e-12);
    }

    /// Every option, none at its default.
    const EVERY_OPTION: &str = r#"
preset = "small"
data = "d"
clusters = "c.tsv"
distillation_data = "p"
distillation_fraction = 0.5
distillation_min_plddt = 60.0
msa_dir = "m"
out = "o"
steps = 7
seed = 3
crop_size = 32
crop_mode = "spatial"
max_msa_clusters = 9
max_extra_msa = 11
max_recycles = 2
accumulate = 4
data_parallel = 2
learning_rate = 0.002
warmup_steps = 5
decay_after = 6
decay_factor = 0.5
grad_clip_norm = 0.2
ema_decay = 0.99
checkpoint_every = 8
keep_checkpoints = 2
phase = "finetune"
fape_clamped_fraction = 0.25
dropout = false
activation_checkpointing = "balanced"
max_nonfinite_steps = 4
default_resolution = 2.5
init_params = "w.npz"
resume = true
validation_data = "v"
validate_every = 12
validation_max_residues = 100

[filter]
max_resolution = 3.5
require_resolution = true
released_before = "2018-04-30"
min_length = 20
max_length = 300
max_single_residue_fraction = 0.5
"#;

    /// The options of `table` as flags: `--name value`, or `--name` alone for a switch.
    fn flags(table: &toml::Table) -> Vec<String> {
        let mut args = Vec::new();
        for (name, value) in table {
            let flag = format!("--{}", name.replace('_', "-"));
            match value {
                toml::Value::Table(inner) => args.extend(flags(inner)),
                toml::Value::Boolean(true)
                    if ["resume", "require_resolution"].contains(&name.as_str()) =>
                {
                    args.push(flag)
                }
                toml::Value::String(text) => args.extend([flag, text.clone()]),
                other => args.extend([flag, other.to_string()]),
            }
        }
        args
    }

    #[test]
    fn a_file_with_every_option_equals_the_same_flags() {
        let table: toml::Table = toml::from_str(EVERY_OPTION).unwrap();
        let from_file: TrainConfig = toml::from_str(EVERY_OPTION).unwrap();
        let args = std::iter::once("train".to_string()).chain(flags(&table));
        let from_flags = TrainConfig::try_parse_from(args).unwrap();
        assert_eq!(from_flags, from_file);

        // The file names every option, each away from its default: a key that no field reads,
        // or a flag that sets another field, would show above.
        let options = <TrainConfig as clap::CommandFactory>::command()
            .get_arguments()
            .filter(|a| a.get_long().is_some() && a.get_id() != "help")
            .count();
        assert_eq!(flags(&table).iter().filter(|a| a.starts_with("--")).count(), options);
        let defaults = toml::Table::try_from(TrainConfig::default()).unwrap();
        for (name, value) in table.iter().filter(|(_, v)| !v.is_table()) {
            assert_ne!(defaults.get(name), Some(value), "{name} is at its default");
        }
    }

    #[test]
    fn flags_given_override_the_file_and_no_other() {
        let file: TrainConfig =
            toml::from_str("steps = 7\ncrop_size = 32\n[filter]\nmax_length = 300\n").unwrap();
        let flags =
            TrainConfig::try_parse_from(["train", "--steps", "9", "--min-length", "5"]).unwrap();
        let given = |name: &str| ["steps", "min_length"].contains(&name);
        let merged = file.overlay(&flags, given).unwrap();
        assert_eq!((merged.steps, merged.crop_size), (9, 32));
        assert_eq!((merged.filter.min_length, merged.filter.max_length), (Some(5), Some(300)));
        // A flag left at its default does not reset the file's value.
        assert_eq!(merged.max_recycles, TrainConfig::default().max_recycles);
        let untouched = file.overlay(&flags, |_| false).unwrap();
        assert_eq!(untouched, file);
    }
}
