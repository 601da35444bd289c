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
use crate::parsers::mmcif::{read_mmcif_entry, MmcifEntry};
use crate::residue_constants::{atom_order, hhblits_aa_to_id, ATOM_TYPE_NUM};
use crate::tools::{kalign, RunOptions};

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

/// Query residue index → hit residue index (AlphaFold's `_build_query_to_hit_index_mapping`).
/// Keys are Python indices: -1 (query part not found) addresses the last residue, as there.
fn query_to_hit_mapping(hit: &HhrHit, query: &str) -> Vec<(i64, i64)> {
    let hit_query: String = hit.query.chars().filter(|&c| c != '-').collect();
    if hit.query.is_empty() {
        return Vec::new();
    }
    let hit_len = hit.hit_sequence.chars().filter(|&c| c != '-').count() as i64;
    let offset = query.find(hit_query.as_str()).map_or(-1, |o| o as i64);
    let shifted = |indices: &[i64]| -> Vec<i64> {
        let min = indices.iter().copied().filter(|&x| x > -1).min().unwrap_or(0);
        indices.iter().map(|&x| if x > -1 { x - min } else { -1 }).collect()
    };
    let (q, t) = (shifted(&hit.indices_query), shifted(&hit.indices_hit));
    let mut mapping: Vec<(i64, i64)> = Vec::new();
    for (&qi, &ti) in q.iter().zip(&t) {
        if ti == -1 || qi == -1 || ti >= hit_len || qi + offset >= query.len() as i64 {
            continue;
        }
        insert(&mut mapping, qi + offset, ti);
    }
    mapping
}

/// Sets `key` → `value` keeping the first insertion's place (a Python dict's order).
fn insert(mapping: &mut Vec<(i64, i64)>, key: i64, value: i64) {
    match mapping.iter_mut().find(|(k, _)| *k == key) {
        Some(entry) => entry.1 = value,
        None => mapping.push((key, value)),
    }
}

/// A Python index into a sequence of `len` items (negative counts from the end).
fn python_index(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if index < 0 { index + len } else { index };
    (0..len).contains(&i).then_some(i as usize)
}

/// The chain whose SEQRES holds `template_sequence`, and where it starts (AlphaFold's
/// `_find_template_in_pdb`): the hit's chain, else any chain, else with `X` as a wildcard.
fn find_template_in_entry<'a>(
    chain: &str,
    template_sequence: &str,
    entry: &'a MmcifEntry,
) -> Option<(&'a str, usize)> {
    let same_chain = entry.chain_to_seqres.iter().filter(|(id, _)| id == chain);
    for (id, seqres) in same_chain.chain(&entry.chain_to_seqres) {
        if let Some(offset) = seqres.find(template_sequence) {
            return Some((id, offset));
        }
    }
    // `X` on either side matches anything.
    let pattern = template_sequence.as_bytes();
    for (id, seqres) in &entry.chain_to_seqres {
        let s = seqres.as_bytes();
        if s.len() < pattern.len() {
            continue;
        }
        let found = (0..=s.len() - pattern.len()).find(|&start| {
            pattern.iter().zip(&s[start..]).all(|(&p, &c)| p == b'X' || p == c || c == b'X')
        });
        if let Some(offset) = found {
            return Some((id, offset));
        }
    }
    None
}

