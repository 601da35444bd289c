//! `ferrofold data`: training stores (HDF5), when built with the `hdf5` feature.

use std::path::PathBuf;

#[cfg(feature = "hdf5")]
use anyhow::Context;
use anyhow::{bail, Result};
use clap::Subcommand;
#[cfg(feature = "hdf5")]
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Subcommand)]
pub enum DataCommand {
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

#[cfg(not(feature = "hdf5"))]
pub fn run(_: DataCommand) -> Result<()> {
    bail!("ferrofold data: {}", ferrofold_data::WITHOUT_HDF5)
}

#[cfg(feature = "hdf5")]
pub fn run(command: DataCommand) -> Result<()> {
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
