//! The `ferrofold` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use ferrofold_features::feature_dict::FeatureDict;
use ferrofold_features::featurize::{
    alignments_in_dir, featurize_many, featurize_query, TemplateHitsDir,
};
use ferrofold_features::parsers::fasta::parse_fasta_file;
use ferrofold_features::templates::{add_template_features, read_obsolete_pdbs, TemplateConfig};
use ferrofold_features::tools::RunOptions;
use ferrofold_inference::search::{search_alignments, search_templates, MsaTool};
use ferrofold_inference::{
    predict_record, InferenceError, ModelSpec, PredictOptions, Progress, RecordInputs, Weights,
};
use ferrofold_model::{AlphaFold, FeatureBatch, ModelConfig, ParamFile};
use ferrofold_training::TrainConfig;
use indicatif::{ProgressBar, ProgressStyle};
use tracing_subscriber::EnvFilter;

/// The release and the commit it was built from.
const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("FERROFOLD_COMMIT"), ")");

#[derive(Parser)]
#[command(name = "ferrofold", version = VERSION, about = "AlphaFold2, reimplemented in Rust")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Predict structures: FASTA in, ranked PDB/mmCIF with confidence (JSON, PAE, plots) out.
    Predict(PredictArgs),
    /// Compare a model with a reference structure on Cα: lDDT-Cα, TM-score, GDT-TS, RMSD.
    Score(ScoreArgs),
    /// Build AlphaFold's raw input features (sequence + MSA) from a FASTA file and alignments.
    Featurize(FeaturizeArgs),
    /// Run the network on a processed feature batch (leading dimension = recycles + 1) and
    /// write every output under AlphaFold's names.
    Forward(ForwardArgs),
    /// Convert a parameter file (AlphaFold .npz, OpenFold .pt, ferrofold .safetensors) to ferrofold's
    /// native .safetensors, checking it against a preset.
    ConvertWeights(ConvertArgs),
    /// Train a network from AlphaFold's random initialisation on a directory of structures.
    Train(TrainArgs),
    /// Training corpora: build an indexed HDF5 store from structures and alignments, inspect
    /// it, verify it, cluster its sequences.
    #[command(subcommand)]
    Data(DataCommand),
    /// Train starting from existing weights (AlphaFold .npz, OpenFold .pt, ferrofold .safetensors), with
    /// the fine-tuning losses (structural violations, experimentally resolved) on.
    Finetune(FinetuneArgs),
}