/// Realigns the hit's sequence to the chain's SEQRES with kalign (AlphaFold's
/// `_realign_pdb_template_to_query`); returns the SEQRES and the new mapping.
fn realign(
    old_sequence: &str,
    chain: &str,
    entry: &MmcifEntry,
    old_mapping: &[(i64, i64)],
    config: &TemplateConfig,
) -> std::result::Result<(String, Vec<(i64, i64)>), Failure> {
    let new_sequence = match entry.seqres(chain) {
        Some(s) if !s.is_empty() => s.to_string(),
        // With one chain only, the chain id does not matter.
        _ if entry.chain_to_seqres.len() == 1 => entry.chain_to_seqres[0].1.clone(),
        _ => {
            return Err(Failure::Error(format!(
                "no chain {chain} in {}; it may not be a protein chain",
                entry.file_id
            )))
        }
    };
    if old_sequence.len() < 6 || new_sequence.len() < 6 {
        return Err(Failure::Error(format!(
            "cannot realign {old_sequence} to {new_sequence}: kalign needs 6 residues or more"
        )));
    }
    let aligned = kalign(&[("old", old_sequence), ("new", &new_sequence)], &config.kalign)
        .and_then(|text| crate::parsers::a3m::parse_a3m(&text, "kalign output"))
        .map_err(|e| Failure::Error(format!("could not realign the template with kalign: {e}")))?;
    let [old_aligned, new_aligned] = &aligned.sequences[..] else {
        return Err(Failure::Error("kalign returned no alignment of two sequences".into()));
    };
    let mut old_to_new: HashMap<i64, i64> = HashMap::new();
    let (mut old_index, mut new_index, mut same) = (-1i64, -1i64, 0usize);
    for (o, n) in old_aligned.bytes().zip(new_aligned.bytes()) {
        if o != b'-' {
            old_index += 1;
        }
        if n != b'-' {
            new_index += 1;
        }
        if o != b'-' && n != b'-' {
            old_to_new.insert(old_index, new_index);
            same += usize::from(o == n);
        }
    }
    let identity = same as f64 / old_sequence.len().min(new_sequence.len()) as f64;
    if identity < 0.9 {
        return Err(Failure::Error(format!(
            "the template sequence {old_sequence} is {:.0}% identical to the sequence in {} \
             chain {chain} ({new_sequence}); at least 90% is required",
            identity * 100.0,
            entry.file_id
        )));
    }
    let mapping = old_mapping
        .iter()
        .map(|&(q, old)| (q, old_to_new.get(&old).copied().unwrap_or(-1)))
        .collect();
    Ok((new_sequence.replace('-', ""), mapping))
}

type Atom37Positions = [[f32; 3]; ATOM_TYPE_NUM];
type Atom37Mask = [f32; ATOM_TYPE_NUM];

/// Atom37 positions and masks of every SEQRES residue of `chain` (AlphaFold's
/// `_get_atom_positions`, with its check that consecutive Cα are within 150 Å).
fn atom_positions(
    entry: &MmcifEntry,
    chain: &str,
) -> std::result::Result<(Vec<Atom37Positions>, Vec<Atom37Mask>), Failure> {
    let no_atoms = |m: String| Failure::Warning(format!("could not get atom data: {m}"));
    let residues = entry
        .seqres_to_structure
        .get(chain)
        .ok_or_else(|| no_atoms(format!("no chain {chain} in {}", entry.file_id)))?;
    let atom = |name: &str| atom_order(name).expect("an atom37 name");
    let (cd, nh1, nh2, sd, ca) = (atom("CD"), atom("NH1"), atom("NH2"), atom("SD"), atom("CA"));
    let mut positions = vec![[[0f32; 3]; ATOM_TYPE_NUM]; residues.len()];
    let mut masks = vec![[0f32; ATOM_TYPE_NUM]; residues.len()];
    for (i, residue) in residues.iter().enumerate() {
        let Some(residue) = residue else { continue };
        let (pos, mask) = (&mut positions[i], &mut masks[i]);
        for a in &residue.atoms {
            if let Some(k) = atom_order(&a.name) {
                pos[k] = a.position;
                mask[k] = 1.0;
            } else if a.name.eq_ignore_ascii_case("SE") && residue.name == "MSE" {
                pos[sd] = a.position;
                mask[sd] = 1.0;
            }
        }
        let distance = |a: [f32; 3], b: [f32; 3]| {
            ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
        };
        // Some entries name NH1 the guanidinium nitrogen nearer CD; AlphaFold swaps them back.
        if residue.name == "ARG"
            && mask[cd] > 0.0
            && mask[nh1] > 0.0
            && mask[nh2] > 0.0
            && distance(pos[nh1], pos[cd]) > distance(pos[nh2], pos[cd])
        {
            pos.swap(nh1, nh2);
            mask.swap(nh1, nh2);
        }
    }
    let mut previous: Option<[f32; 3]> = None;
    for (i, (pos, mask)) in positions.iter().zip(&masks).enumerate() {
        if mask[ca] > 0.0 {
            let here = pos[ca].map(f64::from);
            if let Some(prev) = previous {
                let prev = prev.map(f64::from);
                let d = ((here[0] - prev[0]).powi(2)
                    + (here[1] - prev[1]).powi(2)
                    + (here[2] - prev[2]).powi(2))
                .sqrt();
                if d > 150.0 {
                    return Err(no_atoms(format!(
                        "residues {i} and {} of chain {chain} are {d:.1} Å apart (limit 150)",
                        i + 1
                    )));
                }
            }
            previous = Some(pos[ca]);
        } else {
            previous = None;
        }
    }
    Ok((positions, masks))
}

