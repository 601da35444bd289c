//! Training chains from a directory of structures (PDB or mmCIF, one chain used per file),
//! with their alignments when a directory of them is given (`<stem>.a3m`, `.sto` or `.aln`).

use std::path::{Path, PathBuf};

use ferrofold_features::featurize::{alignments_in_dir, read_alignment};
use ferrofold_features::msa::Msa;
use ferrofold_features::protein::{read_structure, Protein};
use ferrofold_features::residue_constants::RESTYPES;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// One chain to train on.
#[derive(Debug, Clone)]
pub struct TrainingChain {
    pub id: String,
    pub path: PathBuf,
    pub protein: Protein,
    /// The alignment whose query is this chain's sequence; `None`: single sequence.
    pub msa: Option<Msa>,
    /// Resolution in Å from the file's header, 0 when it gives none (NMR, predictions).
    pub resolution: f64,
    /// Release (or deposition) date as `YYYY-MM-DD`, when the file states one.
    pub release_date: Option<String>,
}

impl TrainingChain {
    /// The chain's sequence, one letter per residue (`X` for unknown).
    pub fn sequence(&self) -> String {
        self.protein
            .aatype
            .iter()
            .map(|&a| RESTYPES.get(a as usize).map_or('X', |&c| char::from(c)))
            .collect()
    }

    /// For predicted structures (distillation): residues whose pLDDT (the B-factor of their
    /// Cα, as AlphaFold and ferrofold write it) is below `min_plddt` lose their atoms from the
    /// labels, and the resolution is cleared (AlphaFold trains the confidence heads on
    /// experimental structures only).
    pub fn mask_below_plddt(&self, min_plddt: f64) -> Self {
        let mut chain = self.clone();
        let ca = ferrofold_features::residue_constants::ATOM_CA;
        for i in 0..chain.protein.aatype.len() {
            if chain.protein.b_factors[(i, ca)] < min_plddt {
                chain.protein.atom_mask.row_mut(i).fill(0.0);
            }
        }
        chain.resolution = 0.0;
        chain
    }

    /// Reads one structure file and, from `msa_dir`, the alignment named after its stem.
    pub fn read(path: &Path, msa_dir: Option<&Path>) -> Result<Self> {
        let protein = read_structure(path, None)?;
        if protein.aatype.is_empty() {
            return Err(DataError::Invalid {
                path: path.to_path_buf(),
                message: "no protein residues".into(),
            });
        }
        let text = ferrofold_features::error::read_text(path)?;
        let id = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(|n| n.split('.').next().unwrap_or(n).to_string())
            .unwrap_or_default();
        let mut chain = Self {
            resolution: read_resolution(&text).unwrap_or(0.0),
            release_date: read_release_date(&text),
            id,
            path: path.to_path_buf(),
            protein,
            msa: None,
        };
        if let Some(dir) = msa_dir {
            let sequence = chain.sequence();
            for alignment in alignments_in_dir(dir, &chain.id) {
                let msa = read_alignment(&alignment)?;
                let query = msa.sequences.first().map(String::as_str).unwrap_or("");
                if query.replace('-', "") == sequence && query.len() == sequence.len() {
                    chain.msa = Some(msa);
                    break;
                }
                tracing::warn!(
                    "{}: its query is not the sequence of {} ({} residues); not used",
                    alignment.display(),
                    path.display(),
                    sequence.len()
                );
            }
        }
        Ok(chain)
    }
}

/// Every `.pdb`, `.ent`, `.cif` and `.mmcif` file of `dir`, sorted by name.
pub fn structure_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            p.is_file() && matches!(ext.as_str(), "pdb" | "ent" | "cif" | "mmcif")
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DataError::Invalid {
            path: dir.to_path_buf(),
            message: "no structure files (.pdb, .ent, .cif, .mmcif)".into(),
        });
    }
    Ok(files)
}

/// Reads every structure of `dir`; a file that cannot be read is reported and skipped, so that
/// one bad file does not stop a run (at least one must be readable).
pub fn load_chains(dir: &Path, msa_dir: Option<&Path>) -> Result<Vec<TrainingChain>> {
    let mut chains = Vec::new();
    for path in structure_files(dir)? {
        match TrainingChain::read(&path, msa_dir) {
            Ok(chain) => chains.push(chain),
            Err(e) => tracing::warn!("skipping {}: {e}", path.display()),
        }
    }
    if chains.is_empty() {
        return Err(DataError::Invalid {
            path: dir.to_path_buf(),
            message: "none of the structure files could be read".into(),
        });
    }
    Ok(chains)
}

