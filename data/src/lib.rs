//! Training corpora for ferrofold: chains from structure files (with their alignments), an
//! indexed HDF5 store of them built in parallel and resumably, AlphaFold's chain filters, and
//! cluster-weighted sampling.

pub mod chain;
pub mod cluster;
pub mod error;
pub mod filter;
pub mod sampling;
pub mod store;

pub use chain::{load_chains, TrainingChain};
pub use error::{DataError, Result};
pub use filter::ChainFilter;
pub use sampling::WeightedSampler;
pub use store::{build_store, BuildOptions, ChainStore};
