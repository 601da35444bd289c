//! `predict` over every record of an input: the records read and checked, each record's
//! alignments and template hits found (given files, per-record directories, or a search), then
//! [`predict_record`] one record after another. A record that fails is reported and counted and
//! the others go on; a write failure (a full disk, a read-only directory) stops the run, since
//! every later record would fail the same way.

use std::path::{Path, PathBuf};

use burn::prelude::Backend;
use ferrofold_features::featurize::{alignments_in_dir, record_id, unique_record_ids};
use ferrofold_features::parsers::fasta::{
    chain_id, parse_fasta_file, FastaRecord, CHAIN_SEPARATOR,
};
use ferrofold_features::tools::RunOptions;

use crate::complex::{predict_complex, ChainInputs};
use crate::error::{InferenceError, Result};
use crate::models::LoadedParams;
use crate::msa_server::MsaServer;
use crate::predict::{PredictOptions, Progress, RecordInputs, RecordResult};
use crate::search::{search_alignments, search_templates, MsaTool};
use crate::single_chain::predict_record;

/// Where each record's alignments come from.
#[derive(Debug, Clone)]
pub enum AlignmentSource {
    /// None: single-sequence mode, asked for.
    SingleSequence,
    /// These files (for an input of one record; none: single-sequence mode, with a warning).
    Files(Vec<PathBuf>),
    /// `<id>.a3m|.sto|.aln` in a directory (ColabFold's layout).
    Directory(PathBuf),
    /// A search of each record against every database.
    Search { tool: MsaTool, databases: Vec<PathBuf> },
    /// A search of each record by an MMseqs2 server (ColabFold's API).
    Server(MsaServer),
}

/// Where each record's template hits (`.hhr`) come from.
#[derive(Debug, Clone)]
pub enum TemplateSource {
    None,
    /// This file (for an input of one record).
    File(PathBuf),
    /// `<id>.hhr` in a directory; records without one get no templates.
    Directory(PathBuf),
    /// hhsearch of each record's first alignment in this database.
    Search {
        database: PathBuf,
    },
}

impl TemplateSource {
    /// The hits file of record `id`, where it is given (a file, or `<id>.hhr` in the
    /// directory); `None` for a search or none.
    pub fn given_hits(&self, id: &str) -> Option<PathBuf> {
        match self {
            TemplateSource::File(path) => Some(path.clone()),
            TemplateSource::Directory(dir) => {
                Some(dir.join(format!("{id}.hhr"))).filter(|p| p.is_file())
            }
            TemplateSource::None | TemplateSource::Search { .. } => None,
        }
    }
}

/// A prediction run over many records.
#[derive(Debug, Clone)]
pub struct PredictRun {
    /// The FASTA file or directory the records came from (it names them in messages).
    pub input: PathBuf,
    pub out_dir: PathBuf,
    pub alignments: AlignmentSource,
    pub templates: TemplateSource,
    /// How the search tools run.
    pub search: RunOptions,
    pub options: PredictOptions,
}

/// What happens during a run, for progress and messages.
pub enum RunEvent<'a> {
    /// Progress of the record being predicted.
    Record { id: &'a str, progress: Progress<'a> },
    /// A record was predicted and written.
    Predicted(&'a RecordResult),
    /// A record failed; the run goes on. `origin`: file, line and header of the record.
    Failed { origin: String, error: &'a InferenceError },
}

/// How many records a run predicted and how many failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    pub records: usize,
    pub failures: usize,
}

/// `search(k)` for each chain `k` whose sequence comes first in `chains`; a later copy of a
/// sequence (a homomer's) gets its first copy's result.
fn per_distinct_chain<T: Clone>(
    chains: &[&str],
    mut search: impl FnMut(usize) -> Result<T>,
) -> Result<Vec<T>> {
    let mut per_chain: Vec<T> = Vec::with_capacity(chains.len());
    for (k, sequence) in chains.iter().enumerate() {
        let found = match chains[..k].iter().position(|other| other == sequence) {
            Some(copy) => per_chain[copy].clone(),
            None => search(k)?,
        };
        per_chain.push(found);
    }
    Ok(per_chain)
}

