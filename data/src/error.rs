//! Errors of the data crate: each names the file (or store) and the problem.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Features(#[from] ferrofold_features::error::FeaturesError),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("store {path}: {message}")]
    Store { path: PathBuf, message: String },
}

impl DataError {
    pub fn io(path: &std::path::Path, error: impl std::fmt::Display) -> Self {
        Self::Io { path: path.to_path_buf(), message: error.to_string() }
    }

    pub fn store(path: &std::path::Path, message: impl std::fmt::Display) -> Self {
        Self::Store { path: path.to_path_buf(), message: message.to_string() }
    }
}

pub type Result<T> = std::result::Result<T, DataError>;
