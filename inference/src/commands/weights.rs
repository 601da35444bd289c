//! `ferrofold weights download|list|verify` ([`ferrofold_inference::weights`] does the work).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::ValueEnum;
use ferrofold_inference::memory::human_bytes;
use ferrofold_inference::weights::{
    self, download_and_install, weights_dir, DownloadEvent, DownloadOptions, InstallRequest,
    Manifest,
};
use ferrofold_model::ModelConfig;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(clap::Subcommand)]
pub enum WeightsCommand {
    /// Download a release (resumable), check every file against its preset and install it.
    Download(DownloadArgs),
    /// Show the installed models.
    List(DirArgs),
    /// Re-check every installed file: size, sha256, and that it still loads into its preset.
    Verify(DirArgs),
}

#[derive(clap::Args)]
pub struct DirArgs {
    /// The weights directory. Default: $FERROFOLD_WEIGHTS, else
    /// $XDG_DATA_HOME/ferrofold/weights (~/.local/share/ferrofold/weights).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReleaseName {
    /// DeepMind's AlphaFold v2.3 parameters (5.3 GB archive; model_1 … model_5, their pTM
    /// versions, multimer v3; CC BY 4.0).
    Alphafold,
    /// OpenFold's checkpoints (9 files of 375 MB; CC BY 4.0).
    Openfold,
}

#[derive(clap::Args)]
pub struct DownloadArgs {
    #[arg(value_enum)]
    release: ReleaseName,
    #[command(flatten)]
    dir: DirArgs,
    /// Download from a mirror: the archive's URL (alphafold) or the directory holding the
    /// files (openfold).
    #[arg(long)]
    url: Option<String>,
    /// Check and run every file as this preset instead of the one its name gives (a mirror of
    /// retrained or reduced models under AlphaFold's names).
    #[arg(long)]
    preset: Option<String>,
    /// Seconds the server may send nothing before the download stops; what arrived is kept and
    /// the same command resumes it.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(command: WeightsCommand) -> Result<()> {
    match command {
        WeightsCommand::Download(args) => download(args),
        WeightsCommand::List(args) => list(args),
        WeightsCommand::Verify(args) => verify(args),
    }
}

fn download(args: DownloadArgs) -> Result<()> {
    if let Some(preset) = &args.preset {
        ModelConfig::preset(preset)?;
    }
    let release = match args.release {
        ReleaseName::Alphafold => weights::ALPHAFOLD,
        ReleaseName::Openfold => weights::OPENFOLD,
    };
    let dir = weights_dir(args.dir.dir.as_deref())?;
    let request = InstallRequest {
        release,
        dir: dir.clone(),
        url: args.url,
        preset: args.preset,
        options: DownloadOptions {
            read_timeout: Duration::from_secs(args.timeout),
            ..DownloadOptions::default()
        },
    };
    let mut bar: Option<ProgressBar> = None;
    let quiet = args.quiet;
    let models = download_and_install(&request, &mut |event| match event {
        DownloadEvent::Started { file, total, resumed_from } => {
            let b = match (quiet, total) {
                (true, _) => ProgressBar::hidden(),
                (false, Some(total)) => ProgressBar::new(total).with_style(
                    ProgressStyle::with_template(
                        "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .expect("valid template"),
                ),
                (false, None) => ProgressBar::new_spinner().with_style(
                    ProgressStyle::with_template("{msg} {bytes} {bytes_per_sec}")
                        .expect("valid template"),
                ),
            };
            b.set_position(resumed_from);
            b.reset_eta();
            if resumed_from > 0 {
                tracing::info!("{file}: resuming after {}", human_bytes(resumed_from));
            }
            b.set_message(file);
            bar = Some(b);
        }
        DownloadEvent::Progress { bytes } => {
            if let Some(b) = &bar {
                b.inc(bytes)
            }
        }
        DownloadEvent::Finished { file } => {
            if let Some(b) = bar.take() {
                b.finish_and_clear()
            }
            tracing::info!("downloaded {file}");
        }
        DownloadEvent::Checking { file } => tracing::info!("checking {file}"),
    })?;
    let runnable = models.iter().filter(|m| m.preset.is_some()).count();
    tracing::info!(
        "installed {} files of {} into {} ({runnable} that predict can run; {})",
        models.len(),
        release.name,
        dir.join(release.name).display(),
        release.license
    );
    Ok(())
}

fn list(args: DirArgs) -> Result<()> {
    let dir = weights_dir(args.dir.as_deref())?;
    let manifest = Manifest::read(&dir)?;
    if manifest.models.is_empty() {
        println!(
            "no weights installed in {}; `ferrofold weights download alphafold` installs \
             AlphaFold's",
            dir.display()
        );
        return Ok(());
    }
    println!("weights in {}", dir.display());
    let width = manifest.models.iter().map(|m| m.name.len()).max().unwrap_or(0);
    for m in &manifest.models {
        let preset = m.preset.as_deref().unwrap_or("(multimer: not yet runnable)");
        println!(
            "{:width$}  {preset:12}  {:>9}  {:>11} parameters  {}",
            m.name,
            human_bytes(m.bytes),
            m.parameters,
            m.file
        );
    }
    for (release, license) in &manifest.licenses {
        println!("{release}: {license}");
    }
    Ok(())
}

fn verify(args: DirArgs) -> Result<()> {
    let dir = weights_dir(args.dir.as_deref())?;
    let count = Manifest::read(&dir)?.models.len();
    if count == 0 {
        bail!("{}: no weights installed, nothing to verify", dir.display());
    }
    let problems =
        weights::verify(&dir, &mut |m| tracing::info!("checking {} ({})", m.name, m.file))?;
    for problem in &problems {
        eprintln!("{}: {}", problem.model, problem.message);
    }
    if !problems.is_empty() {
        bail!("{} of {count} installed files failed verification (above)", problems.len());
    }
    println!("all {count} installed files verified in {}", dir.display());
    Ok(())
}