/// The records of a FASTA file, or of every `.fasta`/`.fa`/`.faa` file of a directory (in
/// name order); refused when two would write the same record directory. `complex`: each file's
/// records are the chains of one complex, a record named after the file.
pub fn read_records(input: &Path, complex: bool) -> Result<Vec<FastaRecord>> {
    let files = if input.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(input)
            .map_err(|e| InferenceError::io(input, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(p.extension().and_then(|e| e.to_str()), Some("fasta" | "fa" | "faa"))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(InferenceError::Input {
                origin: input.display().to_string(),
                message: "no .fasta, .fa or .faa file in the directory".into(),
            });
        }
        files
    } else {
        vec![input.to_path_buf()]
    };
    let mut records = Vec::new();
    for file in files {
        let parsed = parse_fasta_file(&file)?;
        if complex {
            let name = file.file_stem().map_or("complex".into(), |s| s.to_string_lossy());
            records.push(FastaRecord {
                description: name.to_string(),
                sequence: parsed
                    .iter()
                    .map(|r| r.sequence.as_str())
                    .collect::<Vec<_>>()
                    .join(&CHAIN_SEPARATOR.to_string()),
                line: parsed[0].line,
            });
        } else {
            records.extend(parsed);
        }
    }
    unique_record_ids(&records).map_err(|e| InferenceError::Input {
        origin: input.display().to_string(),
        message: e.to_string(),
    })?;
    Ok(records)
}

impl PredictRun {
    /// Refuses inputs meant for one record when there are several.
    fn check(&self, records: &[FastaRecord]) -> Result<()> {
        let single = |what: &str, instead: &str| {
            if records.len() > 1 {
                return Err(InferenceError::Input {
                    origin: self.input.display().to_string(),
                    message: format!(
                        "{what} is for a single record, but the input has {} records; use \
                         {instead}",
                        records.len()
                    ),
                });
            }
            Ok(())
        };
        if matches!(&self.alignments, AlignmentSource::Files(files) if !files.is_empty()) {
            single("--msa", "--msa-dir")?;
        }
        if matches!(self.templates, TemplateSource::File(_)) {
            single("--template-hits", "--template-dir")?;
        }
        Ok(())
    }

    /// The record's alignments.
    fn alignments(&self, record: &FastaRecord, id: &str) -> Result<Vec<PathBuf>> {
        Ok(match &self.alignments {
            AlignmentSource::SingleSequence => vec![],
            AlignmentSource::Files(files) => {
                if files.is_empty() {
                    tracing::warn!(
                        "{id}: no MSA given; single-sequence mode (expect low accuracy)"
                    );
                }
                files.clone()
            }
            AlignmentSource::Directory(dir) => {
                let found = alignments_in_dir(dir, id);
                if found.is_empty() {
                    tracing::warn!("{id}: no alignment in {}; single-sequence mode", dir.display());
                }
                found
            }
            AlignmentSource::Search { tool, databases } => {
                self.search_alignments(&record.sequence, *tool, databases, &self.msas(id, None))?
            }
            AlignmentSource::Server(server) => vec![server.alignment(
                &record.sequence,
                self.search.cache_dir.as_deref(),
                &self.out_dir.join(id),
            )?],
        })
    }

    /// Where the searches of record `id` (or of one of its chains) keep their results.
    fn msas(&self, id: &str, chain: Option<usize>) -> PathBuf {
        let msas = self.out_dir.join(id).join("msas");
        match chain {
            Some(k) => msas.join(chain_id(k).to_string()),
            None => msas,
        }
    }

    fn search_alignments(
        &self,
        sequence: &str,
        tool: MsaTool,
        databases: &[PathBuf],
        msas: &Path,
    ) -> Result<Vec<PathBuf>> {
        search_alignments(sequence, tool, databases, &self.search, msas)
            .map_err(|e| InferenceError::Search { what: "MSA search", source: Box::new(e) })
    }

