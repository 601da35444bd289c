//! FASTA (query sequences), read with `bio`, validated with line numbers.

use std::path::Path;

use crate::error::{read_text, FeaturesError, Result};

/// One FASTA record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastaRecord {
    /// The header line without `>` (identifier and description), as AlphaFold keeps it.
    pub description: String,
    /// Upper-case one-letter sequence. Letters outside the 20 standard amino acids (`X`, `U`,
    /// `B`, `Z`, ...) are kept: they become unknown (`X`, aatype 20) in the sequence features,
    /// as in AlphaFold.
    pub sequence: String,
    /// 1-based line of the header.
    pub line: usize,
}

/// Separates the chains of a complex within one record's sequence (ColabFold's convention:
/// `>complex` then `SEQ_A:SEQ_B`).
pub const CHAIN_SEPARATOR: char = ':';
const CHAIN_SEPARATOR_BYTE: u8 = b':';

/// The id of the `index`-th chain of a complex: A, B, …, Z, then a, …, z, then 0, …, 9 (the
/// 62 one-character ids the PDB format allows).
pub fn chain_id(index: usize) -> char {
    const IDS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    IDS.get(index).map_or('?', |&c| c as char)
}

impl FastaRecord {
    /// The record's chains: one, or several separated by `:` (a complex).
    pub fn chains(&self) -> Vec<&str> {
        self.sequence.split(CHAIN_SEPARATOR).collect()
    }

    /// Whether the record is a complex (chains separated by `:`).
    pub fn is_complex(&self) -> bool {
        self.sequence.contains(CHAIN_SEPARATOR)
    }
}

/// Parses FASTA text. Lowercase letters are upper-cased (ColabFold accepts them; AlphaFold
/// would reject them), whitespace inside sequence lines and a terminal `*` are dropped.
/// `:` separates the chains of a complex. Errors: no record, a record or a chain without
/// residues, text before the first header, any character that is not a letter or `:`.
pub fn parse_fasta(text: &str, source: &str) -> Result<Vec<FastaRecord>> {
    // bio expects the first line to be a header; blank lines before it are harmless, so skip
    // them and keep the line offset for error messages.
    let skipped = text.lines().take_while(|l| l.trim().is_empty()).count();
    let body: String = text.lines().skip(skipped).collect::<Vec<_>>().join("\n");
    let header_lines: Vec<usize> =
        text.lines().enumerate().filter(|(_, l)| l.starts_with('>')).map(|(i, _)| i + 1).collect();
    let mut records = Vec::new();
    for (index, record) in bio::io::fasta::Reader::new(body.as_bytes()).records().enumerate() {
        let record = record.map_err(|e| {
            FeaturesError::parse(source, Some(skipped + 1), format!("not FASTA: {e}"))
        })?;
        let line = header_lines.get(index).copied().unwrap_or(skipped + 1);
        let description = match record.desc() {
            Some(desc) => format!("{} {}", record.id(), desc),
            None => record.id().to_string(),
        };
        let sequence = normalise_sequence(record.seq(), source, line, text)?;
        if sequence.is_empty() {
            return Err(FeaturesError::parse(
                source,
                Some(line),
                format!("record `{description}` has no sequence"),
            ));
        }
        if let Some(empty) = sequence.split(CHAIN_SEPARATOR).position(str::is_empty) {
            return Err(FeaturesError::parse(
                source,
                Some(line),
                format!(
                    "record `{description}`: chain {} has no residues (chains are separated by \
                     one `:`)",
                    chain_id(empty)
                ),
            ));
        }
        records.push(FastaRecord { description, sequence, line });
    }
    if records.is_empty() {
        return Err(FeaturesError::parse(
            source,
            None,
            "no FASTA record (no line starts with `>`)",
        ));
    }
    Ok(records)
}

/// Reads and parses a FASTA file.
pub fn parse_fasta_file(path: &Path) -> Result<Vec<FastaRecord>> {
    parse_fasta(&read_text(path)?, &path.display().to_string())
}

fn normalise_sequence(raw: &[u8], source: &str, header_line: usize, text: &str) -> Result<String> {
    let mut out = String::with_capacity(raw.len());
    let trimmed = raw.strip_suffix(b"*").unwrap_or(raw);
    for &c in trimmed {
        match c {
            c if c.is_ascii_alphabetic() => out.push(c.to_ascii_uppercase() as char),
            c if c.is_ascii_whitespace() => {}
            CHAIN_SEPARATOR_BYTE => out.push(CHAIN_SEPARATOR),
            bad => {
                let line = line_of_char(text, header_line, bad).unwrap_or(header_line);
                return Err(FeaturesError::parse(
                    source,
                    Some(line),
                    format!(
                        "`{}` is not an amino-acid letter (sequences may contain letters, and `:` between the chains of a complex)",
                        bad.escape_ascii()
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// The first line after `header_line` (1-based) that contains `c`: used to point errors at the
/// offending sequence line.
fn line_of_char(text: &str, header_line: usize, c: u8) -> Option<usize> {
    text.lines()
        .enumerate()
        .skip(header_line)
        .take_while(|(_, l)| !l.starts_with('>'))
        .find(|(_, l)| l.as_bytes().contains(&c))
        .map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_of_a_complex_are_separated_by_a_colon() {
        let records = parse_fasta(">hb\nMVL:vhl\nT\n>one\nMKV\n", "c.fasta").unwrap();
        assert_eq!(records[0].chains(), ["MVL", "VHLT"]);
        assert!(records[0].is_complex() && !records[1].is_complex());
        assert_eq!(records[1].chains(), ["MKV"]);
        for (text, chain) in [(">x\n:MKV\n", "A"), (">x\nMKV::MKV\n", "B"), (">x\nMKV:\n", "B")] {
            let err = parse_fasta(text, "c.fasta").unwrap_err().to_string();
            assert!(err.contains(&format!("chain {chain} has no residues")), "{text:?}: {err}");
        }
        assert_eq!((chain_id(0), chain_id(25), chain_id(26), chain_id(61)), ('A', 'Z', 'a', '9'));
    }

    #[test]
    fn records_descriptions_and_normalisation() {
        let text = "\n>q1 first protein\nmkv\nLLX*\n\n>q2\nAUBZ\n";
        let records = parse_fasta(text, "t.fasta").unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].description, "q1 first protein");
        assert_eq!(records[0].sequence, "MKVLLX");
        assert_eq!(records[0].line, 2);
        assert_eq!(records[1].sequence, "AUBZ");
        assert_eq!(records[1].line, 6);
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = parse_fasta("", "e.fasta").unwrap_err().to_string();
        assert!(err.starts_with("e.fasta: no FASTA record"), "{err}");
        let err = parse_fasta(">a\nMKV\n>b\n\n>c\nAA\n", "e.fasta").unwrap_err().to_string();
        assert_eq!(err, "e.fasta:3: record `b` has no sequence");
        let err = parse_fasta(">a\nMKV\nMK1V\n", "e.fasta").unwrap_err().to_string();
        assert!(err.starts_with("e.fasta:3: `1` is not an amino-acid letter"), "{err}");
        let err = parse_fasta("MKV\n", "e.fasta").unwrap_err().to_string();
        assert!(err.starts_with("e.fasta:1: not FASTA"), "{err}");
    }
}
