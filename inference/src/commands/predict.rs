//! `ferrofold predict`: FASTA in, ranked structures with confidences out
//! ([`ferrofold_inference::PredictRun`] does the work; this module reads the options and shows
//! progress).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use burn::prelude::Backend;
use clap::ValueEnum;
use ferrofold_features::parsers::fasta::FastaRecord;
use ferrofold_features::tools::RunOptions;
use ferrofold_inference::msa_server::{MsaServer, COLABFOLD_SERVER};
use ferrofold_inference::search::MsaTool;
use ferrofold_inference::weights::{weights_dir, Manifest};
use ferrofold_inference::{
    bundled, read_records, AlignmentSource, ModelSpec, PredictOptions, PredictRun, Progress,
    RunEvent, RunSummary, Weights,
};
use ferrofold_model::ModelConfig;
use indicatif::{ProgressBar, ProgressStyle};

use super::{one_line, run_on_device, set_threads, Attention, Device, OnDevice, TemplateArgs};

#[derive(clap::Args)]
pub struct PredictArgs {
    /// A FASTA file (one or more records) or a directory of `.fasta`/`.fa` files. A record
    /// `SEQ_A:SEQ_B` is a complex of two chains (AlphaFold-Multimer presets).
    input: PathBuf,
    /// Each FASTA file's records are the chains of one complex (named after the file), as
    /// `SEQ_A:SEQ_B:…` in one record.
    #[arg(long)]
    complex: bool,
    /// Output directory; each record gets `<id>/`.
    #[arg(long)]
    out_dir: PathBuf,
    /// Alignment of the query (.a3m, .sto, .aln), for single-record input; repeat to merge
    /// several (duplicate rows kept once).
    #[arg(long = "msa", conflicts_with = "msa_dir")]
    msas: Vec<PathBuf>,
    /// Directory with `<id>.a3m` / `<id>.sto` / `<id>.aln` per record (ColabFold's layout); for
    /// a complex, one per chain: `<id>_A.a3m`, `<id>_B.a3m`, …
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
    /// Search each record's MSA on a server speaking ColabFold's MMseqs2 API; without a value,
    /// ColabFold's public server (api.colabfold.com). Sequences are sent to that server.
    /// It is a free resource shared by every ColabFold user: its operators ask for moderate
    /// use and may block heavy users, so ferrofold sends one request at a time and caches each
    /// result (--msa-cache); search many sequences locally (--msa-tool) instead.
    #[arg(long, num_args = 0..=1, value_name = "URL", value_parser = http_url,
          default_missing_value = COLABFOLD_SERVER,
          conflicts_with_all = ["msas", "msa_dir", "msa_mode", "msa_tool"])]
    msa_server: Option<String>,
    /// Seconds between two status requests to the MSA server.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    msa_server_poll: u64,
    /// Seconds a job may stay queued or running on the MSA server before the record fails.
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    msa_server_wait: u64,
    /// Where search results are cached (default: OUT_DIR/msa_cache); the same sequence,
    /// tool and database reuse the earlier result.
    #[arg(long)]
    msa_cache: Option<PathBuf>,
    /// Parameters: DeepMind params_model_*.npz, OpenFold .pt or ferrofold .safetensors; repeat
    /// to run several models (ranked by pTM for _ptm presets, else mean pLDDT). Without it: the
    /// installed weights (`ferrofold weights download alphafold`), else the bundled
    /// low-accuracy model.
    #[arg(long = "params")]
    params: Vec<PathBuf>,
    /// Installed models to run instead of the default (AlphaFold's five pTM models), by the
    /// names `ferrofold weights list` shows, comma-separated; `all` runs every one.
    #[arg(long, value_delimiter = ',', conflicts_with = "params")]
    models: Vec<String>,
    /// Where the installed weights are (default as for `ferrofold weights`).
    #[arg(long, conflicts_with = "params")]
    weights_dir: Option<PathBuf>,
    /// Preset of each --params (one for all, or one per file); by default from the file name
    /// (params_model_1_ptm.npz → model_1_ptm).
    #[arg(long = "preset")]
    presets: Vec<String>,
    /// Recycling iterations after the first (at most 48). Default: 3; 20 for AlphaFold-Multimer,
    /// which stops early once the structure moves by less than 0.5 Å.
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(..=ferrofold_model::config::MAX_RECYCLES as u64))]
    recycles: Option<usize>,
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
    #[arg(long, value_enum, default_value = "fused")]
    attention: Attention,
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

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SearchTool {
    Jackhmmer,
    Mmseqs2,
    Hhblits,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MsaMode {
    SingleSequence,
}

pub fn run(args: PredictArgs) -> Result<()> {
    set_threads(args.threads)?;
    let records = read_records(&args.input, args.complex)?;
    let models = model_specs(&args, records.iter().any(FastaRecord::is_complex))?;
    let bundled = models.iter().any(ModelSpec::is_bundled);
    if bundled {
        eprintln!("{}", bundled::warning());
    }
    let prediction = PredictRun {
        input: args.input.clone(),
        out_dir: args.out_dir.clone(),
        alignments: alignment_source(&args),
        templates: args.templates.source(),
        search: search_options(&args),
        options: PredictOptions {
            models,
            num_recycle: args.recycles,
            seed: args.seed,
            chunk_size: args.chunk_size,
            key_chunk_size: args.key_chunk_size,
            attention: args.attention.into(),
            save_features: args.save_features,
            plots: !args.no_plots,
            memory_limit: std::env::var("FERROFOLD_MEMORY_LIMIT").ok().and_then(|v| v.parse().ok()),
            templates: args.templates.config()?,
            loaded: None,
        },
    };
    let summary = run_on_device(
        args.device,
        Predict { prediction: &prediction, records: &records, quiet: args.quiet },
    )?;
    if bundled {
        eprintln!("{}", bundled::warning());
    }
    if summary.failures > 0 {
        bail!("{} of {} records failed (see above)", summary.failures, summary.records);
    }
    Ok(())
}

/// `--msa-server`'s value: an http(s) URL (so that a file name caught by the optional value
/// is refused, not sent to).
fn http_url(value: &str) -> std::result::Result<String, String> {
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(value.to_string())
    } else {
        Err(format!("not an http(s) URL: {value} (write --msa-server=URL)"))
    }
}

