//! Typed errors of the prediction library.

use std::path::PathBuf;

use ferrofold_features::FeaturesError;
use ferrofold_model::ModelError;

#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    #[error(transparent)]
    Features(#[from] FeaturesError),

    #[error(transparent)]
    Model(#[from] ModelError),

    /// The input cannot be used as given (`origin`: the file or record).
    #[error("{origin}: {message}")]
    Input { origin: String, message: String },

    /// The estimated peak memory exceeds what the machine has.
    #[error(transparent)]
    TooLarge(Box<MemoryRefusal>),

    /// A tensor of the network exceeds the device's largest single allocation.
    #[error(
        "{record}: {what} would take {needed}, more than this device's largest buffer ({limit}); \
         {advice}"
    )]
    BufferTooLarge {
        record: String,
        what: &'static str,
        needed: String,
        limit: String,
        advice: &'static str,
    },

    /// The GPU backend failed while the network ran (its device thread caught a panic); the
    /// results are not used.
    #[error("{record}: the GPU backend failed while the network ran: {message}")]
    DeviceFailed { record: String, message: String },

    /// An output could not be written (a full disk, a read-only directory): every later
    /// record would fail the same way, so a run stops at the first.
    #[error("cannot write {path}: {message}")]
    Output { path: PathBuf, message: String },

    /// A run over many records stopped at an output failure.
    #[error("{error}; stopped, {remaining} of {records} records not predicted")]
    Stopped { error: Box<InferenceError>, remaining: usize, records: usize },

    /// An MSA or template search failed (`what` says which).
    #[error("{what}")]
    Search {
        what: &'static str,
        #[source]
        source: Box<InferenceError>,
    },

    /// The MSA server failed or answered something unusable.
    #[error("MSA server {url}: {message}")]
    MsaServer { url: String, message: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl InferenceError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    /// A failure to write output `path`, told by its innermost cause (the system's word, not
    /// the temporary file's name that the layers above add).
    pub fn output(path: &std::path::Path, error: impl std::error::Error) -> Self {
        let mut cause: &dyn std::error::Error = &error;
        while let Some(inner) = cause.source() {
            cause = inner;
        }
        Self::Output { path: path.to_path_buf(), message: cause.to_string() }
    }
}

/// A prediction refused before allocation: the estimate, what is available, and advice.
#[derive(Debug, thiserror::Error)]
#[error(
    "{record}: {residues} residues need about {needed} of memory with {setting}, but {available} \
     is available; {advice}"
)]
pub struct MemoryRefusal {
    pub record: String,
    pub residues: usize,
    pub needed: String,
    pub available: String,
    pub setting: String,
    pub advice: String,
}

pub type Result<T> = std::result::Result<T, InferenceError>;
