//! `ferrofold train` and `ferrofold finetune`: the options of [`TrainConfig`] (a TOML file, the
//! flags given laid over it) and the training loop with a progress bar.

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::prelude::Backend;
use clap::parser::ValueSource;
use clap::ArgMatches;
use ferrofold_training::{ActivationCheckpointing, Phase, StepReport, TrainConfig, TrainSummary};
use indicatif::{ProgressBar, ProgressStyle};

use super::{run_on_device, set_threads, Device, OnDevice};

/// `ferrofold train`: every option of [`TrainConfig`], which the flags given override in
/// `--config`.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// TOML file with any of the options below (same names, `_` for `-`); flags given override
    /// its values.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    options: TrainConfig,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    #[arg(long, value_enum, default_value = "cpu")]
    device: Device,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args)]
pub struct FinetuneArgs {
    /// Starting weights: AlphaFold params_model_*.npz, an OpenFold .pt checkpoint or ferrofold
    /// .safetensors.
    #[arg(long)]
    pub params: PathBuf,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// The run's configuration: `--config` (or the defaults), fine-tuning's settings when
/// `init_params` is given, then every flag that `matches` says was given.
fn train_config(
    args: &TrainArgs,
    init_params: Option<PathBuf>,
    matches: &ArgMatches,
) -> Result<TrainConfig> {
    let mut config = match &args.config {
        Some(path) => TrainConfig::from_toml_file(path)?,
        None => TrainConfig::default(),
    };
    if init_params.is_some() {
        config.init_params = init_params;
        config.phase = Phase::Finetune;
    }
    let given = |name: &str| matches.value_source(name) == Some(ValueSource::CommandLine);
    let mut config = config.overlay(&args.options, given)?;
    if let (None, Some(data)) = (&config.clusters, &config.data) {
        config.clusters = ferrofold_data::cluster::clusters_file(data);
    }
    Ok(config)
}

/// Trains as `args` say; `matches` are the subcommand's (to tell the flags given).
pub fn run(args: TrainArgs, init_params: Option<PathBuf>, matches: &ArgMatches) -> Result<()> {
    set_threads(args.threads)?;
    let config = train_config(&args, init_params, matches)?;
    config.validate()?;
    std::fs::create_dir_all(&config.out)
        .with_context(|| format!("creating {}", config.out.display()))?;
    let resolved = config.out.join("config.toml");
    std::fs::write(
        &resolved,
        toml::to_string_pretty(&config).context("writing the configuration")?,
    )
    .with_context(|| format!("writing {}", resolved.display()))?;
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(config.steps as u64).with_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps {msg}")
                .expect("valid template"),
        )
    };
    let on_step = |r: &ferrofold_training::StepReport| {
        bar.set_position(r.step as u64);
        let lddt = r.terms.get("lddt_ca").copied().unwrap_or(f64::NAN);
        bar.set_message(format!(
            "loss {:.3}  lDDT-Cα {:.3}  {} ({} res, {} recycles)",
            r.loss, lddt, r.chain, r.residues, r.recycles
        ));
        if args.quiet {
            println!("{}", serde_json::to_string(r).expect("plain data"));
        }
    };
    let summary = run_on_device(args.device, Train { config: &config, on_step })
        .with_context(|| format!("training into {}", config.out.display()))?;
    bar.finish();
    // The whole curve, including steps before a resume.
    let all: Vec<(usize, f64)> = std::fs::read_to_string(&summary.metrics)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<ferrofold_training::StepReport>(l).ok())
        .map(|r| (r.step, r.loss))
        .collect();
    let plot = config.out.join("loss.png");
    ferrofold_inference::plots::loss_png(&plot, &all, 20)?;
    eprintln!(
        "trained steps {}..{}: weights {} (EMA: {}), metrics {}, curve {}",
        summary.first_step + 1,
        summary.steps,
        summary.final_params.display(),
        summary.final_ema_params.display(),
        summary.metrics.display(),
        plot.display()
    );
    Ok(())
}

