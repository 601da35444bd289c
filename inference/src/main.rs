//! The `ferrofold` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use ferrofold_features::feature_dict::FeatureDict;
use ferrofold_features::featurize::{featurize_many, featurize_query};
use ferrofold_features::parsers::fasta::parse_fasta_file;
use ferrofold_model::{AlphaFold, FeatureBatch, ModelConfig, ParamFile};
use indicatif::{ProgressBar, ProgressStyle};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "ferrofold", version, about = "AlphaFold2, reimplemented in Rust")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build AlphaFold's raw input features (sequence + MSA) from a FASTA file and alignments.
    Featurize(FeaturizeArgs),
    /// Run the network on a processed feature batch (leading dimension = recycles + 1) and
    /// write every output under AlphaFold's names.
    Forward(ForwardArgs),
    /// Convert a parameter file (AlphaFold .npz or ferrofold .safetensors) to ferrofold's
    /// native .safetensors, checking it against a preset.
    ConvertWeights(ConvertArgs),
}

#[derive(clap::Args)]
struct ForwardArgs {
    /// Processed feature batch (.npz), AlphaFold's model input.
    #[arg(long)]
    features: PathBuf,
    /// Parameters: DeepMind's params_model_*.npz or ferrofold .safetensors.
    #[arg(long)]
    params: PathBuf,
    /// Network preset: model_1 … model_5, model_1_ptm … model_5_ptm, reduced.
    #[arg(long)]
    preset: String,
    #[arg(long, value_enum, default_value = "f32")]
    precision: Precision,
    /// Process attention and transitions in chunks of this many rows (less memory, same result).
    #[arg(long)]
    chunk_size: Option<usize>,
    /// Visit this many keys at a time inside attention, with a running log-sum-exp (less memory;
    /// equal up to rounding).
    #[arg(long)]
    key_chunk_size: Option<usize>,
    /// Output .npz.
    #[arg(long)]
    output: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum Precision {
    F32,
    F64,
}

#[derive(clap::Args)]
struct ConvertArgs {
    /// Input parameters (.npz or .safetensors).
    input: PathBuf,
    /// Preset the parameters must fit (every tensor present, none extra, right shapes).
    #[arg(long)]
    preset: String,
    /// Output .safetensors.
    #[arg(long)]
    output: PathBuf,
}

#[derive(clap::Args)]
struct FeaturizeArgs {
    /// Query FASTA. With --output: exactly one record. With --output-dir: any number.
    #[arg(long)]
    fasta: PathBuf,
    /// Alignment of the query (.a3m, .sto, .aln); repeat for several. Rows duplicated across
    /// alignments are kept once. Without any: single-sequence mode.
    #[arg(long = "msa", conflicts_with = "msa_dir")]
    msas: Vec<PathBuf>,
    /// With --output-dir: directory holding `<id>.a3m` / `<id>.sto` / `<id>.aln` per record.
    #[arg(long, requires = "output_dir")]
    msa_dir: Option<PathBuf>,
    /// Output file for a single record.
    #[arg(long, required_unless_present = "output_dir", conflicts_with = "output_dir")]
    output: Option<PathBuf>,
    /// Output directory: one `<id>.npz` per record, featurized in parallel.
    #[arg(long)]
    output_dir: Option<PathBuf>,
    /// Storage format of --output (by default from its extension: .h5/.hdf5 → HDF5, else npz).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Npz,
    Hdf5,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Featurize(args) => featurize(args),
        Command::Forward(args) => match args.precision {
            Precision::F32 => forward::<ferrofold_model::CpuF32>(args),
            Precision::F64 => forward::<ferrofold_model::CpuF64>(args),
        },
        Command::ConvertWeights(args) => convert_weights(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One readable line (with its causes) instead of a debug dump and backtrace.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn featurize(args: FeaturizeArgs) -> Result<()> {
    let records = parse_fasta_file(&args.fasta)?;
    if let Some(output_dir) = &args.output_dir {
        std::fs::create_dir_all(output_dir)
            .with_context(|| format!("creating {}", output_dir.display()))?;
        let bar = ProgressBar::new(records.len() as u64).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} chains {elapsed}")
                .expect("valid template"),
        );
        let results = featurize_many(&records, args.msa_dir.as_deref(), output_dir, || bar.inc(1));
        bar.finish_and_clear();
        let failed: Vec<_> = results.iter().filter(|(_, r)| r.is_err()).collect();
        for (id, result) in &results {
            match result {
                Ok(path) => tracing::info!("{id}: wrote {}", path.display()),
                Err(e) => tracing::error!("{id}: {e}"),
            }
        }
        if !failed.is_empty() {
            bail!("{} of {} records failed (see above)", failed.len(), results.len());
        }
        return Ok(());
    }
    let output = args.output.expect("clap requires --output without --output-dir");
    let [record] = records.as_slice() else {
        bail!(
            "{}: has {} records; --output takes one (use --output-dir for several)",
            args.fasta.display(),
            records.len()
        );
    };
    let features = featurize_query(record, &args.msas)?;
    let hdf5_by_extension =
        matches!(output.extension().and_then(|e| e.to_str()), Some("h5" | "hdf5"));
    match args.format {
        Some(Format::Hdf5) => features.save_hdf5(&output)?,
        None if hdf5_by_extension => features.save_hdf5(&output)?,
        _ => features.save_npz(&output)?,
    }
    let num_alignments =
        features.get("msa").map(|a| a.shape()[0]).context("raw features always hold `msa`")?;
    tracing::info!(
        "{}: {} residues, {} alignment rows → {}",
        record.description,
        record.sequence.len(),
        num_alignments,
        output.display()
    );
    Ok(())
}

fn forward<B: burn::prelude::Backend>(args: ForwardArgs) -> Result<()> {
    let mut config = ModelConfig::preset(&args.preset)?;
    config.chunk_size = args.chunk_size;
    config.key_chunk_size = args.key_chunk_size;
    let params = ParamFile::read(&args.params)?;
    let device = B::Device::default();
    let model = AlphaFold::<B>::load(&params, &config, &device)?;
    drop(params);
    let batch = FeatureBatch::read(&args.features)?;
    let iterations = batch.num_iterations()?;
    let bar = ProgressBar::new(iterations as u64).with_style(
        ProgressStyle::with_template("{bar:40} iteration {pos}/{len} {elapsed}")
            .expect("valid template"),
    );
    let started = std::time::Instant::now();
    let output = model
        .forward(&batch, &config, &device, |_, _| bar.inc(1))
        .with_context(|| format!("running {} on {}", args.preset, args.features.display()))?;
    bar.finish_and_clear();
    tracing::info!(
        "forward pass: {iterations} iteration(s) in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let mut dict = FeatureDict::default();
    for (name, array) in output.to_outputs(&config) {
        match args.precision {
            Precision::F32 => dict.insert(name, array.mapv(|x| x as f32)),
            Precision::F64 => dict.insert(name, array),
        }
    }
    dict.save_npz(&args.output)?;
    tracing::info!("wrote {}", args.output.display());
    Ok(())
}

fn convert_weights(args: ConvertArgs) -> Result<()> {
    let config = ModelConfig::preset(&args.preset)?;
    let params = ParamFile::read(&args.input)?;
    // Loading checks every name and shape against the preset; a file that loads holds exactly
    // the network's parameters, so it is written as it was read.
    AlphaFold::<ferrofold_model::CpuF32>::load(&params, &config, &Default::default())?;
    params.write_safetensors(&args.output)?;
    tracing::info!(
        "wrote {} ({} tensors, {} parameters)",
        args.output.display(),
        params.tensors.len(),
        params.parameter_count()
    );
    Ok(())
}
