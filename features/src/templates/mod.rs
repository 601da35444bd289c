//! Template features from hhsearch hits and mmCIF files, as DeepMind's
//! `TemplateHitFeaturizer` (alphafold 2.0.0, `data/templates.py`) makes them.
//!
//! Hits are taken by decreasing `sum_probs`. Each passes a prefilter (aligned columns over 10%
//! of the query, not a ≥95%-length copy of the query, at least 10 residues), then its mmCIF
//! file `<mmcif_dir>/<pdb id>.cif` is read: an entry released after the cut-off is skipped;
//! the hit's sequence is looked up in the entry's SEQRES (same chain, any chain, then with `X`
//! as a wildcard), and when it is not there (the search database had another version of the
//! sequence) kalign realigns it to the chain's SEQRES, which must then be ≥90% identical.
//! The atoms of each query residue's template residue fill `template_all_atom_positions`
//! (atom37; selenomethionine's SE as SD; arginine NH1/NH2 put back in order).
//!
//! Hits that fail are skipped, with a message in `errors` or `warnings` as AlphaFold sorts them.
//! Two quirks of DeepMind's code are kept because its features are the reference: a query
//! residue whose template residue vanished in the realignment gets the template's last residue
//! (Python's index -1), and the cut-off date compares whole dates.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Array3, Array4, Axis};

use crate::error::{FeaturesError, Result};
use crate::feature_dict::FeatureDict;
use crate::parsers::hhr::HhrHit;
use crate::parsers::mmcif::read_mmcif_entry;
use crate::residue_constants::ATOM_TYPE_NUM;
use crate::tools::RunOptions;

mod extract;

use extract::{extract_features, query_to_hit_mapping};

/// Settings of the template search (AlphaFold's `TemplateHitFeaturizer` arguments).
#[derive(Debug, Clone)]
pub struct TemplateConfig {
    /// Directory of `<pdb id>.cif` files (lower-case ids, as a PDB mirror has them).
    pub mmcif_dir: PathBuf,
    /// Templates released after this date (`YYYY-MM-DD`) are not used; `None`: no cut-off
    /// (entries then need no release date).
    pub max_template_date: Option<String>,
    /// At most this many templates (AlphaFold: 20; the network reads the first 4).
    pub max_hits: usize,
    /// Obsolete PDB id → its replacement (`None`: removed), from the PDB's `obsolete.dat`.
    pub obsolete_pdbs: HashMap<String, Option<String>>,
    /// How kalign is run for realignments.
    pub kalign: RunOptions,
    /// Treat dates after the cut-off, duplicates of the query and feature errors as errors.
    pub strict_error_check: bool,
}

impl TemplateConfig {
    /// AlphaFold's defaults (20 hits, no strict checks) for `mmcif_dir` and a cut-off date.
    pub fn new(mmcif_dir: impl Into<PathBuf>, max_template_date: Option<&str>) -> Result<Self> {
        if let Some(date) = max_template_date {
            date_of(date, "the maximum template date")?;
        }
        Ok(Self {
            mmcif_dir: mmcif_dir.into(),
            max_template_date: max_template_date.map(str::to_string),
            max_hits: 20,
            obsolete_pdbs: HashMap::new(),
            kalign: RunOptions::default(),
            strict_error_check: false,
        })
    }
}

/// Where a template came from.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateInfo {
    /// `<pdb id>_<chain>` (AlphaFold's `template_domain_names`).
    pub domain_name: String,
    /// The template residue aligned to each query residue, `-` where none
    /// (`template_sequence`).
    pub sequence: String,
    /// The entry's release date (`template_release_date`).
    pub release_date: String,
}

