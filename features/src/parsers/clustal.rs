//! Clustal (`.aln`) alignments, e.g. family alignments from ClustalW or T-Coffee. The first
//! sequence is taken as the query, as for Stockholm.

use std::path::Path;

use super::InterleavedRows;
use crate::error::{read_text, FeaturesError, Result};
use crate::msa::Msa;

/// Parses Clustal text: a header line (`CLUSTAL ...`, `MUSCLE ...`), then blocks of
/// `name sequence [count]` lines; conservation lines (starting with whitespace) are skipped.
pub fn parse_clustal(text: &str, source: &str) -> Result<Msa> {
    let mut rows = InterleavedRows::default();
    let mut saw_header = false;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        if raw.trim().is_empty() || raw.starts_with(char::is_whitespace) {
            continue;
        }
        if !saw_header {
            let upper = raw.to_ascii_uppercase();
            if !(upper.starts_with("CLUSTAL")
                || upper.starts_with("MUSCLE")
                || upper.starts_with("PROBCONS"))
            {
                return Err(FeaturesError::parse(
                    source,
                    Some(line_no),
                    "not a Clustal alignment: the first line should start with `CLUSTAL`",
                ));
            }
            saw_header = true;
            continue;
        }
        let fields: Vec<&str> = raw.split_whitespace().collect();
        let valid_count = fields.len() == 3 && fields[2].parse::<usize>().is_ok();
        if fields.len() != 2 && !valid_count {
            return Err(FeaturesError::parse(
                source,
                Some(line_no),
                "expected `<name> <aligned sequence> [residue count]`",
            ));
        }
        rows.append(fields[0], fields[1], line_no);
    }
    rows.into_msa(source)
}

/// Reads and parses a Clustal file.
pub fn parse_clustal_file(path: &Path) -> Result<Msa> {
    parse_clustal(&read_text(path)?, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_concatenate() {
        let text = "CLUSTAL W (1.83) multiple sequence alignment\n\nq   MK-V 3\nh   MKAV 4\n    ** *\n\nq   LL\nh   L-\n";
        let msa = parse_clustal(text, "t.aln").unwrap();
        assert_eq!(msa.sequences, vec!["MKVLL", "MKVL-"]);
        assert_eq!(msa.deletion_matrix[1], vec![0, 0, 1, 0, 0]);
        let err = parse_clustal(">not clustal\n", "t.aln").unwrap_err().to_string();
        assert!(err.starts_with("t.aln:1: not a Clustal"), "{err}");
    }
}