fn alignment_source(args: &PredictArgs) -> AlignmentSource {
    if let Some(url) = &args.msa_server {
        let mut server = MsaServer::new(url);
        server.poll_interval = std::time::Duration::from_secs(args.msa_server_poll);
        server.max_wait = std::time::Duration::from_secs(args.msa_server_wait);
        return AlignmentSource::Server(server);
    }
    match (args.msa_tool, args.msa_mode, &args.msa_dir) {
        (Some(tool), _, _) => AlignmentSource::Search {
            tool: match tool {
                SearchTool::Jackhmmer => MsaTool::Jackhmmer,
                SearchTool::Mmseqs2 => MsaTool::Mmseqs2,
                SearchTool::Hhblits => MsaTool::Hhblits,
            },
            databases: args.databases.clone(),
        },
        (None, Some(MsaMode::SingleSequence), _) => AlignmentSource::SingleSequence,
        (None, None, Some(dir)) => AlignmentSource::Directory(dir.clone()),
        (None, None, None) => AlignmentSource::Files(args.msas.clone()),
    }
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

/// The run on `device`, with a progress bar per model and a line per record.
struct Predict<'a> {
    prediction: &'a PredictRun,
    records: &'a [FastaRecord],
    quiet: bool,
}

impl OnDevice for Predict<'_> {
    type Output = RunSummary;

    fn run<B: Backend>(self, device: &B::Device) -> Result<RunSummary> {
        let Predict { prediction, records, quiet } = self;
        predict_on::<B>(prediction, device, records, quiet)
    }
}

fn predict_on<B: Backend>(
    prediction: &PredictRun,
    device: &B::Device,
    records: &[FastaRecord],
    quiet: bool,
) -> Result<RunSummary> {
    let mut bar: Option<ProgressBar> = None;
    let summary = prediction.run::<B>(device, records, &mut |event| match event {
        RunEvent::Record { id, progress } => match progress {
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
        RunEvent::Predicted(result) => {
            let best = &result.ranked[0];
            let confidence = best.ptm.map_or(String::new(), |p| format!(", pTM {p:.3}"));
            tracing::info!(
                "{}: ranked_0 = {} (mean pLDDT {:.1}{confidence}) → {}",
                result.id,
                best.model,
                best.mean_plddt,
                result.dir.display()
            );
        }
        RunEvent::Failed { origin, error } => eprintln!("error: {origin}: {}", one_line(error)),
    })?;
    Ok(summary)
}

/// Preset named by a parameter file: `params_model_1_ptm.npz` → `model_1_ptm`.
fn preset_from_file_name(path: &std::path::Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    let name = stem.strip_prefix("params_").unwrap_or(stem);
    ModelConfig::preset(name).is_ok().then(|| name.to_string())
}

/// The models to run; `complexes`: the input has complexes (the installed multimer models by
/// default).
fn model_specs(args: &PredictArgs, complexes: bool) -> Result<Vec<ModelSpec>> {
    if args.params.is_empty() {
        if !args.presets.is_empty() {
            bail!("--preset needs --params (installed models have their own presets)");
        }
        let dir = match weights_dir(args.weights_dir.as_deref()) {
            Ok(dir) => dir,
            // No home directory, so nothing can be installed: the bundled model.
            Err(_) if args.models.is_empty() => return Ok(vec![ModelSpec::bundled()]),
            Err(e) => return Err(e.into()),
        };
        let installed = Manifest::read(&dir)?.model_specs(&dir, &args.models, complexes)?;
        if installed.is_empty() {
            if !args.models.is_empty() {
                bail!(
                    "--models {}: no runnable weights installed in {}",
                    args.models.join(","),
                    dir.display()
                );
            }
            return Ok(vec![ModelSpec::bundled()]);
        }
        return Ok(installed);
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