#[derive(Subcommand)]
enum DataCommand {
    /// Store every structure of a directory (with its alignment) in a store; continues an
    /// interrupted build.
    Build {
        /// Directory of PDB/mmCIF files (one chain each).
        #[arg(long)]
        structures: PathBuf,
        /// Directory of alignments named after the structure files.
        #[arg(long)]
        msa_dir: Option<PathBuf>,
        /// The store (created if absent).
        #[arg(long)]
        store: PathBuf,
        /// Chains per shard file.
        #[arg(long, default_value_t = 256)]
        shard_size: usize,
    },
    /// Summarise a store, or show one chain.
    Inspect {
        store: PathBuf,
        #[arg(long)]
        chain: Option<String>,
    },
    /// Read every chain back and check it against the index.
    Verify { store: PathBuf },
    /// Cluster the store's sequences with mmseqs2 (writes STORE/clusters.tsv, which
    /// `ferrofold train --data <store>` then samples by).
    Cluster {
        store: PathBuf,
        #[arg(long, default_value_t = 0.4)]
        min_seq_id: f64,
        #[arg(long, default_value_t = 0.8)]
        coverage: f64,
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
}

/// Every option of `ferrofold train`; each overrides the same key of `--config`.
#[derive(clap::Args)]
struct TrainArgs {
    /// TOML file with any of the options below (same names, `_` for `-`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Network preset (reduced, model_1 … model_5, _ptm).
    #[arg(long)]
    preset: Option<String>,
    /// Directory of PDB/mmCIF files, one chain each.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Directory of alignments `<stem>.a3m|.sto|.aln` (optional: single sequence without).
    #[arg(long)]
    msa_dir: Option<PathBuf>,
    /// Output directory (metrics.jsonl, checkpoints/, final weights, loss.png).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Total optimizer steps.
    #[arg(long)]
    steps: Option<usize>,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long)]
    crop_size: Option<usize>,
    /// contiguous or spatial.
    #[arg(long)]
    crop_mode: Option<String>,
    #[arg(long)]
    max_msa_clusters: Option<usize>,
    #[arg(long)]
    max_extra_msa: Option<usize>,
    #[arg(long)]
    max_recycles: Option<usize>,
    /// Examples per optimizer step (gradient accumulation): the batch size.
    #[arg(long)]
    accumulate: Option<usize>,
    /// Model replicas computing a step's examples in parallel (data parallelism: one thread
    /// each on the CPU); the --accumulate examples are shared out among them.
    #[arg(long)]
    data_parallel: Option<usize>,
    #[arg(long)]
    learning_rate: Option<f64>,
    #[arg(long)]
    warmup_steps: Option<usize>,
    #[arg(long)]
    decay_after: Option<usize>,
    #[arg(long)]
    decay_factor: Option<f64>,
    #[arg(long)]
    grad_clip_norm: Option<f64>,
    #[arg(long)]
    ema_decay: Option<f64>,
    #[arg(long)]
    checkpoint_every: Option<usize>,
    #[arg(long)]
    keep_checkpoints: Option<usize>,
    /// initial or finetune.
    #[arg(long)]
    phase: Option<String>,
    /// Fraction of the backbone FAPE clamped at 10 Å (AlphaFold: 0.9).
    #[arg(long)]
    fape_clamped_fraction: Option<f64>,
    /// AlphaFold's dropout in training (default true).
    #[arg(long)]
    dropout: Option<bool>,
    /// `blocks`: keep only each Evoformer/extra-MSA block's input and recompute the blocks one
    /// at a time in the backward pass (AlphaFold's gradient checkpointing: the full network
    /// trains at crop 128+ in 24 GiB); `balanced`: recompute the outputs of memory-bound
    /// operations (burn's BalancedCheckpointing: about 40% less memory, a few % more time);
    /// default none.
    #[arg(long)]
    activation_checkpointing: Option<String>,
    #[arg(long)]
    max_nonfinite_steps: Option<usize>,
    /// Resolution (Å) assumed for files that state none (0: leave them out of the confidence
    /// heads' losses).
    #[arg(long)]
    default_resolution: Option<f64>,
    /// Cluster file (mmseqs2 `representative<TAB>member`) for AlphaFold's cluster-weighted
    /// sampling; default: DATA/clusters.tsv when --data is a store that has one.
    #[arg(long)]
    clusters: Option<PathBuf>,
    /// Predicted structures (pLDDT in the B-factor column) mixed in as AlphaFold's
    /// self-distillation set: a directory or a store.
    #[arg(long)]
    distillation_data: Option<PathBuf>,
    /// Fraction of examples from --distillation-data (AlphaFold: 0.75).
    #[arg(long)]
    distillation_fraction: Option<f64>,
    /// Train only on chains released before this date (YYYY-MM-DD).
    #[arg(long)]
    released_before: Option<String>,
    /// Train only on chains of at most this resolution (Å).
    #[arg(long)]
    max_resolution: Option<f64>,
    /// Held-out structures, predicted every --validate-every steps (lDDT-Cα into
    /// validation.jsonl).
    #[arg(long)]
    validation_data: Option<PathBuf>,
    #[arg(long)]
    validate_every: Option<usize>,
    /// Continue from the last checkpoint in --out.
    #[arg(long)]
    resume: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args)]
struct FinetuneArgs {
    /// Starting weights: AlphaFold params_model_*.npz, an OpenFold .pt checkpoint or ferrofold
    /// .safetensors.
    #[arg(long)]
    params: PathBuf,
    #[command(flatten)]
    train: TrainArgs,
}

