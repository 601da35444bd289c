//! A3M alignments (HHblits, ColabFold/MMseqs2): lowercase letters are insertions relative to
//! the query and become the deletion matrix.

use std::path::Path;

use super::check_msa_letter;
use crate::error::{read_text, FeaturesError, Result};
use crate::msa::Msa;

/// Parses A3M text; the first record is the query. Lines starting with `#` before the first
/// record (HHblits/ColabFold headers) are skipped. `.` (a2m gap in an insert column) is ignored.
/// Every row must have as many match columns (uppercase letters and `-`) as the query.
pub fn parse_a3m(text: &str, source: &str) -> Result<Msa> {
    let mut msa = Msa::default();
    let mut current: Option<Row> = None;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim();
        if line.is_empty() || (line.starts_with('#') && current.is_none() && msa.is_empty()) {
            continue;
        }
        if let Some(header) = line.strip_prefix('>') {
            if let Some(row) = current.take() {
                finish_row(&mut msa, row, source)?;
            }
            current = Some(Row::new(header.to_string(), line_no));
            continue;
        }
        let Some(row) = current.as_mut() else {
            return Err(FeaturesError::parse(
                source,
                Some(line_no),
                "sequence data before the first `>` header",
            ));
        };
        for &c in line.as_bytes() {
            match c {
                b'a'..=b'z' => row.pending_deletions += 1,
                b'.' | b' ' | b'\t' => {}
                _ => {
                    check_msa_letter(source, line_no, &row.description, c)?;
                    row.aligned.push(c);
                    row.deletions.push(row.pending_deletions);
                    row.pending_deletions = 0;
                }
            }
        }
    }
    if let Some(row) = current.take() {
        finish_row(&mut msa, row, source)?;
    }
    if msa.is_empty() {
        return Err(FeaturesError::parse(source, None, "no A3M record (no line starts with `>`)"));
    }
    Ok(msa)
}

/// Reads and parses an A3M file.
pub fn parse_a3m_file(path: &Path) -> Result<Msa> {
    parse_a3m(&read_text(path)?, &path.display().to_string())
}

struct Row {
    description: String,
    line: usize,
    aligned: Vec<u8>,
    deletions: Vec<u32>,
    pending_deletions: u32,
}

impl Row {
    fn new(description: String, line: usize) -> Self {
        Self { description, line, aligned: Vec::new(), deletions: Vec::new(), pending_deletions: 0 }
    }
}

fn finish_row(msa: &mut Msa, row: Row, source: &str) -> Result<()> {
    let expected = if msa.is_empty() { None } else { Some(msa.query_len()) };
    match expected {
        None if row.aligned.is_empty() => {
            return Err(FeaturesError::parse(
                source,
                Some(row.line),
                "the query record has no residues",
            ));
        }
        Some(n) if row.aligned.len() != n => {
            return Err(FeaturesError::parse(
                source,
                Some(row.line),
                format!(
                    "record `{}` has {} match columns, the query has {n}",
                    row.description,
                    row.aligned.len()
                ),
            ));
        }
        _ => {}
    }
    let sequence = String::from_utf8(row.aligned).expect("ASCII letters");
    msa.push(sequence, row.deletions, row.description);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insertions_become_deletions() {
        let msa =
            parse_a3m("#A3M header\n>q\nMKV\n>h1 desc\nMabK-\n>h2\n-KcdV\n", "t.a3m").unwrap();
        assert_eq!(msa.sequences, vec!["MKV", "MK-", "-KV"]);
        assert_eq!(msa.deletion_matrix, vec![vec![0, 0, 0], vec![0, 2, 0], vec![0, 0, 2]]);
        assert_eq!(msa.descriptions[1], "h1 desc");
    }

    #[test]
    fn ragged_rows_are_an_error_with_the_line() {
        let err = parse_a3m(">q\nMKV\n>h\nMK\n", "r.a3m").unwrap_err().to_string();
        assert_eq!(err, "r.a3m:3: record `h` has 2 match columns, the query has 3");
        let err = parse_a3m(">q\nMK1\n", "r.a3m").unwrap_err().to_string();
        assert!(err.starts_with("r.a3m:2: sequence `q` contains `1`"), "{err}");
    }
}