    fn search_templates(
        &self,
        sequence: &str,
        alignments: &[PathBuf],
        database: &Path,
        msas: &Path,
    ) -> Result<PathBuf> {
        search_templates(sequence, alignments, database, &self.search, msas)
            .map_err(|e| InferenceError::Search { what: "template search", source: Box::new(e) })
    }

    /// Each chain's alignments, for AlphaFold-Multimer: `<id>_<chain>.a3m|.sto|.aln` in an
    /// alignment directory, or a search per distinct chain sequence (a homomer's copies share
    /// the first copy's; a single chain: as for a monomer).
    fn chain_alignments(&self, record: &FastaRecord, id: &str) -> Result<Vec<Vec<PathBuf>>> {
        let chains = record.chains();
        if chains.len() == 1 {
            return Ok(vec![self.alignments(record, id)?]);
        }
        let refuse = |message: String| InferenceError::Input { origin: id.to_string(), message };
        match &self.alignments {
            AlignmentSource::SingleSequence => Ok(vec![Vec::new(); chains.len()]),
            AlignmentSource::Files(files) if files.is_empty() => {
                tracing::warn!("{id}: no MSA given; single-sequence mode (expect low accuracy)");
                Ok(vec![Vec::new(); chains.len()])
            }
            AlignmentSource::Files(_) => Err(refuse(
                "--msa is for a single chain; give a complex's alignments per chain as \
                 --msa-dir DIR with DIR/<id>_A.a3m, DIR/<id>_B.a3m, …"
                    .into(),
            )),
            AlignmentSource::Directory(dir) => {
                let per_chain: Vec<Vec<PathBuf>> = (0..chains.len())
                    .map(|k| alignments_in_dir(dir, &format!("{id}_{}", chain_id(k))))
                    .collect();
                let whole = alignments_in_dir(dir, id);
                if per_chain.iter().all(Vec::is_empty) && !whole.is_empty() {
                    return Err(refuse(format!(
                        "{} is one alignment, but a complex needs one per chain: {}",
                        whole[0].display(),
                        (0..chains.len())
                            .map(|k| format!("{id}_{}.a3m", chain_id(k)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                for (k, found) in per_chain.iter().enumerate() {
                    if found.is_empty() {
                        tracing::warn!(
                            "{id}: no alignment {id}_{}.a3m in {}; chain {} in single-sequence \
                             mode",
                            chain_id(k),
                            dir.display(),
                            chain_id(k)
                        );
                    }
                }
                Ok(per_chain)
            }
            AlignmentSource::Search { tool, databases } => per_distinct_chain(&chains, |k| {
                self.search_alignments(chains[k], *tool, databases, &self.msas(id, Some(k)))
            }),
            // The server's alignments name UniRef100 clusters, not species, so AlphaFold's
            // pairing cannot read them; ColabFold pairs through a separate endpoint.
            AlignmentSource::Server(_) => Err(refuse(
                "the MSA server's alignments cannot be paired across chains yet: use \
                 --msa-tool with local databases, or pass each chain's alignment as \
                 --msa-dir DIR/<id>_A.a3m, …"
                    .into(),
            )),
        }
    }

    /// Each chain's template hits, for AlphaFold-Multimer: `<id>_<chain>.hhr` in a template
    /// directory (a single chain: as for a monomer).
    fn chain_template_hits(
        &self,
        record: &FastaRecord,
        id: &str,
        alignments: &[Vec<PathBuf>],
    ) -> Result<Vec<Option<PathBuf>>> {
        let chains = record.chains().len();
        if chains == 1 {
            return Ok(vec![self.template_hits(record, id, &alignments[0])?]);
        }
        let refuse = |message: &str| InferenceError::Input {
            origin: id.to_string(),
            message: format!(
                "{message}; give a complex's hits per chain as --template-dir DIR with \
                 DIR/<id>_A.hhr, DIR/<id>_B.hhr, …"
            ),
        };
        match &self.templates {
            TemplateSource::None => Ok(vec![None; chains]),
            TemplateSource::Directory(dir) => Ok((0..chains)
                .map(|k| {
                    Some(dir.join(format!("{id}_{}.hhr", chain_id(k)))).filter(|p| p.is_file())
                })
                .collect()),
            TemplateSource::File(_) => Err(refuse("--template-hits is for a single chain")),
            // Each chain's hits from its own alignment, as AlphaFold-Multimer's pipeline searches
            // them; a homomer's copies share the first copy's.
            TemplateSource::Search { database } => {
                let sequences = record.chains();
                per_distinct_chain(&sequences, |k| {
                    let msas = self.msas(id, Some(k));
                    Ok(Some(self.search_templates(
                        sequences[k],
                        &alignments[k],
                        database,
                        &msas,
                    )?))
                })
            }
        }
    }

    /// The record's template hits, if any.
    fn template_hits(
        &self,
        record: &FastaRecord,
        id: &str,
        alignments: &[PathBuf],
    ) -> Result<Option<PathBuf>> {
        Ok(match &self.templates {
            TemplateSource::Search { database } => Some(self.search_templates(
                &record.sequence,
                alignments,
                database,
                &self.msas(id, None),
            )?),
            given => given.given_hits(id),
        })
    }

    /// Whether the models are AlphaFold-Multimer's (every record then runs as a complex, of one
    /// chain or more); a run mixing both kinds is refused.
    fn multimer_models(&self) -> Result<bool> {
        let mut kinds = Vec::new();
        for spec in &self.options.models {
            kinds.push(ferrofold_model::ModelConfig::preset(&spec.preset)?.multimer.is_some());
        }
        if kinds.contains(&true) && kinds.contains(&false) {
            return Err(InferenceError::Input {
                origin: self.input.display().to_string(),
                message: "the models mix single-chain (AlphaFold2) and complex \
                          (AlphaFold-Multimer) presets; run them separately"
                    .into(),
            });
        }
        Ok(kinds.contains(&true))
    }

    /// Predicts every record on `device`, reporting through `events`.
    pub fn run<B: Backend>(
        &self,
        device: &B::Device,
        records: &[FastaRecord],
        events: &mut dyn FnMut(RunEvent),
    ) -> Result<RunSummary> {
        self.check(records)?;
        std::fs::create_dir_all(&self.out_dir)
            .map_err(|e| InferenceError::output(&self.out_dir, e))?;
        let mut failures = 0;
        // Over several records, each parameter file is read once.
        let mut options = self.options.clone();
        if records.len() > 1 && options.loaded.is_none() {
            options.loaded = Some(LoadedParams::default());
        }
        let multimer_models = self.multimer_models()?;
        for (index, record) in records.iter().enumerate() {
            let id = record_id(record);
            let mut progress = |progress: Progress| events(RunEvent::Record { id: &id, progress });
            let result = if record.is_complex() || multimer_models {
                self.chain_alignments(record, &id).and_then(|alignments| {
                    let hits = self.chain_template_hits(record, &id, &alignments)?;
                    let inputs = ChainInputs { alignments: &alignments, template_hits: &hits };
                    predict_complex::<B>(
                        device,
                        record,
                        &inputs,
                        &options,
                        &self.out_dir,
                        &mut progress,
                    )
                })
            } else {
                self.alignments(record, &id).and_then(|alignments| {
                    let hits = self.template_hits(record, &id, &alignments)?;
                    let inputs =
                        RecordInputs { alignments: &alignments, template_hits: hits.as_deref() };
                    predict_record::<B>(
                        device,
                        record,
                        &inputs,
                        &options,
                        &self.out_dir,
                        &mut progress,
                    )
                })
            };
            match result {
                Ok(result) => events(RunEvent::Predicted(&result)),
                Err(error @ InferenceError::Output { .. }) => {
                    return Err(InferenceError::Stopped {
                        error: Box::new(error),
                        remaining: records.len() - index,
                        records: records.len(),
                    })
                }
                Err(error) => {
                    failures += 1;
                    let origin = format!(
                        "{}:{} ({})",
                        self.input.display(),
                        record.line,
                        record.description
                    );
                    events(RunEvent::Failed { origin, error: &error });
                }
            }
        }
        Ok(RunSummary { records: records.len(), failures })
    }
}
