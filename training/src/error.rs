//! Errors of the training crate.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    #[error(transparent)]
    Features(#[from] ferrofold_features::error::FeaturesError),
    #[error(transparent)]
    Model(#[from] ferrofold_model::ModelError),
    #[error(transparent)]
    Data(#[from] ferrofold_data::DataError),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("invalid training configuration: {0}")]
    Config(String),
    #[error("stopped after {count} steps in a row with a non-finite loss or gradient (last at step {step}); lower the learning rate or check the data")]
    NonFinite { count: usize, step: usize },
    #[error("step {step}: the GPU backend failed ({message}); try a smaller --crop-size or --device cpu")]
    Device { step: usize, message: String },
}

impl TrainingError {
    pub fn io(path: &std::path::Path, error: impl std::fmt::Display) -> Self {
        Self::Io { path: path.to_path_buf(), message: error.to_string() }
    }
}

pub type Result<T> = std::result::Result<T, TrainingError>;

/// An I/O result with the path it concerns.
pub(crate) fn io<T, E: std::fmt::Display>(
    path: &std::path::Path,
    r: std::result::Result<T, E>,
) -> Result<T> {
    r.map_err(|e| TrainingError::io(path, e))
}