/// The training loop on one device's backend, under autodiff.
struct Train<'a, F> {
    config: &'a TrainConfig,
    on_step: F,
}

impl<F: FnMut(&StepReport)> OnDevice for Train<'_, F> {
    type Output = TrainSummary;

    fn run<B: Backend>(self, device: &B::Device) -> Result<TrainSummary> {
        use burn::backend::{autodiff::checkpoint::strategy::BalancedCheckpointing, Autodiff};
        let Train { config, on_step } = self;
        Ok(match config.activation_checkpointing {
            ActivationCheckpointing::Balanced => ferrofold_training::train::<
                Autodiff<B, BalancedCheckpointing>,
            >(config, device, on_step),
            _ => ferrofold_training::train::<Autodiff<B>>(config, device, on_step),
        }?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Args, FromArgMatches};

    /// Every `ferrofold train` flag lands in the run's configuration.
    #[test]
    fn every_train_flag_reaches_the_configuration() {
        let command = TrainArgs::augment_args(clap::Command::new("train"));
        let matches = command
            .try_get_matches_from([
                "train",
                "--preset",
                "small",
                "--data",
                "d",
                "--msa-dir",
                "m",
                "--out",
                "o",
                "--steps",
                "7",
                "--seed",
                "3",
                "--crop-size",
                "32",
                "--crop-mode",
                "spatial",
                "--max-msa-clusters",
                "9",
                "--max-extra-msa",
                "11",
                "--max-recycles",
                "2",
                "--accumulate",
                "4",
                "--learning-rate",
                "0.002",
                "--warmup-steps",
                "5",
                "--decay-after",
                "6",
                "--decay-factor",
                "0.5",
                "--grad-clip-norm",
                "0.2",
                "--ema-decay",
                "0.99",
                "--checkpoint-every",
                "8",
                "--keep-checkpoints",
                "2",
                "--phase",
                "finetune",
                "--fape-clamped-fraction",
                "0.25",
                "--dropout",
                "false",
                "--activation-checkpointing",
                "balanced",
                "--max-nonfinite-steps",
                "4",
                "--default-resolution",
                "2.5",
                "--clusters",
                "c.tsv",
                "--distillation-data",
                "p",
                "--distillation-fraction",
                "0.5",
                "--released-before",
                "2018-04-30",
                "--max-resolution",
                "3.5",
                "--validation-data",
                "v",
                "--validate-every",
                "12",
                "--resume",
            ])
            .unwrap();
        let args = TrainArgs::from_arg_matches(&matches).unwrap();
        let c = train_config(&args, None, &matches).unwrap();
        let expected = TrainConfig {
            preset: "small".into(),
            data: Some("d".into()),
            clusters: Some("c.tsv".into()),
            filter: ferrofold_data::ChainFilter {
                released_before: Some("2018-04-30".into()),
                max_resolution: Some(3.5),
                ..Default::default()
            },
            distillation_data: Some("p".into()),
            distillation_fraction: 0.5,
            msa_dir: Some("m".into()),
            out: "o".into(),
            steps: 7,
            seed: 3,
            crop_size: 32,
            crop_mode: ferrofold_features::crop::CropMode::Spatial,
            max_msa_clusters: 9,
            max_extra_msa: 11,
            max_recycles: 2,
            accumulate: 4,
            learning_rate: 0.002,
            warmup_steps: 5,
            decay_after: 6,
            decay_factor: 0.5,
            grad_clip_norm: 0.2,
            ema_decay: 0.99,
            checkpoint_every: 8,
            keep_checkpoints: 2,
            phase: Phase::Finetune,
            fape_clamped_fraction: Some(0.25),
            dropout: false,
            activation_checkpointing: ActivationCheckpointing::Balanced,
            max_nonfinite_steps: 4,
            default_resolution: 2.5,
            resume: true,
            validation_data: Some("v".into()),
            validate_every: 12,
            ..TrainConfig::default()
        };
        assert_eq!(c, expected);
    }
}
