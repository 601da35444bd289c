//! The training corpus as an indexed HDF5 store: chains (sequence, atom37 coordinates and
//! masks, B-factors, residue numbering, alignment) in shard files of up to `shard_size` chains,
//! and `manifest.json`, the index (which shard holds which chain, its length, resolution,
//! release date).
//!
//! Building parses files in parallel and writes each shard whole (to a temporary name, then
//! renamed) before recording it in the manifest (also replaced atomically): a build killed at
//! any moment keeps every shard already recorded, and the next build continues with the files
//! not yet stored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ferrofold_features::feature_dict::write_bytes_atomically;
use ferrofold_features::msa::Msa;
use ferrofold_features::protein::Protein;
use hdf5::types::VarLenUnicode;
use ndarray::{Array1, Array2, Array3, Ix2, Ix3};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use crate::chain::ChainEntry;
use crate::chain::{structure_files, TrainingChain};
use crate::error::{DataError, Result};

use crate::MANIFEST;
const FORMAT_VERSION: u32 = 1;

/// A file that could not be stored, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SkippedFile {
    pub file: String,
    pub error: String,
}

/// The store's index.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Manifest {
    pub version: u32,
    pub shards: Vec<String>,
    pub chains: Vec<ChainEntry>,
    pub skipped: Vec<SkippedFile>,
}

/// How a store is built.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Chains per shard file (also the unit of work lost by a kill).
    pub shard_size: usize,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self { shard_size: 256 }
    }
}

/// What a build did.
#[derive(Debug, Clone, Default)]
pub struct BuildSummary {
    /// Chains stored by this build and in all.
    pub added: usize,
    pub total: usize,
    /// Files skipped by this build (unreadable or not protein).
    pub skipped: usize,
    /// Files already stored by an earlier build.
    pub already_stored: usize,
}

fn h5err(path: &Path, what: &str, e: hdf5::Error) -> DataError {
    DataError::store(path, format!("{what}: {e}"))
}

fn without_locking() -> hdf5::file::FileBuilder {
    let mut builder = hdf5::File::with_options();
    builder.fapl().file_locking(false);
    builder
}

fn read_manifest(store: &Path) -> Result<Option<Manifest>> {
    let path = store.join(MANIFEST);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let manifest: Manifest = serde_json::from_str(&text)
                .map_err(|e| DataError::store(&path, format!("unreadable manifest: {e}")))?;
            if manifest.version != FORMAT_VERSION {
                return Err(DataError::store(
                    &path,
                    format!(
                        "format version {} (this build reads {FORMAT_VERSION})",
                        manifest.version
                    ),
                ));
            }
            Ok(Some(manifest))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DataError::io(&path, e)),
    }
}

fn write_manifest(store: &Path, manifest: &Manifest) -> Result<()> {
    let path = store.join(MANIFEST);
    let text = serde_json::to_string_pretty(manifest).expect("plain data");
    write_bytes_atomically(&path, text.as_bytes())?;
    Ok(())
}

fn strings(values: &[String], path: &Path) -> Result<Vec<VarLenUnicode>> {
    values
        .iter()
        .map(|s| {
            s.parse::<VarLenUnicode>().map_err(|_| DataError::store(path, "string with a NUL byte"))
        })
        .collect()
}