#[derive(clap::Args)]
struct PredictArgs {
    /// A FASTA file (one or more records) or a directory of `.fasta`/`.fa` files.
    input: PathBuf,
    /// Output directory; each record gets `<id>/`.
    #[arg(long)]
    out_dir: PathBuf,
    /// Alignment of the query (.a3m, .sto, .aln), for single-record input; repeat to merge
    /// several (duplicate rows kept once).
    #[arg(long = "msa", conflicts_with = "msa_dir")]
    msas: Vec<PathBuf>,
    /// Directory with `<id>.a3m` / `<id>.sto` / `<id>.aln` per record (ColabFold's layout).
    #[arg(long)]
    msa_dir: Option<PathBuf>,
    /// `single-sequence`: use no alignment (the default when none is given).
    #[arg(long, value_enum)]
    msa_mode: Option<MsaMode>,
    /// Search an MSA for each record with this tool (Debian packages hmmer, mmseqs2, hhsuite)
    /// against every --database; alignments go to OUT_DIR/ID/msas/.
    #[arg(long, value_enum, requires = "databases", conflicts_with_all = ["msas", "msa_dir", "msa_mode"])]
    msa_tool: Option<SearchTool>,
    /// Sequence database of --msa-tool (FASTA for jackhmmer and mmseqs2, an ffindex prefix for
    /// hhblits); repeat for several (their alignments are merged).
    #[arg(long = "database")]
    databases: Vec<PathBuf>,
    /// Where search results are cached (default: OUT_DIR/msa_cache); the same sequence,
    /// tool and database reuse the earlier result.
    #[arg(long)]
    msa_cache: Option<PathBuf>,
    /// Parameters: DeepMind params_model_*.npz, OpenFold .pt or ferrofold .safetensors; repeat to run several
    /// models (ranked by pTM for _ptm presets, else mean pLDDT). Without it: the bundled
    /// low-accuracy model.
    #[arg(long = "params")]
    params: Vec<PathBuf>,
    /// Preset of each --params (one for all, or one per file); by default from the file name
    /// (params_model_1_ptm.npz → model_1_ptm).
    #[arg(long = "preset")]
    presets: Vec<String>,
    /// Recycling iterations after the first (at most 48).
    #[arg(long, default_value_t = 3, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(..=ferrofold_model::config::MAX_RECYCLES as u64))]
    recycles: usize,
    /// Seed of the MSA sampling and masking.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Row chunk size (less memory, same numbers). Default: chosen from the memory estimate.
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    chunk_size: Option<usize>,
    /// Key chunk size inside attention (less memory, equal up to rounding).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    key_chunk_size: Option<usize>,
    #[arg(long, value_enum, default_value = "cpu")]
    device: Device,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Also write each model's processed batch as `<id>/features_<model>.npz` (the input of
    /// `ferrofold forward`).
    #[arg(long)]
    save_features: bool,
    /// Skip plddt.png and pae.png.
    #[arg(long)]
    no_plots: bool,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    templates: TemplateArgs,
}

