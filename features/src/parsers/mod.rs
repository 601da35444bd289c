//! Parsers for the sequence, alignment and structure formats AlphaFold consumes.
//!
//! Each parser takes the text and a `source` label (usually the file path) used in errors, and
//! has a `*_file` twin that reads a path.

pub mod a3m;
pub mod clustal;
pub mod fasta;
pub mod hhr;
pub mod mmcif;
pub mod stockholm;

use crate::error::{FeaturesError, Result};
use crate::msa::Msa;

/// Rows of an interleaved (blocked) alignment, concatenated by name in order of first
/// appearance, each with the line where it first appears.
#[derive(Default)]
pub(crate) struct InterleavedRows {
    rows: Vec<(String, String, usize)>,
    index_of: std::collections::HashMap<String, usize>,
}

impl InterleavedRows {
    pub(crate) fn append(&mut self, name: &str, chunk: &str, line: usize) {
        let rows = &mut self.rows;
        let slot = *self.index_of.entry(name.to_string()).or_insert_with(|| {
            rows.push((name.to_string(), String::new(), line));
            rows.len() - 1
        });
        self.rows[slot].1.push_str(chunk);
    }

    /// The alignment with the first row as query (see `msa_from_query_gapped_rows`).
    pub(crate) fn into_msa(self, source: &str) -> Result<Msa> {
        msa_from_query_gapped_rows(source, self.rows)
    }
}

/// Turns gapped rows whose first row is the query into AlphaFold's MSA: columns where the query
/// has a gap are removed, and the residues a row has there are counted as deletions before the
/// next kept column (exactly as DeepMind's `parse_stockholm`). `.` counts as a gap; lowercase
/// letters (insert states) are upper-cased.
fn msa_from_query_gapped_rows(source: &str, rows: Vec<(String, String, usize)>) -> Result<Msa> {
    let Some((_, query, query_line)) = rows.first() else {
        return Err(FeaturesError::parse(source, None, "the alignment has no sequences"));
    };
    let is_gap = |c: u8| c == b'-' || c == b'.';
    let query = query.as_bytes().to_vec();
    let width = query.len();
    if query.iter().all(|&c| is_gap(c)) {
        return Err(FeaturesError::parse(
            source,
            Some(*query_line),
            "the first (query) sequence has no residues",
        ));
    }
    let mut msa = Msa::default();
    for (name, row, line) in rows {
        let row = row.as_bytes();
        if row.len() != width {
            return Err(FeaturesError::parse(
                source,
                Some(line),
                format!(
                    "sequence `{name}` has {} alignment columns, the query has {width}",
                    row.len()
                ),
            ));
        }
        let mut aligned = Vec::with_capacity(width);
        let mut deletions = Vec::with_capacity(width);
        let mut deleted = 0u32;
        for (&c, &q) in row.iter().zip(&query) {
            if is_gap(q) {
                if !is_gap(c) {
                    deleted += 1;
                }
                continue;
            }
            let c = if c == b'.' { b'-' } else { c.to_ascii_uppercase() };
            check_msa_letter(source, line, &name, c)?;
            aligned.push(c);
            deletions.push(deleted);
            deleted = 0;
        }
        msa.push(String::from_utf8(aligned).expect("ASCII"), deletions, name);
    }
    Ok(msa)
}

/// Errors on characters outside the HHblits alphabet (26 letters and `-`).
pub(crate) fn check_msa_letter(source: &str, line: usize, name: &str, c: u8) -> Result<()> {
    if crate::residue_constants::hhblits_aa_to_id(c).is_none() {
        return Err(FeaturesError::parse(
            source,
            Some(line),
            format!(
                "sequence `{name}` contains `{}`, which is not an amino-acid letter or gap",
                c.escape_ascii()
            ),
        ));
    }
    Ok(())
}
