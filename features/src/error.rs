//! Typed errors of the features crate. Every parse error names its source (file path or a
//! caller-given label) and, where it has one, the 1-based line.

use std::fmt;
use std::path::PathBuf;

/// Where in the input a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// File path, or a label such as `<stdin>` for in-memory input.
    pub source: String,
    /// 1-based line number, when the problem is on one line.
    pub line: Option<usize>,
}

impl Location {
    pub fn new(source: impl Into<String>, line: Option<usize>) -> Self {
        Self { source: source.into(), line }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}", self.source, line),
            None => write!(f, "{}", self.source),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FeaturesError {
    #[error("{location}: {message}")]
    Parse { location: Location, message: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: {message}")]
    Structure { path: String, message: String },

    #[error("{0}")]
    InvalidInput(String),

    /// `name`: the feature, empty when the problem is the file's.
    #[error("{path}: {}{message}", if name.is_empty() { String::new() } else { format!("feature `{name}`: ") })]
    Storage { path: PathBuf, name: String, message: String },

    #[error(
        "`{tool}` was not found on PATH; install the Debian package `{package}` \
         (apt-get install {package})"
    )]
    ToolMissing { tool: String, package: String },

    #[error("`{tool}` failed ({status}): {stderr}")]
    ToolFailed { tool: String, status: String, stderr: String },

    #[error("`{tool}` timed out after {seconds} s")]
    ToolTimeout { tool: String, seconds: u64 },
}

impl FeaturesError {
    pub(crate) fn parse(source: &str, line: Option<usize>, message: impl Into<String>) -> Self {
        Self::Parse { location: Location::new(source, line), message: message.into() }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}

pub type Result<T> = std::result::Result<T, FeaturesError>;

/// Reads a whole text input file (FASTA, alignments, hits, structures): a UTF-8 byte-order
/// mark is dropped, and a gzip-compressed or binary file is named as such rather than reported
/// as invalid UTF-8.
pub fn read_text(path: &std::path::Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| FeaturesError::io(path, e))?;
    let source = path.display().to_string();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(FeaturesError::parse(
            &source,
            None,
            "gzip-compressed: decompress it first (gunzip -k FILE)",
        ));
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(e) => {
            let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(FeaturesError::parse(&source, Some(line), "not UTF-8 text (a binary file?)"))
        }
    }
}