/// The resolution a PDB (`REMARK   2 RESOLUTION.`) or mmCIF (`_refine.ls_d_res_high`,
/// `_reflns.d_resolution_high`, `_em_3d_reconstruction.resolution`) header states.
pub fn read_resolution(text: &str) -> Option<f64> {
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("REMARK   2 RESOLUTION.") {
            return rest.split_whitespace().next().and_then(|v| v.parse().ok());
        }
        for key in [
            "_refine.ls_d_res_high",
            "_reflns.d_resolution_high",
            "_em_3d_reconstruction.resolution",
        ] {
            if let Some(rest) = line.strip_prefix(key) {
                if let Some(value) = rest.split_whitespace().next().and_then(|v| v.parse().ok()) {
                    return Some(value);
                }
            }
        }
        if line.starts_with("ATOM") {
            break;
        }
    }
    None
}

const MONTHS: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

/// The date a PDB `HEADER` (deposition, `DD-MON-YY`) or an mmCIF file (first revision, else
/// deposition) states, as `YYYY-MM-DD`.
pub fn read_release_date(text: &str) -> Option<String> {
    for line in text.lines() {
        if line.starts_with("HEADER") && line.len() >= 59 {
            let date = line.get(50..59)?.trim();
            let mut parts = date.split('-');
            let (day, month, year) = (parts.next()?, parts.next()?, parts.next()?);
            let month = MONTHS.iter().position(|m| *m == month)? + 1;
            let year: u32 = year.parse().ok()?;
            // Two-digit years: the PDB began in 1971.
            let year = if year >= 71 { 1900 + year } else { 2000 + year };
            return Some(format!("{year:04}-{month:02}-{:02}", day.parse::<u32>().ok()?));
        }
        for key in [
            "_pdbx_audit_revision_history.revision_date",
            "_pdbx_database_status.recvd_initial_deposition_date",
        ] {
            if let Some(rest) = line.strip_prefix(key) {
                let value = rest.trim().trim_matches('\'');
                if value.len() == 10 && value.as_bytes()[4] == b'-' {
                    return Some(value.to_string());
                }
            }
        }
        if line.starts_with("ATOM") {
            break;
        }
    }
    None
}

/// One stored chain, as the manifest lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChainEntry {
    pub id: String,
    pub shard: String,
    pub length: usize,
    pub sequence: String,
    pub resolution: f64,
    pub release_date: Option<String>,
    /// Rows of the stored alignment (0: none).
    pub msa_rows: usize,
    /// The structure file it came from.
    pub source: String,
    /// SHA-256 of the chain's stored content, recorded when it was stored (absent in stores
    /// built before checksums), so that `verify` finds values changed on disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

impl ChainEntry {
    /// The index entry of `chain` stored in `shard`.
    pub fn of(chain: &TrainingChain, shard: &str) -> Self {
        Self {
            id: chain.id.clone(),
            shard: shard.to_string(),
            length: chain.protein.aatype.len(),
            sequence: chain.sequence(),
            resolution: chain.resolution,
            release_date: chain.release_date.clone(),
            msa_rows: chain.msa.as_ref().map_or(0, Msa::len),
            source: chain.path.display().to_string(),
            checksum: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{read_release_date, read_resolution, TrainingChain};

    #[test]
    fn low_confidence_residues_leave_the_labels() {
        let dir =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/data");
        let mut chain = TrainingChain::read(&dir.join("5PTI_A.pdb"), None).unwrap();
        chain.resolution = 1.0;
        let n = chain.protein.aatype.len();
        for i in 0..n {
            chain.protein.b_factors.row_mut(i).fill(if i < 10 { 40.0 } else { 90.0 });
        }
        let masked = chain.mask_below_plddt(70.0);
        assert_eq!(masked.resolution, 0.0);
        for i in 0..n {
            let atoms = masked.protein.atom_mask.row(i).sum();
            if i < 10 {
                assert_eq!(atoms, 0.0, "residue {i}");
            } else {
                assert_eq!(atoms, chain.protein.atom_mask.row(i).sum(), "residue {i}");
            }
        }
    }

    #[test]
    fn release_dates_from_pdb_and_mmcif_headers() {
        let header = format!("HEADER    {:<40}24-MAR-98   1ABC", "HYDROLASE");
        assert_eq!(read_release_date(&header), Some("1998-03-24".into()));
        let header = format!("HEADER    {:<40}01-JAN-00   1UBQ", "PROTEIN");
        assert_eq!(read_release_date(&header), Some("2000-01-01".into()));
        assert_eq!(
            read_release_date("_pdbx_database_status.recvd_initial_deposition_date 2003-07-11\n"),
            Some("2003-07-11".into())
        );
        assert_eq!(read_release_date("ATOM      1  N   MET A   1\n"), None);
    }

    #[test]
    fn resolution_from_pdb_and_mmcif_headers() {
        assert_eq!(read_resolution("REMARK   2 RESOLUTION.    1.80 ANGSTROMS.\nATOM"), Some(1.8));
        assert_eq!(read_resolution("_refine.ls_d_res_high   2.10\n"), Some(2.1));
        assert_eq!(read_resolution("REMARK   2 RESOLUTION. NOT APPLICABLE.\n"), None);
        assert_eq!(read_resolution("ATOM      1  N   MET A   1\n"), None);
    }
}