#[derive(clap::Args)]
struct ScoreArgs {
    /// The model (.pdb or .cif).
    model: PathBuf,
    /// The reference (.pdb or .cif); scores are normalised by its length.
    reference: PathBuf,
    /// Chain of the model (needed when the file has several).
    #[arg(long)]
    model_chain: Option<String>,
    /// Chain of the reference.
    #[arg(long)]
    reference_chain: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SearchTool {
    Jackhmmer,
    Mmseqs2,
    Hhblits,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MsaMode {
    SingleSequence,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Device {
    Cpu,
    /// NVIDIA GPU through burn-cuda (build with `--features cuda`).
    Cuda,
}

#[derive(clap::Args)]
struct ForwardArgs {
    /// Processed feature batch (.npz), AlphaFold's model input.
    #[arg(long)]
    features: PathBuf,
    /// Parameters: DeepMind's params_model_*.npz, an OpenFold .pt checkpoint or ferrofold .safetensors.
    #[arg(long)]
    params: PathBuf,
    /// Network preset: model_1 … model_5, model_1_ptm … model_5_ptm, reduced.
    #[arg(long)]
    preset: String,
    #[arg(long, value_enum, default_value = "f32")]
    precision: Precision,
    /// Process attention and transitions in chunks of this many rows (less memory, same result).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    chunk_size: Option<usize>,
    /// Visit this many keys at a time inside attention, with a running log-sum-exp (less memory;
    /// equal up to rounding).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
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
    /// Input parameters (AlphaFold .npz, OpenFold .pt or ferrofold .safetensors).
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
    #[command(flatten)]
    templates: TemplateArgs,
}

/// Templates from hhsearch hits and mmCIF files (AlphaFold's template pipeline).
#[derive(clap::Args, Clone)]
struct TemplateArgs {
    /// hhsearch hits of the query against a PDB70-style database (.hhr), for single-record input.
    #[arg(long, requires = "mmcif_dir", conflicts_with = "template_dir")]
    template_hits: Option<PathBuf>,
    /// Directory with `<id>.hhr` per record (records without one get no templates).
    #[arg(long, requires = "mmcif_dir")]
    template_dir: Option<PathBuf>,
    /// Search templates with hhsearch in this PDB70-style database (ffindex prefix), from each
    /// record's first alignment (predict only).
    #[arg(long, requires = "mmcif_dir", conflicts_with_all = ["template_hits", "template_dir"])]
    template_database: Option<PathBuf>,
    /// Template structures: a directory of `<pdb id>.cif` files (a PDB mmCIF mirror).
    #[arg(long)]
    mmcif_dir: Option<PathBuf>,
    /// Use no template released after this date (YYYY-MM-DD). Default: no cut-off.
    #[arg(long)]
    max_template_date: Option<String>,
    /// Templates kept per record (AlphaFold: 20; the network reads the first 4).
    #[arg(long, default_value_t = 20)]
    max_template_hits: usize,
    /// The PDB's obsolete.dat: hits to obsolete entries use their replacement.
    #[arg(long)]
    obsolete_pdbs: Option<PathBuf>,
}

impl TemplateArgs {
    /// The template search settings, if templates were asked for.
    fn config(&self) -> Result<Option<TemplateConfig>> {
        let Some(mmcif_dir) = &self.mmcif_dir else {
            return Ok(None);
        };
        if self.template_hits.is_none()
            && self.template_dir.is_none()
            && self.template_database.is_none()
        {
            bail!("--mmcif-dir needs --template-hits, --template-dir or --template-database");
        }
        if !mmcif_dir.is_dir() {
            bail!("--mmcif-dir {}: not a directory", mmcif_dir.display());
        }
        let mut config = TemplateConfig::new(mmcif_dir, self.max_template_date.as_deref())?;
        config.max_hits = self.max_template_hits;
        if let Some(path) = &self.obsolete_pdbs {
            config.obsolete_pdbs = read_obsolete_pdbs(path)?;
        }
        Ok(Some(config))
    }

    /// The hits file of record `id`, if there is one.
    fn hits_for(&self, id: &str) -> Option<PathBuf> {
        match (&self.template_hits, &self.template_dir) {
            (Some(path), _) => Some(path.clone()),
            (None, Some(dir)) => Some(dir.join(format!("{id}.hhr"))).filter(|p| p.is_file()),
            (None, None) => None,
        }
    }
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
        Command::Predict(args) => predict(args),
        Command::Score(args) => score(args),
        Command::Featurize(args) => featurize(args),
        Command::Forward(args) => match args.precision {
            Precision::F32 => forward::<ferrofold_model::CpuF32>(args),
            Precision::F64 => forward::<ferrofold_model::CpuF64>(args),
        },
        Command::ConvertWeights(args) => convert_weights(args),
        Command::Train(args) => train(args, None),
        Command::Data(command) => data(command),
        Command::Finetune(args) => train(args.train, Some(args.params)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One readable line (with its causes) instead of a debug dump and backtrace.
            eprintln!("error: {}", one_line(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, each cause once: errors that already quote their
/// cause (`path: No such file or directory`) would otherwise print it twice.
fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = String::new();
    let mut cause = Some(error);
    while let Some(current) = cause {
        cause = current.source();
        let text = current.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

/// Preset named by a parameter file: `params_model_1_ptm.npz` → `model_1_ptm`.
fn preset_from_file_name(path: &std::path::Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    let name = stem.strip_prefix("params_").unwrap_or(stem);
    ModelConfig::preset(name).is_ok().then(|| name.to_string())
}

fn model_specs(args: &PredictArgs) -> Result<Vec<ModelSpec>> {
    if args.params.is_empty() {
        if !args.presets.is_empty() {
            bail!("--preset needs --params (the bundled model has its own preset)");
        }
        return Ok(vec![ModelSpec::bundled()]);
    }
    if args.presets.len() > 1 && args.presets.len() != args.params.len() {
        bail!(
            "{} --preset values for {} --params files: give one for all or one per file",
            args.presets.len(),
            args.params.len()
        );
    }
    let mut specs = Vec::new();
    for (i, path) in args.params.iter().enumerate() {
        let preset = match args.presets.get(i).or(args.presets.first()) {
            Some(p) => p.clone(),
            None => preset_from_file_name(path).with_context(|| {
                format!(
                    "{}: cannot tell the preset from the file name; pass --preset",
                    path.display()
                )
            })?,
        };
        ModelConfig::preset(&preset)?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
        let name = stem.strip_prefix("params_").unwrap_or(stem).to_string();
        let name = if specs.iter().any(|s: &ModelSpec| s.name == name) {
            format!("{name}_{i}")
        } else {
            name
        };
        specs.push(ModelSpec { name, preset, weights: Weights::File(path.clone()) });
    }
    Ok(specs)
}

fn fasta_inputs(input: &std::path::Path) -> Result<Vec<PathBuf>> {
    if !input.is_dir() {
        return Ok(vec![input.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(input)
        .with_context(|| format!("reading directory {}", input.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("fasta" | "fa" | "faa")))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{}: no .fasta, .fa or .faa file in the directory", input.display());
    }
    Ok(files)
}

/// `--threads`: rayon's pool (batched matmuls, featurisation, data parallelism) and
/// matrixmultiply's own pool, which sizes itself from `MATMUL_NUM_THREADS` on its first matmul.
fn set_threads(threads: Option<u16>) -> Result<()> {
    let Some(threads) = threads.map(usize::from) else { return Ok(()) };
    if std::env::var_os("MATMUL_NUM_THREADS").is_none() {
        // Before any tensor work: nothing else reads the environment concurrently yet.
        std::env::set_var("MATMUL_NUM_THREADS", threads.to_string());
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .context("setting the thread count")
}

fn predict(args: PredictArgs) -> Result<()> {
    set_threads(args.threads)?;
    let models = model_specs(&args)?;
    let bundled = models.iter().any(ModelSpec::is_bundled);
    if bundled {
        eprintln!("{}", ferrofold_inference::bundled::warning());
    }
    let mut records = Vec::new();
    for file in fasta_inputs(&args.input)? {
        for record in parse_fasta_file(&file)? {
            records.push(record);
        }
    }
    ferrofold_features::featurize::unique_record_ids(&records)
        .with_context(|| args.input.display().to_string())?;
    if !args.msas.is_empty() && records.len() > 1 {
        bail!(
            "--msa is for a single record, but the input has {} records; use --msa-dir",
            records.len()
        );
    }
    if args.templates.template_hits.is_some() && records.len() > 1 {
        bail!(
            "--template-hits is for a single record, but the input has {} records; use \
             --template-dir",
            records.len()
        );
    }
    let options = PredictOptions {
        models,
        num_recycle: args.recycles,
        seed: args.seed,
        chunk_size: args.chunk_size,
        key_chunk_size: args.key_chunk_size,
        save_features: args.save_features,
        plots: !args.no_plots,
        memory_limit: std::env::var("FERROFOLD_MEMORY_LIMIT").ok().and_then(|v| v.parse().ok()),
        templates: args.templates.config()?,
    };
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("creating {}", args.out_dir.display()))?;
    let mut failures = 0;
    for (index, record) in records.iter().enumerate() {
        let id = ferrofold_features::featurize::record_id(record);
        let alignments = match (&args.msa_dir, args.msa_mode) {
            _ if args.msa_tool.is_some() => {
                let tool = match args.msa_tool.expect("checked") {
                    SearchTool::Jackhmmer => MsaTool::Jackhmmer,
                    SearchTool::Mmseqs2 => MsaTool::Mmseqs2,
                    SearchTool::Hhblits => MsaTool::Hhblits,
                };
                let sequence = record.sequence.clone();
                match search_alignments(
                    &sequence,
                    tool,
                    &args.databases,
                    &search_options(&args),
                    &args.out_dir.join(&id),
                ) {
                    Ok(paths) => paths,
                    Err(e) => {
                        failures += 1;
                        eprintln!(
                            "error: {}: MSA search: {}",
                            record_source(&args.input, record),
                            one_line(&e)
                        );
                        continue;
                    }
                }
            }
            (_, Some(MsaMode::SingleSequence)) => vec![],
            (Some(dir), None) => {
                let found = alignments_in_dir(dir, &id);
                if found.is_empty() {
                    tracing::warn!("{id}: no alignment in {}; single-sequence mode", dir.display());
                }
                found
            }
            (None, None) => args.msas.clone(),
        };
        if alignments.is_empty() && args.msa_mode.is_none() && args.msa_dir.is_none() {
            tracing::warn!("{id}: no MSA given; single-sequence mode (expect low accuracy)");
        }
        let template_hits = match &args.templates.template_database {
            Some(database) => match search_templates(
                &record.sequence,
                &alignments,
                database,
                &search_options(&args),
                &args.out_dir.join(&id),
            ) {
                Ok(path) => Some(path),
                Err(e) => {
                    failures += 1;
                    eprintln!(
                        "error: {}: template search: {}",
                        record_source(&args.input, record),
                        one_line(&e)
                    );
                    continue;
                }
            },
            None => args.templates.hits_for(&id),
        };
        let inputs =
            RecordInputs { alignments: &alignments, template_hits: template_hits.as_deref() };
        let result = match args.device {
            Device::Cpu => predict_one::<ferrofold_model::CpuF32>(
                &Default::default(),
                record,
                &inputs,
                &options,
                &args,
            ),
            Device::Cuda => predict_cuda(record, &inputs, &options, &args),
        };
        match result {
            Ok(result) => {
                let best = &result.ranked[0];
                let confidence = best.ptm.map_or(String::new(), |p| format!(", pTM {p:.3}"));
                tracing::info!(
                    "{id}: ranked_0 = {} (mean pLDDT {:.1}{confidence}) → {}",
                    best.model,
                    best.mean_plddt,
                    result.dir.display()
                );
            }
            // A full disk or an unwritable directory fails every later record the same way.
            Err(e) if matches!(e.downcast_ref(), Some(InferenceError::Output { .. })) => {
                bail!(
                    "{}; stopped, {} of {} records not predicted",
                    one_line(e.as_ref()),
                    records.len() - index,
                    records.len()
                );
            }
            Err(e) => {
                failures += 1;
                let message = one_line(e.as_ref());
                eprintln!("error: {}: {message}", record_source(&args.input, record));
            }
        }
    }
    if bundled {
        eprintln!("{}", ferrofold_inference::bundled::warning());
    }
    if failures > 0 {
        bail!("{failures} of {} records failed (see above)", records.len());
    }
    Ok(())
}

/// How the search tools run: all cores (or --threads), results cached in --msa-cache.
fn search_options(args: &PredictArgs) -> RunOptions {
    RunOptions {
        threads: args
            .threads
            .map(usize::from)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        cache_dir: Some(args.msa_cache.clone().unwrap_or_else(|| args.out_dir.join("msa_cache"))),
        ..RunOptions::default()
    }
}

fn record_source(
    input: &std::path::Path,
    record: &ferrofold_features::parsers::fasta::FastaRecord,
) -> String {
    format!("{}:{} ({})", input.display(), record.line, record.description)
}

#[cfg(feature = "cuda")]
fn predict_cuda(
    record: &ferrofold_features::parsers::fasta::FastaRecord,
    inputs: &RecordInputs,
    options: &PredictOptions,
    args: &PredictArgs,
) -> Result<ferrofold_inference::RecordResult> {
    predict_one::<burn::backend::Cuda<f32>>(&Default::default(), record, inputs, options, args)
}

#[cfg(not(feature = "cuda"))]
fn predict_cuda(
    _: &ferrofold_features::parsers::fasta::FastaRecord,
    _: &RecordInputs,
    _: &PredictOptions,
    _: &PredictArgs,
) -> Result<ferrofold_inference::RecordResult> {
    bail!("--device cuda: this ferrofold was built without CUDA; rebuild with `--features cuda`")
}

fn predict_one<B: burn::prelude::Backend>(
    device: &B::Device,
    record: &ferrofold_features::parsers::fasta::FastaRecord,
    inputs: &RecordInputs,
    options: &PredictOptions,
    args: &PredictArgs,
) -> Result<ferrofold_inference::RecordResult> {
    let mut bar: Option<ProgressBar> = None;
    let quiet = args.quiet;
    let id = ferrofold_features::featurize::record_id(record);
    let result = predict_record::<B>(
        device,
        record,
        inputs,
        options,
        &args.out_dir,
        &mut |event| match event {
            Progress::Featurized { residues, msa_rows, templates } => {
                tracing::info!(
                    "{id}: {residues} residues, {msa_rows} alignment rows, {templates} templates"
                )
            }
            Progress::ModelStarted { model, iterations, .. } => {
                let b =
                    if quiet { ProgressBar::hidden() } else { ProgressBar::new(iterations as u64) };
                b.set_style(
                    ProgressStyle::with_template("{msg} {bar:30} recycle {pos}/{len} {elapsed}")
                        .expect("valid template"),
                );
                b.set_message(format!("{id} {model}"));
                bar = Some(b);
            }
            Progress::Recycle { .. } => {
                if let Some(b) = &bar {
                    b.inc(1)
                }
            }
            Progress::ModelFinished { model, seconds } => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear()
                }
                tracing::info!("{id}: {model} in {seconds:.1} s");
            }
            Progress::Written { path } => tracing::debug!("wrote {}", path.display()),
        },
    );
    Ok(result?)
}

fn score(args: ScoreArgs) -> Result<()> {
    use ferrofold_features::protein::read_structure;
    let model = read_structure(&args.model, args.model_chain.as_deref())?;
    let reference = read_structure(&args.reference, args.reference_chain.as_deref())?;
    let scores = ferrofold_inference::score::score(&model, &reference).with_context(|| {
        format!(
            "{} and {} share fewer than 3 Cα atoms after sequence alignment",
            args.model.display(),
            args.reference.display()
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&scores).expect("plain data"));
    } else {
        println!("model      {}", args.model.display());
        println!(
            "reference  {} ({} residues with Cα)",
            args.reference.display(),
            scores.reference_length
        );
        println!("aligned    {}", scores.aligned);
        println!("lDDT-Cα    {:.4}", scores.lddt_ca);
        println!("TM-score   {:.4}", scores.tm_score);
        println!("GDT-TS     {:.4}", scores.gdt_ts);
        println!("RMSD       {:.3} Å", scores.rmsd);
    }
    Ok(())
}

fn featurize(args: FeaturizeArgs) -> Result<()> {
    let records = parse_fasta_file(&args.fasta)?;
    if args.templates.template_database.is_some() {
        bail!("--template-database is for predict; featurize takes --template-hits (an .hhr)");
    }
    if let Some(output_dir) = &args.output_dir {
        std::fs::create_dir_all(output_dir)
            .with_context(|| format!("creating {}", output_dir.display()))?;
        let bar = ProgressBar::new(records.len() as u64).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} chains {elapsed}")
                .expect("valid template"),
        );
        let template_config = args.templates.config()?;
        if args.templates.template_hits.is_some() {
            bail!("--template-hits is for --output; with --output-dir use --template-dir");
        }
        let templates = match (&args.templates.template_dir, &template_config) {
            (Some(dir), Some(config)) => Some(TemplateHitsDir { dir, config }),
            _ => None,
        };
        let results = featurize_many(
            &records,
            args.msa_dir.as_deref(),
            templates.as_ref(),
            output_dir,
            || bar.inc(1),
        )
        .with_context(|| args.fasta.display().to_string())?;
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
    let mut features = featurize_query(record, &args.msas)?;
    if let Some(config) = args.templates.config()? {
        let id = ferrofold_features::featurize::record_id(record);
        match args.templates.hits_for(&id) {
            Some(hits) => {
                let found = add_template_features(&mut features, &record.sequence, &hits, &config)?;
                found.log_summary(&id);
            }
            None => tracing::warn!("{id}: no template hits file; no templates"),
        }
    }
    let hdf5_by_extension =
        matches!(output.extension().and_then(|e| e.to_str()), Some("h5" | "hdf5"));
    match args.format {
        Some(Format::Hdf5) => save_hdf5(&features, &output)?,
        None if hdf5_by_extension => save_hdf5(&features, &output)?,
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
    let outputs = output
        .finite_outputs(&config)
        .with_context(|| format!("running {} on {}", args.preset, args.features.display()))?;
    for (name, array) in outputs {
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
    let input = ParamFile::read(&args.input)?;
    // Loading checks every name and shape against the preset; the loaded network is written
    // back under AlphaFold's names and shapes (an OpenFold checkpoint's blocks stacked, its
    // attention heads split).
    let (model, layout) = AlphaFold::<ferrofold_model::CpuF32>::load_with_layout(
        &input,
        &config,
        &Default::default(),
    )?;
    let params = layout.export(&model, &input.source_name);
    params.write_safetensors(&args.output)?;
    tracing::info!(
        "wrote {} ({} tensors, {} parameters)",
        args.output.display(),
        params.tensors.len(),
        params.parameter_count()
    );
    Ok(())
}

/// `--config` with the flags laid over it.
fn train_config(args: &TrainArgs, init_params: Option<PathBuf>) -> Result<TrainConfig> {
    let mut c = match &args.config {
        Some(path) => TrainConfig::from_toml_file(path)?,
        None => TrainConfig::default(),
    };
    if init_params.is_some() {
        c.init_params = init_params;
        c.phase = "finetune".into();
    }
    // A flag given replaces the configuration's value; an optional setting is replaced only
    // when its flag is given.
    macro_rules! set {
        ($($field:ident),*) => {$( if let Some(v) = args.$field.clone() { c.$field = v; } )*};
    }
    macro_rules! set_option {
        ($($field:ident),*) => {$( if args.$field.is_some() { c.$field = args.$field.clone(); } )*};
    }
    set!(
        preset,
        data,
        out,
        steps,
        seed,
        crop_size,
        crop_mode,
        max_msa_clusters,
        max_extra_msa,
        max_recycles,
        accumulate,
        data_parallel,
        learning_rate,
        warmup_steps,
        decay_after,
        decay_factor,
        grad_clip_norm,
        ema_decay,
        checkpoint_every,
        keep_checkpoints,
        phase,
        dropout,
        activation_checkpointing,
        max_nonfinite_steps,
        default_resolution,
        validate_every,
        distillation_fraction
    );
    set_option!(msa_dir, validation_data, clusters, fape_clamped_fraction, distillation_data);
    if c.clusters.is_none() {
        c.clusters = ferrofold_data::cluster::clusters_file(&c.data);
    }
    if args.released_before.is_some() {
        c.filter.released_before = args.released_before.clone();
    }
    if args.max_resolution.is_some() {
        c.filter.max_resolution = args.max_resolution;
    }
    c.resume |= args.resume;
    if c.data.as_os_str().is_empty() {
        anyhow::bail!("no training data: give --data DIR (or `data` in --config)");
    }
    Ok(c)
}

fn train(args: TrainArgs, init_params: Option<PathBuf>) -> Result<()> {
    set_threads(args.threads)?;
    let config = train_config(&args, init_params)?;
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
    let device = Default::default();
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
    use burn::backend::{autodiff::checkpoint::strategy::BalancedCheckpointing, Autodiff};
    use ferrofold_model::CpuF32;
    let summary = match config.activation_checkpointing.as_str() {
        "balanced" => ferrofold_training::train::<Autodiff<CpuF32, BalancedCheckpointing>>(
            &config, &device, on_step,
        ),
        _ => ferrofold_training::train::<Autodiff<CpuF32>>(&config, &device, on_step),
    }
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

#[cfg(feature = "hdf5")]
fn save_hdf5(features: &FeatureDict, output: &std::path::Path) -> Result<()> {
    Ok(features.save_hdf5(output)?)
}

#[cfg(not(feature = "hdf5"))]
fn save_hdf5(_: &FeatureDict, output: &std::path::Path) -> Result<()> {
    bail!("{}: {}", output.display(), ferrofold_data::WITHOUT_HDF5)
}

#[cfg(not(feature = "hdf5"))]
fn data(_: DataCommand) -> Result<()> {
    bail!("ferrofold data: {}", ferrofold_data::WITHOUT_HDF5)
}

#[cfg(feature = "hdf5")]
fn data(command: DataCommand) -> Result<()> {
    use ferrofold_data::store::{build_store, BuildOptions, ChainStore};
    match command {
        DataCommand::Build { structures, msa_dir, store, shard_size } => {
            let bar = ProgressBar::new(0).with_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} files")
                    .expect("valid template"),
            );
            let summary = build_store(
                &structures,
                msa_dir.as_deref(),
                &store,
                &BuildOptions { shard_size },
                |done, total| {
                    bar.set_length(total as u64);
                    bar.set_position(done as u64);
                },
            )
            .with_context(|| format!("building {}", store.display()))?;
            bar.finish_and_clear();
            eprintln!(
                "{}: {} chains stored now, {} in all; {} files skipped (listed in manifest.json), {} stored before",
                store.display(),
                summary.added,
                summary.total,
                summary.skipped,
                summary.already_stored
            );
        }
        DataCommand::Inspect { store, chain } => {
            let opened = ChainStore::open(&store)?;
            match chain {
                Some(id) => {
                    let entry = opened
                        .entry(&id)
                        .with_context(|| format!("{}: no chain {id}", store.display()))?;
                    println!("{}", serde_json::to_string_pretty(entry)?);
                }
                None => {
                    let entries = opened.entries();
                    let residues: usize = entries.iter().map(|e| e.length).sum();
                    let with_msa = entries.iter().filter(|e| e.msa_rows > 0).count();
                    let resolved: Vec<f64> =
                        entries.iter().map(|e| e.resolution).filter(|&r| r > 0.0).collect();
                    let dates: Vec<&String> =
                        entries.iter().filter_map(|e| e.release_date.as_ref()).collect();
                    println!("store        {}", store.display());
                    println!(
                        "chains       {} in {} shards",
                        entries.len(),
                        opened.manifest.shards.len()
                    );
                    println!("residues     {residues}");
                    println!("alignments   {with_msa} chains");
                    println!(
                        "resolution   {} chains state one{}",
                        resolved.len(),
                        if resolved.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " ({:.2}–{:.2} Å)",
                                resolved.iter().cloned().fold(f64::INFINITY, f64::min),
                                resolved.iter().cloned().fold(0.0, f64::max)
                            )
                        }
                    );
                    if let (Some(first), Some(last)) = (dates.iter().min(), dates.iter().max()) {
                        println!("released     {first} … {last}");
                    }
                    println!("skipped      {} files", opened.manifest.skipped.len());
                }
            }
        }
        DataCommand::Verify { store } => {
            let opened = ChainStore::open(&store)?;
            let problems = opened.verify();
            if problems.is_empty() {
                eprintln!(
                    "{}: {} chains, all readable and consistent",
                    store.display(),
                    opened.entries().len()
                );
            } else {
                for p in &problems {
                    eprintln!("{p}");
                }
                bail!("{}: {} problems", store.display(), problems.len());
            }
        }
        DataCommand::Cluster { store, min_seq_id, coverage, threads } => {
            let opened = ChainStore::open(&store)?;
            let (path, count) = ferrofold_data::cluster::cluster_store(
                &opened,
                min_seq_id,
                coverage,
                threads,
                std::time::Duration::from_secs(3600),
            )?;
            eprintln!("{} chains in {count} clusters: {}", opened.entries().len(), path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `ferrofold train` flag lands in the run's configuration.
    #[test]
    fn every_train_flag_reaches_the_configuration() {
        let cli = Cli::try_parse_from([
            "ferrofold",
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
        let Command::Train(args) = cli.command else { panic!("not train") };
        let c = train_config(&args, None).unwrap();
        let expected = TrainConfig {
            preset: "small".into(),
            data: "d".into(),
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
            crop_mode: "spatial".into(),
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
            phase: "finetune".into(),
            fape_clamped_fraction: Some(0.25),
            dropout: false,
            activation_checkpointing: "balanced".into(),
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