#[allow(clippy::too_many_arguments)]
fn extract_features(
    entry: &MmcifEntry,
    pdb_id: &str,
    chain: &str,
    mut mapping: Vec<(i64, i64)>,
    template_sequence: &str,
    confidence_scores: &[u8],
    query: &str,
    config: &TemplateConfig,
) -> std::result::Result<(TemplateRow, Option<String>), Failure> {
    if entry.chain_to_seqres.is_empty() {
        return Err(Failure::Warning(format!("no chains in {pdb_id}")));
    }
    let mut warning = None;
    let mut confidence_scores = Some(confidence_scores);
    let (template_sequence, chain_id, offset) =
        match find_template_in_entry(chain, template_sequence, entry) {
            Some((id, offset)) => (template_sequence.to_string(), id.to_string(), offset as i64),
            None => {
                warning = Some(format!(
                    "the exact sequence {template_sequence} was not found in {pdb_id}_{chain}; \
                     realigned the template to the actual sequence"
                ));
                let (seqres, new_mapping) =
                    realign(template_sequence, chain, entry, &mapping, config)?;
                mapping = new_mapping;
                confidence_scores = None;
                (seqres, chain.to_string(), 0)
            }
        };
    let (positions, masks) = atom_positions(entry, &chain_id)?;

    let n = query.len();
    let mut row_positions = Array3::<f32>::zeros((n, ATOM_TYPE_NUM, 3));
    let mut row_masks = Array2::<f32>::zeros((n, ATOM_TYPE_NUM));
    let mut sequence = vec![b'-'; n];
    let mut confidence = Array1::<i64>::from_elem(n, -1);
    let template_bytes = template_sequence.as_bytes();
    let out_of_range = |what: &str, index: i64| {
        Failure::Error(format!("{pdb_id}_{chain_id}: {what} index {index} is out of range"))
    };
    for &(k, v) in &mapping {
        let k = python_index(k, n).ok_or_else(|| out_of_range("query", k))?;
        let template_index = python_index(v + offset, positions.len())
            .ok_or_else(|| out_of_range("template residue", v + offset))?;
        for a in 0..ATOM_TYPE_NUM {
            for x in 0..3 {
                row_positions[[k, a, x]] = positions[template_index][a][x];
            }
            row_masks[[k, a]] = masks[template_index][a];
        }
        let v_index = python_index(v, template_bytes.len())
            .ok_or_else(|| out_of_range("template sequence", v))?;
        sequence[k] = template_bytes[v_index];
        if let Some(scores) = confidence_scores {
            if let Some(&c) = usize::try_from(v).ok().and_then(|v| scores.get(v)) {
                if c != b' ' {
                    confidence[k] = i64::from(c.wrapping_sub(b'0'));
                }
            }
        }
    }
    if row_masks.sum() < 5.0 {
        return Err(Failure::Warning(format!(
            "the template's atom mask is (almost) empty for {pdb_id}_{chain_id}"
        )));
    }
    let mut aatype = Array2::<f32>::zeros((n, 22));
    for (i, &c) in sequence.iter().enumerate() {
        let id = if c == b'-' { Some(21) } else { hhblits_aa_to_id(c) };
        let id = id.ok_or_else(|| {
            Failure::Error(format!("{pdb_id}_{chain_id}: residue letter `{}`", char::from(c)))
        })?;
        aatype[[i, usize::from(id)]] = 1.0;
    }
    let row = TemplateRow {
        positions: row_positions,
        masks: row_masks,
        aatype,
        confidence_scores: confidence,
        scores: [0.0; 6],
        info: TemplateInfo {
            domain_name: format!("{pdb_id}_{chain_id}"),
            sequence: String::from_utf8_lossy(&sequence).into_owned(),
            release_date: String::new(),
        },
    };
    Ok((row, warning))
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