/// Writes `chains` into one shard file, atomically.
fn write_shard(path: &Path, chains: &[TrainingChain]) -> Result<()> {
    let tmp = path.with_extension("h5.partial");
    let result = (|| -> Result<()> {
        let file = without_locking().create(&tmp).map_err(|e| h5err(path, "create", e))?;
        for chain in chains {
            let p = &chain.protein;
            let group = file.create_group(&chain.id).map_err(|e| h5err(path, &chain.id, e))?;
            let err = |e| h5err(path, &chain.id, e);
            group.new_dataset_builder().with_data(&p.aatype).create("aatype").map_err(err)?;
            group
                .new_dataset_builder()
                .with_data(&p.residue_index)
                .create("residue_index")
                .map_err(err)?;
            group
                .new_dataset_builder()
                .with_data(&p.atom_positions.mapv(|x| x as f32))
                .create("atom_positions")
                .map_err(err)?;
            group
                .new_dataset_builder()
                .with_data(&p.atom_mask.mapv(|x| x as f32))
                .create("atom_mask")
                .map_err(err)?;
            group
                .new_dataset_builder()
                .with_data(&p.b_factors.mapv(|x| x as f32))
                .create("b_factors")
                .map_err(err)?;
            let codes: Vec<String> =
                p.insertion_codes.iter().map(|c| c.clone().unwrap_or_default()).collect();
            group
                .new_dataset_builder()
                .with_data(&strings(&codes, path)?)
                .create("insertion_codes")
                .map_err(err)?;
            group
                .new_dataset_builder()
                .with_data(&strings(std::slice::from_ref(&p.chain_id), path)?)
                .create("chain_id")
                .map_err(err)?;
            if let Some(msa) = &chain.msa {
                let columns = msa.query_len();
                let deletions = Array2::from_shape_fn((msa.len(), columns), |(i, j)| {
                    msa.deletion_matrix[i][j] as i32
                });
                group
                    .new_dataset_builder()
                    .with_data(&strings(&msa.sequences, path)?)
                    .create("msa")
                    .map_err(err)?;
                group
                    .new_dataset_builder()
                    .with_data(&deletions)
                    .create("deletion_matrix")
                    .map_err(err)?;
                group
                    .new_dataset_builder()
                    .with_data(&strings(&msa.descriptions, path)?)
                    .create("msa_descriptions")
                    .map_err(err)?;
            }
        }
        file.close().map_err(|e| h5err(path, "close", e))
    })();
    match result {
        Ok(()) => std::fs::rename(&tmp, path).map_err(|e| DataError::io(path, e)),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Builds (or continues building) the store at `store` from the structure files of
/// `structures` and the alignments of `msa_dir`. `progress(done, total)` follows the files.
pub fn build_store(
    structures: &Path,
    msa_dir: Option<&Path>,
    store: &Path,
    options: &BuildOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<BuildSummary> {
    std::fs::create_dir_all(store.join("shards")).map_err(|e| DataError::io(store, e))?;
    let mut manifest = read_manifest(store)?
        .unwrap_or(Manifest { version: FORMAT_VERSION, ..Manifest::default() });
    let done: BTreeSet<String> = manifest
        .chains
        .iter()
        .map(|c| c.source.clone())
        .chain(manifest.skipped.iter().map(|s| s.file.clone()))
        .collect();
    let files = structure_files(structures)?;
    let todo: Vec<PathBuf> =
        files.iter().filter(|f| !done.contains(&f.display().to_string())).cloned().collect();
    let mut summary =
        BuildSummary { already_stored: files.len() - todo.len(), ..Default::default() };
    let mut ids: BTreeSet<String> = manifest.chains.iter().map(|c| c.id.clone()).collect();
    progress(summary.already_stored, files.len());
    for batch in todo.chunks(options.shard_size.max(1)) {
        let parsed: Vec<(PathBuf, Result<TrainingChain>)> =
            batch.par_iter().map(|f| (f.clone(), TrainingChain::read(f, msa_dir))).collect();
        let mut chains = Vec::new();
        let mut skipped = Vec::new();
        for (file, result) in parsed {
            match result {
                Ok(chain) if ids.contains(&chain.id) => skipped.push(SkippedFile {
                    file: file.display().to_string(),
                    error: format!("a chain named {} is already stored", chain.id),
                }),
                Ok(chain) => {
                    ids.insert(chain.id.clone());
                    chains.push(chain);
                }
                Err(e) => skipped
                    .push(SkippedFile { file: file.display().to_string(), error: e.to_string() }),
            }
        }
        let shard = format!("shards/shard_{:05}.h5", manifest.shards.len());
        if !chains.is_empty() {
            write_shard(&store.join(&shard), &chains)?;
            manifest.shards.push(shard.clone());
        }
        manifest.chains.extend(chains.iter().map(|chain| ChainEntry {
            checksum: Some(content_checksum(chain)),
            ..ChainEntry::of(chain, &shard)
        }));
        for s in &skipped {
            tracing::warn!("skipped {}: {}", s.file, s.error);
        }
        summary.added += chains.len();
        summary.skipped += skipped.len();
        manifest.skipped.extend(skipped);
        write_manifest(store, &manifest)?;
        progress(summary.already_stored + summary.added + summary.skipped, files.len());
    }
    summary.total = manifest.chains.len();
    Ok(summary)
}

/// SHA-256 of what the store keeps of `chain` (coordinates, masks and B-factors at the stored
/// float32 precision): equal for a chain before writing and after reading back intact.
fn content_checksum(chain: &TrainingChain) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    let p = &chain.protein;
    let mut text = |s: &str| {
        hash.update((s.len() as u64).to_le_bytes());
        hash.update(s.as_bytes());
    };
    text(&p.chain_id);
    for code in &p.insertion_codes {
        text(code.as_deref().unwrap_or(""));
    }
    if let Some(msa) = &chain.msa {
        for row in msa.sequences.iter().chain(&msa.descriptions) {
            text(row);
        }
    }
    for value in p.aatype.iter().chain(&p.residue_index) {
        hash.update(value.to_le_bytes());
    }
    for value in p.atom_positions.iter().chain(&p.atom_mask).chain(&p.b_factors) {
        hash.update((*value as f32).to_le_bytes());
    }
    if let Some(msa) = &chain.msa {
        for value in msa.deletion_matrix.iter().flatten() {
            hash.update((*value as i32).to_le_bytes());
        }
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Dataset `name` of chain `id`'s group, with the expected number of dimensions.
fn read_dataset<T: hdf5::H5Type, D: ndarray::Dimension>(
    group: &hdf5::Group,
    name: &str,
    path: &Path,
    id: &str,
) -> Result<ndarray::Array<T, D>> {
    group
        .dataset(name)
        .and_then(|d| d.read_dyn::<T>())
        .map_err(|e| h5err(path, id, e))?
        .into_dimensionality::<D>()
        .map_err(|_| DataError::store(path, format!("{id}/{name}: unexpected shape")))
}

/// An opened store: the manifest, and chains read on demand.
#[derive(Debug, Clone)]
pub struct ChainStore {
    pub root: PathBuf,
    pub manifest: Manifest,
    by_id: BTreeMap<String, usize>,
}

impl ChainStore {
    pub fn open(root: &Path) -> Result<Self> {
        let manifest = read_manifest(root)?
            .ok_or_else(|| DataError::store(root, "no manifest.json: not a ferrofold store"))?;
        let by_id = manifest.chains.iter().enumerate().map(|(i, c)| (c.id.clone(), i)).collect();
        Ok(Self { root: root.to_path_buf(), manifest, by_id })
    }

    /// Whether `dir` holds a store (rather than structure files).
    pub fn is_store(dir: &Path) -> bool {
        crate::is_store(dir)
    }

    pub fn entries(&self) -> &[ChainEntry] {
        &self.manifest.chains
    }

    pub fn entry(&self, id: &str) -> Option<&ChainEntry> {
        self.by_id.get(id).map(|&i| &self.manifest.chains[i])
    }

    /// Reads chain `id` from its shard.
    pub fn read(&self, id: &str) -> Result<TrainingChain> {
        let entry =
            self.entry(id).ok_or_else(|| DataError::store(&self.root, format!("no chain {id}")))?;
        let path = self.root.join(&entry.shard);
        let file = without_locking().open(&path).map_err(|e| h5err(&path, "open", e))?;
        let group = file.group(id).map_err(|e| h5err(&path, id, e))?;
        let shape = |what: &str| DataError::store(&path, format!("{id}/{what}: unexpected shape"));
        let read_strings = |name: &str| -> Result<Vec<String>> {
            Ok(group
                .dataset(name)
                .and_then(|d| d.read_raw::<VarLenUnicode>())
                .map_err(|e| h5err(&path, id, e))?
                .iter()
                .map(|s| s.to_string())
                .collect())
        };
        let floats = |name: &str| -> Result<Array2<f64>> {
            Ok(read_dataset::<f32, Ix2>(&group, name, &path, id)?.mapv(f64::from))
        };
        let aatype: Array1<i32> = read_dataset(&group, "aatype", &path, id)?;
        let residue_index: Array1<i32> = read_dataset(&group, "residue_index", &path, id)?;
        let atom_positions: Array3<f64> =
            read_dataset::<f32, Ix3>(&group, "atom_positions", &path, id)?.mapv(f64::from);
        let n = aatype.len();
        let protein = Protein {
            chain_id: read_strings("chain_id")?.into_iter().next().unwrap_or_default(),
            atom_mask: floats("atom_mask")?,
            b_factors: floats("b_factors")?,
            insertion_codes: read_strings("insertion_codes")?
                .into_iter()
                .map(|c| (!c.is_empty()).then_some(c))
                .collect(),
            atom_positions,
            aatype,
            residue_index,
        };
        if protein.atom_positions.dim() != (n, 37, 3)
            || protein.atom_mask.dim() != (n, 37)
            || n != entry.length
        {
            return Err(shape("atom arrays"));
        }
        let msa = if entry.msa_rows > 0 {
            let deletions: Array2<i32> = read_dataset(&group, "deletion_matrix", &path, id)?;
            let sequences = read_strings("msa")?;
            if deletions.dim() != (sequences.len(), n) || sequences.iter().any(|s| s.len() != n) {
                return Err(shape("msa"));
            }
            Some(Msa {
                deletion_matrix: deletions
                    .outer_iter()
                    .map(|r| r.iter().map(|&d| d.max(0) as u32).collect())
                    .collect(),
                descriptions: read_strings("msa_descriptions")?,
                sequences,
            })
        } else {
            None
        };
        Ok(TrainingChain {
            id: id.to_string(),
            path: path.join(id),
            protein,
            msa,
            resolution: entry.resolution,
            release_date: entry.release_date.clone(),
        })
    }

    /// Reads every chain back and checks it against the manifest; returns one line per
    /// problem (empty: the store is sound).
    pub fn verify(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for shard in &self.manifest.shards {
            if !self.root.join(shard).is_file() {
                problems.push(format!("{shard}: missing"));
            }
        }
        let results: Vec<(String, Result<TrainingChain>)> =
            self.manifest.chains.par_iter().map(|c| (c.id.clone(), self.read(&c.id))).collect();
        for (id, result) in results {
            let entry = self.entry(&id).expect("listed");
            match result {
                Ok(chain) if chain.sequence() != entry.sequence => problems
                    .push(format!("{id}: stored residues differ from the manifest's sequence")),
                Ok(chain) if chain.msa.as_ref().map_or(0, Msa::len) != entry.msa_rows => {
                    problems.push(format!("{id}: alignment rows differ from the manifest"))
                }
                Ok(chain)
                    if entry.checksum.as_ref().is_some_and(|c| *c != content_checksum(&chain)) =>
                {
                    problems.push(format!(
                        "{id}: stored values changed since the store was built (checksum differs)"
                    ))
                }
                Ok(_) => {}
                Err(e) => problems.push(format!("{id}: {e}")),
            }
        }
        problems
    }
}
