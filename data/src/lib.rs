//! Training corpora for ferrofold: chains from structure files (with their alignments), an
//! indexed HDF5 store of them built in parallel and resumably (cargo feature `hdf5`), AlphaFold's
//! chain filters, and cluster-weighted sampling.

use std::path::Path;

pub mod chain;
pub mod cluster;
pub mod error;
pub mod filter;
pub mod sampling;
#[cfg(feature = "hdf5")]
pub mod store;

pub use chain::{load_chains, ChainEntry, TrainingChain};
pub use error::{DataError, Result};
pub use filter::ChainFilter;
pub use sampling::WeightedSampler;
#[cfg(feature = "hdf5")]
pub use store::{build_store, BuildOptions, ChainStore};

/// The index file of a store: a directory holding it is a store.
const MANIFEST: &str = "manifest.json";

/// Whether `dir` is a chain store (also in a build without HDF5, which can then say so).
pub fn is_store(dir: &Path) -> bool {
    dir.join(MANIFEST).is_file()
}

/// What a build without the `hdf5` feature says where a store is needed.
pub const WITHOUT_HDF5: &str = "this ferrofold was built without HDF5 storage: install \
    libhdf5-dev and pkg-config, then rebuild with `--features hdf5` (e.g. `cargo install --path \
    inference --features hdf5`)";