/// The templates found for one query.
#[derive(Debug, Clone, Default)]
pub struct TemplateSearchResult {
    /// AlphaFold's raw template features, one leading row per template; empty when no hit was
    /// usable (the network then runs without templates, as AlphaFold's no-hit case).
    pub features: FeatureDict,
    pub templates: Vec<TemplateInfo>,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl TemplateSearchResult {
    /// Logs which templates `id` got and the hits that failed with an error (warnings are
    /// logged as they happen).
    pub fn log_summary(&self, id: &str) {
        let names: Vec<&str> = self.templates.iter().map(|t| t.domain_name.as_str()).collect();
        tracing::info!("{id}: {} templates: {}", names.len(), names.join(", "));
        for error in &self.errors {
            tracing::warn!("{id}: template hit skipped: {error}");
        }
    }
}

/// `parse_date`, or an error naming `what`.
fn date_of(text: &str, what: &str) -> Result<i64> {
    parse_date(text).ok_or_else(|| {
        FeaturesError::InvalidInput(format!("{what} `{text}` is not a date (YYYY-MM-DD)"))
    })
}

/// A date `YYYY-MM-DD` as a day number (days since 1970-01-01), if it is one.
fn parse_date(text: &str) -> Option<i64> {
    let mut parts = text.trim().splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from the civil date (proleptic Gregorian calendar).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// A hit that produced no features: `Error` entries are errors, `Warning` entries warnings,
/// `Skipped` neither (AlphaFold only logs them).
enum Failure {
    Error(String),
    Warning(String),
    Skipped,
}

/// Template features of `query_sequence` from `hits`. `query_release_date` (for benchmarks on
/// released structures) moves the cut-off to 60 days before it when that is earlier.
pub fn get_templates(
    query_sequence: &str,
    query_release_date: Option<&str>,
    hits: &[HhrHit],
    config: &TemplateConfig,
) -> Result<TemplateSearchResult> {
    if query_sequence.is_empty() {
        return Err(FeaturesError::InvalidInput("the query sequence is empty".into()));
    }
    let mut cutoff = match &config.max_template_date {
        Some(date) => Some(date_of(date, "the maximum template date")?),
        None => None,
    };
    if let Some(date) = query_release_date {
        let before_query = date_of(date, "the query release date")? - 60;
        cutoff = Some(cutoff.map_or(before_query, |c| c.min(before_query)));
    }

    let mut order: Vec<&HhrHit> = hits.iter().collect();
    // Stable, so equal sums keep the file's order (as Python's sorted).
    order.sort_by(|a, b| b.sum_probs.total_cmp(&a.sum_probs));
    let mut result = TemplateSearchResult::default();
    let mut rows: Vec<TemplateRow> = Vec::new();
    for hit in order {
        if rows.len() >= config.max_hits {
            break;
        }
        match process_hit(query_sequence, hit, cutoff, config) {
            Ok((row, warning)) => {
                result.warnings.extend(warning);
                rows.push(row);
            }
            Err(Failure::Error(message)) => result.errors.push(message),
            Err(Failure::Warning(message)) => result.warnings.push(message),
            Err(Failure::Skipped) => {}
        }
    }
    for message in &result.warnings {
        tracing::warn!("template: {message}");
    }
    if !rows.is_empty() {
        result.features = stack_rows(&rows, query_sequence.len());
        result.templates = rows.into_iter().map(|r| r.info).collect();
    }
    Ok(result)
}

/// One template's features.
struct TemplateRow {
    positions: Array3<f32>,
    masks: Array2<f32>,
    aatype: Array2<f32>,
    confidence_scores: Array1<i64>,
    scores: [f32; 6],
    info: TemplateInfo,
}

/// The scalar scores of a hit, in this order in `TemplateRow::scores`.
const SCORE_FEATURES: [&str; 6] = [
    "template_e_value",
    "template_sum_probs",
    "template_prob_true",
    "template_score",
    "template_neff",
    "template_similarity",
];

fn stack_rows(rows: &[TemplateRow], residues: usize) -> FeatureDict {
    let t = rows.len();
    let mut positions = Array4::<f32>::zeros((t, residues, ATOM_TYPE_NUM, 3));
    let mut masks = Array3::<f32>::zeros((t, residues, ATOM_TYPE_NUM));
    let mut aatype = Array3::<f32>::zeros((t, residues, 22));
    let mut confidence = Array2::<i64>::zeros((t, residues));
    for (k, row) in rows.iter().enumerate() {
        positions.index_axis_mut(Axis(0), k).assign(&row.positions);
        masks.index_axis_mut(Axis(0), k).assign(&row.masks);
        aatype.index_axis_mut(Axis(0), k).assign(&row.aatype);
        confidence.row_mut(k).assign(&row.confidence_scores);
    }
    let mut f = FeatureDict::default();
    f.insert("template_all_atom_positions", positions.into_dyn());
    f.insert("template_all_atom_masks", masks.into_dyn());
    f.insert("template_aatype", aatype.into_dyn());
    f.insert("template_confidence_scores", confidence.into_dyn());
    for (i, name) in SCORE_FEATURES.iter().enumerate() {
        let column = Array2::from_shape_fn((t, 1), |(k, _)| rows[k].scores[i]);
        f.insert(*name, column.into_dyn());
    }
    f
}

/// `<pdb id>` (lower case) and chain of a hit named `1abc_A ...`.
fn pdb_id_and_chain(name: &str) -> Option<(String, String)> {
    let bytes = name.as_bytes();
    if bytes.len() < 6 || !bytes[..4].iter().all(u8::is_ascii_alphanumeric) || bytes[4] != b'_' {
        return None;
    }
    let chain: String =
        name[5..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
    (!chain.is_empty()).then(|| (name[..4].to_ascii_lowercase(), chain))
}

fn process_hit(
    query: &str,
    hit: &HhrHit,
    cutoff: Option<i64>,
    config: &TemplateConfig,
) -> std::result::Result<(TemplateRow, Option<String>), Failure> {
    let Some((mut pdb_id, chain)) = pdb_id_and_chain(&hit.name) else {
        return Err(Failure::Error(format!(
            "hit {} `{}`: its name does not start with PDBID_chain",
            hit.index, hit.name
        )));
    };
    if let Some(replacement) = config.obsolete_pdbs.get(&pdb_id) {
        match replacement {
            Some(new_id) => pdb_id = new_id.clone(),
            None => {
                tracing::info!("template {pdb_id}_{chain}: obsolete, removed from the PDB");
                return Err(Failure::Skipped);
            }
        }
    }

    // Prefilter (AlphaFold's `_assess_hhsearch_hit`).
    let template_sequence: String = hit.hit_sequence.chars().filter(|&c| c != '-').collect();
    let align_ratio = hit.aligned_cols as f64 / query.len() as f64;
    let length_ratio = template_sequence.len() as f64 / query.len() as f64;
    let duplicate = query.contains(template_sequence.as_str()) && length_ratio > 0.95;
    // AlphaFold's order of the checks matters in strict mode: a short alignment is never an
    // error, a duplicate is.
    if align_ratio <= 0.1 {
        return Err(Failure::Skipped);
    }
    if duplicate {
        return Err(if config.strict_error_check {
            Failure::Error(format!(
                "hit {pdb_id}_{chain} is an exact subsequence of the query (length ratio \
                 {length_ratio})"
            ))
        } else {
            Failure::Skipped
        });
    }

    if template_sequence.len() < 10 {
        return Err(Failure::Skipped);
    }

    let mapping = query_to_hit_mapping(hit, query);
    let confidence_scores: Vec<u8> = hit
        .hit_sequence
        .bytes()
        .zip(hit.confidence_scores.bytes())
        .filter(|(t, _)| *t != b'-')
        .map(|(_, c)| c)
        .collect();

    let path = config.mmcif_dir.join(format!("{pdb_id}.cif"));
    if !path.is_file() {
        return Err(Failure::Error(format!(
            "{pdb_id}_{chain}: {} does not exist (is --mmcif-dir a directory of <pdb id>.cif \
             files?)",
            path.display()
        )));
    }
    let entry = read_mmcif_entry(&path, &pdb_id);
    let describe = |e: &dyn std::fmt::Display| {
        format!("{pdb_id}_{chain} (sum_probs: {:.2}, rank: {}): {e}", hit.sum_probs, hit.index)
    };
    let entry = match entry {
        Ok(entry) => entry,
        // An unreadable entry is AlphaFold's "no chains" case: a warning.
        Err(e) => return Err(warn_or_error(describe(&e), config)),
    };
    let release_date = entry.release_date.clone().unwrap_or_default();
    match (cutoff, parse_date(&release_date)) {
        (None, _) => {}
        (Some(_), None) => {
            return Err(Failure::Error(describe(&format!(
                "{} states no release date (_pdbx_audit_revision_history), so the date \
                 cut-off cannot be checked",
                path.display()
            ))))
        }
        (Some(cutoff), Some(date)) if date > cutoff => {
            return Err(if config.strict_error_check {
                Failure::Error(describe(&format!("released {release_date}, after the cut-off")))
            } else {
                tracing::info!(
                    "template {pdb_id}_{chain} released {release_date}: after the cut-off"
                );
                Failure::Skipped
            });
        }
        (Some(_), Some(_)) => {}
    }
    extract_features(
        &entry,
        &pdb_id,
        &chain,
        mapping,
        &template_sequence,
        &confidence_scores,
        query,
        config,
    )
    .map(|(mut row, warning)| {
        row.scores =
            [hit.e_value, hit.sum_probs, hit.prob_true, hit.score, hit.neff, hit.similarity]
                .map(|v| v as f32);
        row.info.release_date = release_date;
        (row, warning)
    })
    .map_err(|failure| match failure {
        Failure::Error(m) => Failure::Error(describe(&m)),
        Failure::Warning(m) => warn_or_error(describe(&m), config),
        Failure::Skipped => Failure::Skipped,
    })
}

fn warn_or_error(message: String, config: &TemplateConfig) -> Failure {
    if config.strict_error_check {
        Failure::Error(message)
    } else {
        Failure::Warning(message)
    }
}

/// Reads hhsearch hits (`.hhr`), finds templates for `sequence` and adds their features to
/// `raw` (nothing when no hit is usable). Returns which templates were used, with the errors and
/// warnings (its `features` moved into `raw`).
pub fn add_template_features(
    raw: &mut FeatureDict,
    sequence: &str,
    hits_path: &Path,
    config: &TemplateConfig,
) -> Result<TemplateSearchResult> {
    let hits = crate::parsers::hhr::parse_hhr_file(hits_path)?;
    check_hits_align_to(sequence, &hits, hits_path)?;
    let mut result = get_templates(sequence, None, &hits, config)?;
    if !hits.is_empty() && result.templates.is_empty() {
        tracing::warn!(
            "{}: none of its {} hits gave a template; predicting without templates",
            hits_path.display(),
            hits.len()
        );
    }
    raw.extend(std::mem::take(&mut result.features));
    Ok(result)
}

/// Every hit's query row must be the query's residues at the positions it names (`X` in either
/// matches anything): hits searched for another protein would otherwise become its templates.
fn check_hits_align_to(sequence: &str, hits: &[HhrHit], hits_path: &Path) -> Result<()> {
    let query = sequence.as_bytes();
    for hit in hits {
        let aligned = hit.query.bytes().zip(&hit.indices_query).filter(|(_, &i)| i >= 0);
        for (letter, &index) in aligned {
            let expected = query.get(index as usize).copied();
            let matches = expected
                .is_some_and(|e| e.eq_ignore_ascii_case(&letter) || e == b'X' || letter == b'X');
            if !matches {
                let found = match expected {
                    Some(e) => format!("the query has `{}`", char::from(e)),
                    None => format!("the query has only {} residues", query.len()),
                };
                return Err(FeaturesError::InvalidInput(format!(
                    "{}: hit {} ({}) was aligned to another sequence: its query residue {} is \
                     `{}`, {found}; was this hits file made for this query?",
                    hits_path.display(),
                    hit.index,
                    hit.name.split_whitespace().next().unwrap_or(""),
                    index + 1,
                    char::from(letter),
                )));
            }
        }
    }
    Ok(())
}

/// Reads the PDB's `obsolete.dat` (`OBSLTE    31-JUL-94 116L     216L`): obsolete id → its
/// replacement, `None` for entries removed without one.
pub fn read_obsolete_pdbs(path: &Path) -> Result<HashMap<String, Option<String>>> {
    let text = crate::error::read_text(path)?;
    let mut result = HashMap::new();
    for line in text.lines().filter(|l| l.starts_with("OBSLTE")) {
        let field = |a: usize, b: usize| line.get(a..b).map(|s| s.trim().to_ascii_lowercase());
        if line.len() > 30 {
            if let (Some(from), Some(to)) = (field(20, 24), field(29, 33)) {
                result.insert(from, Some(to));
            }
        } else if line.len() == 24 {
            if let Some(from) = field(20, 24) {
                result.insert(from, None);
            }
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::extract::python_index;
    use super::*;

    #[test]
    fn dates_count_days() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01").unwrap() - parse_date("2000-02-28").unwrap(), 2);
        assert_eq!(parse_date("2003-02-15").unwrap() - 60, parse_date("2002-12-17").unwrap());
        assert_eq!(parse_date("2003-13-01"), None);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn hit_names_give_pdb_id_and_chain() {
        assert_eq!(pdb_id_and_chain("1ABC_A mol:protein"), Some(("1abc".into(), "A".into())));
        assert_eq!(pdb_id_and_chain("2hhb_AB"), Some(("2hhb".into(), "AB".into())));
        assert_eq!(pdb_id_and_chain("uniref_123"), None);
        assert_eq!(pdb_id_and_chain("1abc"), None);
    }

    #[test]
    fn python_indices_count_from_the_end() {
        assert_eq!(python_index(-1, 5), Some(4));
        assert_eq!(python_index(4, 5), Some(4));
        assert_eq!(python_index(5, 5), None);
        assert_eq!(python_index(-6, 5), None);
    }
}
