//! Sequence clusters of a store with mmseqs2 `easy-cluster` (Debian package `mmseqs2`), the
//! input of cluster-weighted sampling. AlphaFold clustered its training chains at 40% identity.

use std::path::{Path, PathBuf};
#[cfg(feature = "hdf5")]
use std::time::Duration;

#[cfg(feature = "hdf5")]
use ferrofold_features::tools::{run_tool, Tool};

#[cfg(feature = "hdf5")]
use crate::error::{DataError, Result};
#[cfg(feature = "hdf5")]
use crate::store::ChainStore;

#[cfg(feature = "hdf5")]
/// Clusters the store's sequences at `min_seq_id` identity and `coverage`; writes
/// `<store>/clusters.tsv` (representative, tab, member) and returns its path and the number of
/// clusters.
pub fn cluster_store(
    store: &ChainStore,
    min_seq_id: f64,
    coverage: f64,
    threads: usize,
    timeout: Duration,
) -> Result<(PathBuf, usize)> {
    let work = tempfile::tempdir().map_err(|e| DataError::io(&store.root, e))?;
    let fasta = work.path().join("sequences.fasta");
    let text: String =
        store.entries().iter().map(|e| format!(">{}\n{}\n", e.id, e.sequence)).collect();
    std::fs::write(&fasta, text).map_err(|e| DataError::io(&fasta, e))?;
    let args: Vec<String> = [
        "easy-cluster",
        "sequences.fasta",
        "clusters",
        "tmp",
        "--min-seq-id",
        &min_seq_id.to_string(),
        "-c",
        &coverage.to_string(),
        "--threads",
        &threads.max(1).to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    run_tool(&Tool::new("mmseqs", "mmseqs2"), &args, work.path(), timeout)?;
    let produced = work.path().join("clusters_cluster.tsv");
    let out = store.root.join("clusters.tsv");
    std::fs::copy(&produced, &out).map_err(|e| DataError::io(&produced, e))?;
    let clusters = crate::sampling::read_clusters(&out)?;
    let count = clusters.values().collect::<std::collections::BTreeSet<_>>().len();
    Ok((out, count))
}

/// `<store>/clusters.tsv` if `cluster_store` wrote one.
pub fn clusters_file(store: &Path) -> Option<PathBuf> {
    let path = store.join("clusters.tsv");
    path.is_file().then_some(path)
}
