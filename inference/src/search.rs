//! MSA search for `ferrofold predict --msa-tool`: the query against each database with
//! jackhmmer (AlphaFold's UniRef90/MGnify search), hhblits (its BFD/UniRef30 search) or mmseqs2
//! (ColabFold's), results cached by a hash of (tool, settings, sequence, database) and kept
//! beside the prediction in `<record>/msas/` (a complex's chains: `<record>/msas/<chain>/`, as
//! AlphaFold-Multimer's pipeline keeps them).

use std::path::{Path, PathBuf};

use ferrofold_features::feature_dict::write_bytes_atomically;
use ferrofold_features::tools::{self, RunOptions};

use crate::error::{InferenceError, Result};

/// The search tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsaTool {
    Jackhmmer,
    Hhblits,
    Mmseqs2,
}

impl MsaTool {
    fn name(self) -> &'static str {
        match self {
            MsaTool::Jackhmmer => "jackhmmer",
            MsaTool::Hhblits => "hhblits",
            MsaTool::Mmseqs2 => "mmseqs2",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            MsaTool::Jackhmmer => "sto",
            MsaTool::Hhblits | MsaTool::Mmseqs2 => "a3m",
        }
    }
}

/// Searches `sequence` against every database (AlphaFold merges the alignments of several,
/// dropping repeated rows) and writes each alignment to the folder `msas`; returns their paths.
pub fn search_alignments(
    sequence: &str,
    tool: MsaTool,
    databases: &[PathBuf],
    options: &RunOptions,
    msas: &Path,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(msas).map_err(|e| InferenceError::io(msas, e))?;
    let mut paths = Vec::with_capacity(databases.len());
    for (k, database) in databases.iter().enumerate() {
        let exists = match tool {
            // hhblits takes a prefix of ffindex files.
            MsaTool::Hhblits => {
                database.parent().is_some_and(|d| d.as_os_str().is_empty() || d.is_dir())
            }
            _ => database.exists(),
        };
        if !exists {
            return Err(InferenceError::Input {
                origin: database.display().to_string(),
                message: format!("the {} database does not exist", tool.name()),
            });
        }
        tracing::info!("{}: searching {}", tool.name(), database.display());
        let text = match tool {
            // One iteration, as AlphaFold runs jackhmmer on UniRef90 and MGnify.
            MsaTool::Jackhmmer => tools::jackhmmer(sequence, database, 1, options)?,
            MsaTool::Hhblits => tools::hhblits(sequence, database, options)?,
            MsaTool::Mmseqs2 => tools::mmseqs_search_a3m(sequence, database, options)?,
        };
        let stem = database.file_stem().and_then(|s| s.to_str()).unwrap_or("database");
        let path = msas.join(format!("{}_{k}_{stem}.{}", tool.name(), tool.extension()));
        write_bytes_atomically(&path, text.as_bytes())?;
        paths.push(path);
    }
    Ok(paths)
}

/// Searches templates for `sequence`: hhsearch of its first alignment (the query alone when it
/// has none; AlphaFold uses its UniRef90 alignment) against a PDB70-style database (an ffindex
/// prefix: `<prefix>_hhm.ffdata` …). The hits go to `<msas>/hhsearch_<name>.hhr`, whose
/// path is returned; the result is cached like the MSA searches.
pub fn search_templates(
    sequence: &str,
    alignments: &[PathBuf],
    database: &Path,
    options: &RunOptions,
    msas: &Path,
) -> Result<PathBuf> {
    let hhm = PathBuf::from(format!("{}_hhm.ffdata", database.display()));
    if !hhm.is_file() {
        return Err(InferenceError::Input {
            origin: database.display().to_string(),
            message: format!(
                "not an hhsearch database: {} does not exist (the prefix of a PDB70-style \
                 database is expected)",
                hhm.display()
            ),
        });
    }
    let query = match alignments.first() {
        Some(path) => ferrofold_features::featurize::read_alignment(path)?.to_a3m(),
        None => format!(">query\n{sequence}\n"),
    };
    tracing::info!("hhsearch: templates in {}", database.display());
    let hits = tools::hhsearch(&query, database, options)?;
    std::fs::create_dir_all(msas).map_err(|e| InferenceError::io(msas, e))?;
    let stem = database.file_name().and_then(|s| s.to_str()).unwrap_or("database");
    let path = msas.join(format!("hhsearch_{stem}.hhr"));
    write_bytes_atomically(&path, hits.as_bytes())?;
    Ok(path)
}
