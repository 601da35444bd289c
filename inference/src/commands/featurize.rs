//! `ferrofold featurize`: AlphaFold's raw input features of one record or of many.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use ferrofold_features::feature_dict::FeatureDict;
use ferrofold_features::featurize::{featurize_many, featurize_query, TemplateHitsDir};
use ferrofold_features::parsers::fasta::parse_fasta_file;
use ferrofold_features::templates::add_template_features;
use indicatif::{ProgressBar, ProgressStyle};

use super::TemplateArgs;

#[derive(clap::Args)]
pub struct FeaturizeArgs {
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

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Npz,
    Hdf5,
}

pub fn run(args: FeaturizeArgs) -> Result<()> {
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
        match args.templates.source().given_hits(&id) {
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

#[cfg(feature = "hdf5")]
fn save_hdf5(features: &FeatureDict, output: &std::path::Path) -> Result<()> {
    Ok(features.save_hdf5(output)?)
}

#[cfg(not(feature = "hdf5"))]
fn save_hdf5(_: &FeatureDict, output: &std::path::Path) -> Result<()> {
    bail!("{}: {}", output.display(), ferrofold_data::WITHOUT_HDF5)
}
