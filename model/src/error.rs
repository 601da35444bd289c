//! Errors of the model crate.

use std::path::PathBuf;

/// One parameter that does not fit the network: absent, unexpected, or of the wrong shape.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamProblem {
    /// The network needs this tensor and the file does not have it.
    Missing { name: String, expected: Vec<usize> },
    /// The file has this tensor and the network does not use it.
    Unexpected { name: String, found: Vec<usize> },
    /// Both have it, with different shapes.
    WrongShape { name: String, expected: Vec<usize>, found: Vec<usize> },
    /// The tensor holds `count` NaN or infinite values.
    NonFinite { name: String, count: usize },
}

impl std::fmt::Display for ParamProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing { name, expected } => write!(f, "missing {name} (expected {expected:?})"),
            Self::Unexpected { name, found } => write!(f, "unexpected {name} (found {found:?})"),
            Self::WrongShape { name, expected, found } => {
                write!(f, "wrong shape for {name}: expected {expected:?}, found {found:?}")
            }
            Self::NonFinite { name, count } => {
                write!(f, "{name} holds {count} non-finite value(s) (NaN or infinity)")
            }
        }
    }
}

/// The first problems, one per line; the rest counted (a wrong preset gives hundreds). The
/// whole list stays in `problems` for callers that want it.
fn list(problems: &[ParamProblem]) -> String {
    const SHOWN: usize = 5;
    let mut text: String = problems.iter().take(SHOWN).map(|p| format!("\n  {p}")).collect();
    if problems.len() > SHOWN {
        text.push_str(&format!("\n  … and {} more", problems.len() - SHOWN));
    }
    text
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: cannot read parameters: {message}")]
    ReadParams { path: PathBuf, message: String },
    #[error("{path}: cannot write parameters: {message}")]
    WriteParams { path: PathBuf, message: String },
    #[error("{source_name}: {} parameter(s) do not fit preset {preset}:{}", problems.len(), list(problems))]
    ParamMismatch { source_name: String, preset: String, problems: Vec<ParamProblem> },
    #[error("{0}")]
    Features(#[from] ferrofold_features::error::FeaturesError),
    #[error("batch feature {name}: {message}")]
    Batch { name: String, message: String },
    #[error(
        "network output {name}: {count} value(s) are not finite (NaN or infinity); the \
         parameters or the inputs make the network overflow"
    )]
    NonFiniteOutput { name: String, count: usize },
    #[error("unknown preset {0:?}; known presets: {1}")]
    UnknownPreset(String, String),
}

pub type Result<T> = std::result::Result<T, ModelError>;
