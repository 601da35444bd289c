//! HHR files (hhsearch / hhblits results): every hit with its summary scores and its alignment
//! to the query, as AlphaFold reads them to find templates. Residue indices are 0-based; -1
//! marks a gap.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{read_text, FeaturesError, Result};

/// One hit of an HHR file (AlphaFold's `TemplateHit` fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HhrHit {
    /// The hit's number (`No N`).
    pub index: usize,
    /// The hit's name line, without `>`.
    pub name: String,
    pub prob_true: f64,
    pub e_value: f64,
    pub score: f64,
    pub aligned_cols: usize,
    pub identity: f64,
    pub similarity: f64,
    pub sum_probs: f64,
    pub neff: f64,
    /// The aligned query and hit rows (same length, `-` for gaps).
    pub query: String,
    pub hit_sequence: String,
    pub hit_dssp: String,
    pub column_score_code: String,
    pub confidence_scores: String,
    /// For each alignment column, the query / hit residue index (0-based), -1 at a gap.
    pub indices_query: Vec<i64>,
    pub indices_hit: Vec<i64>,
}

/// Parses HHR text; `source` names it in errors (with the line). hhsearch and hhblits always
/// write a header that starts with the `Query` line, hits or not: text without one (empty,
/// truncated before it, another format) is an error, not "no hits".
pub fn parse_hhr(text: &str, source: &str) -> Result<Vec<HhrHit>> {
    let lines: Vec<&str> = text.lines().collect();
    if !lines.iter().any(|l| l.starts_with("Query ")) {
        let what = if text.trim().is_empty() { "empty" } else { "no `Query` header line" };
        return Err(FeaturesError::parse(
            source,
            None,
            format!("{what}: not an hhsearch/hhblits result (HHR) file"),
        ));
    }
    let starts: Vec<usize> =
        lines.iter().enumerate().filter(|(_, l)| l.starts_with("No ")).map(|(i, _)| i).collect();
    let mut hits = Vec::with_capacity(starts.len());
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(lines.len());
        hits.push(parse_hit(&lines[start..end], start, source)?);
    }
    Ok(hits)
}

pub fn parse_hhr_file(path: &Path) -> Result<Vec<HhrHit>> {
    parse_hhr(&read_text(path)?, &path.display().to_string())
}

/// The 0-based index of each column's residue, -1 for gaps, counting from `start`.
fn residue_indices(aligned: &str, start: i64, out: &mut Vec<i64>) {
    let mut counter = start;
    for c in aligned.bytes() {
        if c == b'-' {
            out.push(-1);
        } else {
            out.push(counter);
            counter += 1;
        }
    }
}

/// `<start> <ALIGNED> <end> (<length>)` after the 17-character name column.
fn alignment_row(line: &str, error: &dyn Fn(&str) -> FeaturesError) -> Result<(i64, String, i64)> {
    let rest = line.get(17..).ok_or_else(|| error("alignment line too short"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let [start, aligned, end, length] = fields[..] else {
        return Err(error("expected `start ALIGNED end (length)` after the name column"));
    };
    if !(length.starts_with('(') && length.ends_with(')')) {
        return Err(error("expected the sequence length in parentheses"));
    }
    if !aligned.bytes().all(|c| c.is_ascii_uppercase() || c == b'-') {
        return Err(error("aligned residues must be upper-case letters or `-`"));
    }
    let number = |s: &str| s.parse::<i64>().map_err(|_| error("residue number is not an integer"));
    Ok((number(start)?, aligned.to_string(), number(end)?))
}

fn parse_hit(lines: &[&str], first_line: usize, source: &str) -> Result<HhrHit> {
    let error_at = |offset: usize| {
        move |message: &str| FeaturesError::parse(source, Some(first_line + offset + 1), message)
    };
    let index = lines[0]
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| error_at(0)("expected `No <number>`"))?;
    let name = lines
        .get(1)
        .and_then(|l| l.strip_prefix('>'))
        .ok_or_else(|| error_at(1)("expected the hit's `>name` line"))?
        .to_string();
    let summary = lines.get(2).ok_or_else(|| error_at(2)("expected the hit's summary line"))?;
    let value = |key: &str| -> Result<f64> {
        summary
            .split_whitespace()
            .find_map(|field| field.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            .map(|v| v.trim_end_matches('%'))
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| error_at(2)(&format!("summary line lacks a number for `{key}`")))
    };
    let mut hit = HhrHit {
        index,
        name,
        prob_true: value("Probab")?,
        e_value: value("E-value")?,
        score: value("Score")?,
        aligned_cols: value("Aligned_cols")? as usize,
        identity: value("Identities")?,
        similarity: value("Similarity")?,
        sum_probs: value("Sum_probs")?,
        neff: value("Template_Neff")?,
        query: String::new(),
        hit_sequence: String::new(),
        hit_dssp: String::new(),
        column_score_code: String::new(),
        confidence_scores: String::new(),
        indices_query: Vec::new(),
        indices_hit: Vec::new(),
    };
    // Blocks of fixed width: the query line gives the block's length, the lines after it
    // must fit it.
    let mut block_length: Option<usize> = None;
    for (offset, line) in lines.iter().enumerate().skip(3) {
        let error = error_at(offset);
        let annotation = |l: &str, side: &str| {
            ["ss_dssp", "ss_pred", "Consensus"]
                .iter()
                .any(|a| l.starts_with(&format!("{side} {a}")))
        };
        if line.starts_with("Q ") && !annotation(line, "Q") {
            let (start, aligned, end) = alignment_row(line, &error)?;
            let gaps = aligned.bytes().filter(|&c| c == b'-').count() as i64;
            if start < 1 || end - (start - 1) + gaps != aligned.len() as i64 {
                return Err(error("the query row's residue range does not match its length"));
            }
            block_length = Some(aligned.len());
            hit.query.push_str(&aligned);
            residue_indices(&aligned, start - 1, &mut hit.indices_query);
        } else if let Some(dssp) = line.strip_prefix("T ss_dssp") {
            let dssp = dssp.trim();
            if Some(dssp.len()) != block_length {
                return Err(error("the DSSP row does not fit the block"));
            }
            hit.hit_dssp.push_str(dssp);
        } else if line.starts_with("T ") && !annotation(line, "T") {
            let (start, aligned, _) = alignment_row(line, &error)?;
            if Some(aligned.len()) != block_length || start < 1 {
                return Err(error("the hit row does not fit the block's query row"));
            }
            hit.hit_sequence.push_str(&aligned);
            residue_indices(&aligned, start - 1, &mut hit.indices_hit);
        } else if line.starts_with(&" ".repeat(22)) || line.starts_with("Confidence") {
            let length = block_length.ok_or_else(|| error("a score line before any query row"))?;
            let columns = line.get(22..(22 + length).min(line.len())).unwrap_or("");
            if line.starts_with("Confidence") {
                hit.confidence_scores.push_str(columns);
            } else {
                hit.column_score_code.push_str(columns);
            }
        }
    }
    if hit.query.len() != hit.hit_sequence.len() {
        return Err(error_at(0)("query and hit rows differ in length"));
    }
    Ok(hit)
}
