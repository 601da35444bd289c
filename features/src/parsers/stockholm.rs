//! Stockholm alignments as jackhmmer writes them (`-A`), read the way AlphaFold reads them: the
//! first sequence is the query, columns where the query has a gap are insertions.

use std::path::Path;

use super::InterleavedRows;
use crate::error::{read_text, FeaturesError, Result};
use crate::msa::Msa;

/// Parses Stockholm text (interleaved blocks allowed). Markup lines (`#=GF`, `#=GS`, `#=GR`,
/// `#=GC`, including `#=GC RF`) are skipped; each other line must be `name sequence`, and the
/// alignment must end with `//`: without it, a file cut at a line boundary would pass as an
/// alignment with fewer rows.
pub fn parse_stockholm(text: &str, source: &str) -> Result<Msa> {
    let mut rows = InterleavedRows::default();
    let mut terminated = false;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim();
        if line.starts_with("//") {
            terminated = true;
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(name), Some(sequence), None) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(FeaturesError::parse(
                source,
                Some(line_no),
                "expected `<name> <aligned sequence>`",
            ));
        };
        rows.append(name, sequence, line_no);
    }
    let msa = rows.into_msa(source)?;
    if !terminated {
        return Err(FeaturesError::parse(
            source,
            None,
            format!(
                "no `//` line: the alignment is incomplete (truncated after {} sequences?)",
                msa.len()
            ),
        ));
    }
    Ok(msa)
}

/// Reads and parses a Stockholm file.
pub fn parse_stockholm_file(path: &Path) -> Result<Msa> {
    parse_stockholm(&read_text(path)?, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_gap_columns_become_deletions() {
        let text = "# STOCKHOLM 1.0\n#=GS h1 DE x\nq   MK--V\nh1  MKAGV\n#=GC RF xx..x\n\nq   LL\nh1  -L\n//\n";
        let msa = parse_stockholm(text, "t.sto").unwrap();
        assert_eq!(msa.sequences, vec!["MKVLL", "MKV-L"]);
        assert_eq!(msa.deletion_matrix[1], vec![0, 0, 2, 0, 0]);
    }

    #[test]
    fn malformed_lines_are_errors() {
        let err = parse_stockholm("q MKV\nh1 MK V\n", "m.sto").unwrap_err().to_string();
        assert_eq!(err, "m.sto:2: expected `<name> <aligned sequence>`");
        let err = parse_stockholm("q MKV\nh1 MK\n", "m.sto").unwrap_err().to_string();
        assert_eq!(err, "m.sto:2: sequence `h1` has 2 alignment columns, the query has 3");
        let err = parse_stockholm("# STOCKHOLM 1.0\n//\n", "m.sto").unwrap_err().to_string();
        assert_eq!(err, "m.sto: the alignment has no sequences");
    }

    #[test]
    fn a_file_cut_before_its_end_is_an_error_not_fewer_rows() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/fixtures/data/1UBQ_A.sto"),
        )
        .unwrap();
        let whole = parse_stockholm(&text, "u.sto").unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Cut at every line boundary from the first sequence line on: never a smaller alignment.
        let first = lines.iter().position(|l| !l.is_empty() && !l.starts_with('#')).unwrap();
        for cut in first..lines.len() - 1 {
            let truncated = lines[..cut].join("\n") + "\n";
            match parse_stockholm(&truncated, "u.sto") {
                Ok(msa) => {
                    panic!("cut at line {cut}: {} of {} rows accepted", msa.len(), whole.len())
                }
                Err(e) => assert!(e.to_string().starts_with("u.sto"), "{e}"),
            }
        }
        let err = parse_stockholm(&lines[..lines.len() - 1].join("\n"), "u.sto").unwrap_err();
        assert!(err.to_string().contains("no `//` line"), "{err}");
    }
}
