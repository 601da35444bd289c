//! ferrofold-inference: the prediction pipeline (`predict`), its outputs (PDB, mmCIF,
//! confidence JSON, PAE, plots), the memory estimate that guards it, and structure comparison
//! (`score`). The `ferrofold` binary is a thin command line around this library.

pub mod bundled;
pub mod complex;
pub mod dockq;
pub mod error;
mod http;
pub mod memory;
pub mod models;
pub mod msa_server;
pub mod plots;
pub mod predict;
mod record_files;
pub mod records;
mod run_models;
pub mod score;
pub mod search;
pub mod single_chain;
pub mod weights;

pub use complex::{predict_complex, ChainInputs};
pub use error::{InferenceError, Result};
pub use models::{LoadedParams, ModelSpec, Weights};
pub use predict::{PredictOptions, Progress, RecordInputs, RecordResult};
pub use records::{
    read_records, AlignmentSource, PredictRun, RunEvent, RunSummary, TemplateSource,
};
pub use single_chain::predict_record;
