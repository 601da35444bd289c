//! From files to raw features: one query with its alignments (and template hits), or many
//! queries in parallel.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{FeaturesError, Result};
use crate::feature_dict::FeatureDict;
use crate::msa::Msa;
use crate::parsers::fasta::FastaRecord;
use crate::parsers::{a3m, clustal, stockholm};
use crate::raw_features::make_monomer_raw_features;
use crate::templates::{add_template_features, TemplateConfig};

/// Alignment file formats, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlignmentFormat {
    A3m,
    Stockholm,
    Clustal,
}

impl AlignmentFormat {
    /// `.a3m`; `.sto`/`.stockholm`; `.aln`/`.clustal`.
    pub fn from_path(path: &Path) -> Result<Self> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        match ext.as_str() {
            "a3m" => Ok(Self::A3m),
            "sto" | "stockholm" => Ok(Self::Stockholm),
            "aln" | "clustal" => Ok(Self::Clustal),
            _ => Err(FeaturesError::InvalidInput(format!(
                "{}: unknown alignment format `.{ext}` (expected .a3m, .sto or .aln)",
                path.display()
            ))),
        }
    }
}

/// Reads an alignment, its format chosen by extension.
pub fn read_alignment(path: &Path) -> Result<Msa> {
    match AlignmentFormat::from_path(path)? {
        AlignmentFormat::A3m => a3m::parse_a3m_file(path),
        AlignmentFormat::Stockholm => stockholm::parse_stockholm_file(path),
        AlignmentFormat::Clustal => clustal::parse_clustal_file(path),
    }
}

/// Raw features of one query from its alignment files (none: single-sequence mode). Each
/// alignment's query row must be the query sequence.
pub fn featurize_query(record: &FastaRecord, alignments: &[PathBuf]) -> Result<FeatureDict> {
    if record.is_complex() {
        return Err(FeaturesError::InvalidInput(format!(
            "`{}` is a complex of {} chains (separated by `:`); these features are of one chain",
            record.description,
            record.chains().len()
        )));
    }
    let query = format!("the query `{}`", record.description);
    let msas = alignments
        .iter()
        .map(|path| read_query_alignment(path, &record.sequence, &query))
        .collect::<Result<Vec<_>>>()?;
    make_monomer_raw_features(&record.sequence, &record.description, &msas)
}

/// The alignment at `path`, refused unless its first row is `sequence` (gaps removed): an
/// alignment of another protein would silently become this one's. `query` names the sequence in
/// the error (`the query `x``, `chain B of `x``).
pub fn read_query_alignment(path: &Path, sequence: &str, query: &str) -> Result<Msa> {
    let msa = read_alignment(path)?;
    let aligned_query = msa.sequences.first().map(|q| q.replace('-', "")).unwrap_or_default();
    if aligned_query != sequence {
        return Err(FeaturesError::InvalidInput(format!(
            "{}: the alignment's first sequence ({} residues) is not {query} ({} residues)",
            path.display(),
            aligned_query.len(),
            sequence.len()
        )));
    }
    Ok(msa)
}

/// The identifier of a record: the first word of its description, made safe as a file name.
pub fn record_id(record: &FastaRecord) -> String {
    safe_file_stem(record.description.split_whitespace().next().unwrap_or(""))
}

/// The identifier ([`record_id`]) of every record, refused when two records share one (`>a x`
/// and `>a y`, or `>a/b` and `>a_b`): their outputs would silently overwrite each other.
/// The error names both records by header and line; the caller names the file.
pub fn unique_record_ids(records: &[FastaRecord]) -> Result<Vec<String>> {
    let mut seen: std::collections::HashMap<String, &FastaRecord> = Default::default();
    let mut ids = Vec::with_capacity(records.len());
    for record in records {
        let id = record_id(record);
        if let Some(first) = seen.insert(id.clone(), record) {
            return Err(FeaturesError::InvalidInput(format!(
                "records `{}` (line {}) and `{}` (line {}) would both be written as \
                 `{id}`; give each record its own identifier (the first word of its header)",
                first.description, first.line, record.description, record.line
            )));
        }
        ids.push(id);
    }
    Ok(ids)
}

/// `text` as a file stem: ASCII letters, digits, `-`, `_` and `.` kept, other characters
/// replaced by `_`, leading dots dropped (no hidden files, no `..`); `query` if nothing is left.
pub fn safe_file_stem(text: &str) -> String {
    let stem: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
        .collect();
    match stem.trim_start_matches('.') {
        "" => "query".into(),
        rest => rest.to_string(),
    }
}

/// Alignments for `id` in `dir`: files named `<id>.a3m`, `<id>.sto`, `<id>.aln` (in that order).
pub fn alignments_in_dir(dir: &Path, id: &str) -> Vec<PathBuf> {
    ["a3m", "sto", "aln"]
        .iter()
        .map(|ext| dir.join(format!("{id}.{ext}")))
        .filter(|p| p.is_file())
        .collect()
}

/// Template hits for many records: `<dir>/<id>.hhr` each (records without one get none).
pub struct TemplateHitsDir<'a> {
    pub dir: &'a Path,
    pub config: &'a TemplateConfig,
}

/// Featurizes many records in parallel (rayon), each with the alignments found for it in
/// `alignment_dir` (and the templates of its `.hhr`, if given), writing `<output_dir>/<id>.npz`.
/// Returns one result per record, in order, so that one bad record does not stop the others;
/// records that would share an output file are refused before any work.
pub fn featurize_many(
    records: &[FastaRecord],
    alignment_dir: Option<&Path>,
    templates: Option<&TemplateHitsDir>,
    output_dir: &Path,
    on_done: impl Fn() + Sync,
) -> Result<Vec<(String, Result<PathBuf>)>> {
    let ids = unique_record_ids(records)?;
    Ok(records
        .par_iter()
        .zip(ids)
        .map(|(record, id)| {
            let alignments = alignment_dir.map(|d| alignments_in_dir(d, &id)).unwrap_or_default();
            let out = output_dir.join(format!("{id}.npz"));
            let hits = templates
                .map(|t| (t.dir.join(format!("{id}.hhr")), t.config))
                .filter(|(path, _)| path.is_file());
            let result = featurize_query(record, &alignments)
                .and_then(|mut features| {
                    if let Some((path, config)) = &hits {
                        add_template_features(&mut features, &record.sequence, path, config)?;
                    }
                    Ok(features)
                })
                .and_then(|features| features.save_npz(&out))
                .map(|()| out);
            on_done();
            (id, result)
        })
        .collect())
}
