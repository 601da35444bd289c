//! The prediction pipeline: a FASTA record and its alignments → raw features → AlphaFold's
//! processed batch → the network (one or several models) → ranked structures with confidence.
//! This module holds what single chains (`single_chain`) and complexes (`complex`) share:
//! options, progress, the memory plan, and the record's staged and published files.
//!
//! The network step is the same code as `ferrofold forward` (`AlphaFold::forward` on a
//! `FeatureBatch`): saving the batch (`save_features`) and running `forward` on it gives the
//! same numbers.

use std::path::{Path, PathBuf};

use burn::prelude::Backend;
use ferrofold_features::protein::Protein;
use ferrofold_features::templates::TemplateConfig;
use ferrofold_model::config::AttentionKernel;
use ferrofold_model::heads::multimer_ranking_confidence;
use ferrofold_model::kernels;
use ferrofold_model::largest_tensor::largest_tensor;
use ferrofold_model::primitives::attention::fused_attention_available;
use ferrofold_model::{ModelConfig, Prediction};
use ndarray::{Array1, Axis};

use crate::error::{InferenceError, MemoryRefusal, Result};
use crate::memory::{self, ProblemSize, CHUNK_LADDER};
use crate::models::{LoadedParams, ModelSpec};
use crate::record_files::write_record;
pub use crate::record_files::{ModelResult, RecordResult};

/// Options shared by every record.
#[derive(Debug, Clone)]
pub struct PredictOptions {
    pub models: Vec<ModelSpec>,
    /// Recycling iterations after the first; `None`: the preset's (3; AlphaFold-Multimer 20,
    /// stopping early once the structure settles).
    pub num_recycle: Option<usize>,
    pub seed: u64,
    /// Row chunk size; `None` with `key_chunk_size` `None`: chosen from the memory estimate.
    pub chunk_size: Option<usize>,
    pub key_chunk_size: Option<usize>,
    /// Attention's implementation (the fused kernel where the backend has one).
    pub attention: AttentionKernel,
    /// Write each model's processed batch as `features_<model>.npz`.
    pub save_features: bool,
    /// Draw `plddt.png` and `pae.png`.
    pub plots: bool,
    /// Memory the estimate is checked against (default: what the machine has available).
    pub memory_limit: Option<u64>,
    /// How templates are found from a record's hits (`RecordInputs::template_hits`).
    pub templates: Option<TemplateConfig>,
    /// Parameter files kept after their first reading, for runs over many records (each file
    /// is then read once); `None`: read for every record.
    pub loaded: Option<LoadedParams>,
}

/// A record's inputs besides its sequence.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordInputs<'a> {
    /// Alignment files (none: single-sequence mode).
    pub alignments: &'a [PathBuf],
    /// hhsearch hits (`.hhr`) for templates; needs `PredictOptions::templates`.
    pub template_hits: Option<&'a Path>,
}

impl Default for PredictOptions {
    fn default() -> Self {
        Self {
            models: vec![ModelSpec::bundled()],
            num_recycle: None,
            seed: 0,
            chunk_size: None,
            key_chunk_size: None,
            attention: AttentionKernel::Fused,
            save_features: false,
            plots: true,
            memory_limit: None,
            templates: None,
            loaded: None,
        }
    }
}

/// What happens, for progress displays.
#[derive(Debug, Clone)]
pub enum Progress<'a> {
    Featurized {
        residues: usize,
        msa_rows: usize,
        templates: usize,
    },
    /// A model starts, with the peak memory its run was estimated to need.
    ModelStarted {
        model: &'a str,
        iterations: usize,
        estimated_peak_bytes: u64,
    },
    Recycle {
        model: &'a str,
        iteration: usize,
    },
    ModelFinished {
        model: &'a str,
        seconds: f64,
    },
    Written {
        path: &'a Path,
    },
}

/// What the backend tells about memory: whether attention runs as the fused kernel, the
/// device's total memory where the backend reports it (CUDA; otherwise the host's is used), and
/// its largest single allocation (GPUs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeviceMemory {
    fused_attention: bool,
    total_bytes: Option<u64>,
    largest_buffer: Option<u64>,
}

impl DeviceMemory {
    pub(crate) fn of<B: Backend>(config: &ModelConfig, device: &B::Device) -> Self {
        Self {
            fused_attention: config.attention_kernel == AttentionKernel::Fused
                && fused_attention_available::<B>(),
            total_bytes: kernels::device_memory_bytes::<B>(device),
            largest_buffer: kernels::largest_buffer_bytes::<B>(device),
        }
    }
}

/// Picks chunk sizes (the user's, or the fastest that fits) and refuses a problem that fits
/// under none; returns the estimate of the chosen setting.
pub(crate) fn plan_memory(
    id: &str,
    size: ProblemSize,
    config: &mut ModelConfig,
    parameters: usize,
    options: &PredictOptions,
    device: DeviceMemory,
) -> Result<u64> {
    let available = options.memory_limit.or(device.total_bytes).or_else(memory::available_bytes);
    let fixed = options.chunk_size.is_some() || options.key_chunk_size.is_some();
    let ladder: Vec<_> = if fixed {
        vec![(options.chunk_size, options.key_chunk_size)]
    } else {
        CHUNK_LADDER.to_vec()
    };
    let mut last_estimate = 0;
    for &(rows, keys) in &ladder {
        config.chunk_size = rows;
        config.key_chunk_size = keys;
        // On a GPU every tensor must fit the device's largest buffer (a larger one would be
        // garbage, not an error); no chunk size shrinks the representations themselves.
        if let Some(limit) = device.largest_buffer {
            let largest = largest_tensor(size.tensor_sizes(config), config, device.fused_attention);
            if largest.bytes > limit {
                let last = (rows, keys) == *ladder.last().expect("not empty");
                if largest.chunkable && !last {
                    continue;
                }
                return Err(InferenceError::BufferTooLarge {
                    record: id.to_string(),
                    what: largest.what,
                    needed: memory::human_bytes(largest.bytes),
                    limit: memory::human_bytes(limit),
                    advice: if largest.chunkable && fixed {
                        "try smaller --chunk-size / --key-chunk-size"
                    } else {
                        "use a shorter sequence, fewer MSA rows, --device cpu, or a GPU whose \
                         driver allows larger buffers (64-bit indexing)"
                    },
                });
            }
        }
        last_estimate =
            memory::estimate_peak_bytes(size, config, parameters, device.fused_attention);
        match available {
            Some(bytes) if last_estimate > bytes => continue,
            _ => {
                tracing::info!(
                    "{id}: estimated peak memory {} with {}",
                    memory::human_bytes(last_estimate),
                    memory::describe((rows, keys))
                );
                return Ok(last_estimate);
            }
        }
    }
    let available = available.unwrap_or(0);
    let smallest = *CHUNK_LADDER.last().expect("ladder is not empty");
    let advice = if fixed {
        "try smaller --chunk-size / --key-chunk-size (e.g. 1 and 32), fewer MSA rows, or a machine \
         with more memory"
            .to_string()
    } else {
        format!(
            "even {} does not fit: use a machine with more memory or split the sequence",
            memory::describe(smallest)
        )
    };
    Err(InferenceError::TooLarge(Box::new(MemoryRefusal {
        record: id.to_string(),
        residues: size.residues,
        needed: memory::human_bytes(last_estimate),
        available: memory::human_bytes(available),
        setting: memory::describe(*ladder.last().expect("not empty")),
        advice,
    })))
}

/// A record whose models have run: its files go to `staging`, then replace `out_dir/<id>/`.
pub(crate) struct WrittenRecord {
    pub id: String,
    pub staging: tempfile::TempDir,
    pub featurize_seconds: f64,
}

impl WrittenRecord {
    /// Everything is written into a hidden staging directory in `out_dir` that replaces the
    /// record's directory as a whole at the end: no file of an earlier run survives beside the
    /// new ones, and a refusal or a kill leaves no half-written record.
    pub(crate) fn stage(out_dir: &Path, id: &str, featurize_seconds: f64) -> Result<Self> {
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{id}.partial."))
            .tempdir_in(out_dir)
            .map_err(|e| InferenceError::output(out_dir, e))?;
        Ok(Self { id: id.to_string(), staging, featurize_seconds })
    }

    /// Ranks the models' results, writes the record's files and publishes them, reporting each.
    pub(crate) fn finish(
        self,
        out_dir: &Path,
        mut results: Vec<ModelResult>,
        options: &PredictOptions,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<RecordResult> {
        results.sort_by(|a, b| b.ranking_confidence.total_cmp(&a.ranking_confidence));
        let dir = out_dir.join(&self.id);
        let result = RecordResult { id: self.id, dir, ranked: results };
        write_record(&result, self.staging.path(), options.plots, self.featurize_seconds)?;
        publish(self.staging, &result.dir)?;
        let mut written: Vec<PathBuf> = std::fs::read_dir(&result.dir)
            .map_err(|e| InferenceError::output(&result.dir, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.is_file())
            .collect();
        written.sort();
        for path in &written {
            progress(Progress::Written { path });
        }
        Ok(result)
    }
}

/// Holds `out_dir/.<id>.lock` locked while a run writes record `id`; a second run on the same
/// record is refused instead of interleaving its files. The lock is the kernel's (`flock`): it
/// is released when the process ends, so a killed run leaves no stale lock behind.
pub(crate) fn lock_record(out_dir: &Path, id: &str) -> Result<std::fs::File> {
    let path = out_dir.join(format!(".{id}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| InferenceError::output(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(InferenceError::Input {
            origin: out_dir.join(id).display().to_string(),
            message: "another ferrofold run is writing this record now; wait for it or use \
                      another --out-dir"
                .into(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(InferenceError::output(&path, e)),
    }
}

/// Replaces `dir` with the staging directory, keeping the alignments an MSA search stored in
/// `dir/msas/` (they are the record's inputs, and a cache). On a failure the earlier record is
/// put back as it was.
fn publish(staging: tempfile::TempDir, dir: &Path) -> Result<()> {
    let fail = |e: std::io::Error| InferenceError::output(dir, e);
    let (msas, staged_msas) = (dir.join("msas"), staging.path().join("msas"));
    let moved_msas = msas.is_dir();
    if moved_msas {
        std::fs::rename(&msas, &staged_msas).map_err(fail)?;
    }
    let swapped = if dir.exists() {
        // Moved aside first, so that the record's name never points at a mixture.
        let parent = dir.parent().unwrap_or(Path::new("."));
        let old = tempfile::Builder::new().prefix(".replaced.").tempdir_in(parent).map_err(fail)?;
        let aside = old.path().join("record");
        std::fs::rename(dir, &aside).and_then(|()| {
            std::fs::rename(staging.path(), dir).inspect_err(|_| {
                let _ = std::fs::rename(&aside, dir);
            })
        })
    } else {
        std::fs::rename(staging.path(), dir)
    };
    match swapped {
        Ok(()) => {
            // Now the record itself: nothing left to remove.
            let _ = staging.keep();
            Ok(())
        }
        Err(e) => {
            if moved_msas {
                let _ = std::fs::rename(&staged_msas, &msas);
            }
            Err(fail(e))
        }
    }
}

/// One model's result: `prediction` cut into `chains` (id and sequence, in order).
pub(crate) fn model_result(
    spec: &ModelSpec,
    prediction: Prediction,
    chains: &[(&str, &str)],
    iptm: Option<f64>,
    seconds: f64,
) -> ModelResult {
    let Prediction { atom_positions, atom_mask, plddt, aligned_error } = prediction;
    let b_factors = &atom_mask * &plddt.clone().insert_axis(Axis(1));
    let mut start = 0;
    let chains = chains
        .iter()
        .map(|(id, sequence)| {
            let residues = sequence.len();
            let range = ndarray::s![start..start + residues, ..];
            let aatype: Array1<i32> = sequence
                .bytes()
                .map(|c| ferrofold_features::residue_constants::restype_order_with_x(c) as i32)
                .collect();
            let protein = Protein {
                chain_id: id.to_string(),
                atom_positions: atom_positions
                    .slice(ndarray::s![start..start + residues, .., ..])
                    .to_owned(),
                atom_mask: atom_mask.slice(range).to_owned(),
                aatype,
                residue_index: (1..=residues as i32).collect(),
                insertion_codes: vec![None; residues],
                b_factors: b_factors.slice(range).to_owned(),
            };
            start += residues;
            protein
        })
        .collect();
    let mean_plddt = plddt.mean().unwrap_or(0.0);
    let ptm = aligned_error.as_ref().map(|a| a.ptm);
    let ranking_confidence = match (iptm, ptm) {
        (Some(iptm), Some(ptm)) => multimer_ranking_confidence(ptm, iptm),
        _ => ptm.unwrap_or(mean_plddt / 100.0),
    };
    ModelResult {
        model: spec.name.clone(),
        preset: spec.preset.clone(),
        bundled: spec.is_bundled(),
        weights: spec.weights.origin(),
        mean_plddt,
        ptm,
        iptm,
        ranking_confidence,
        plddt: plddt.to_vec(),
        max_predicted_aligned_error: aligned_error.as_ref().map(|a| a.max_predicted_aligned_error),
        predicted_aligned_error: aligned_error.map(|a| a.predicted_aligned_error),
        chains,
        seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(fused_attention: bool) -> DeviceMemory {
        DeviceMemory {
            fused_attention,
            total_bytes: Some(1 << 40),
            largest_buffer: Some(128 << 20),
        }
    }

    /// On a device whose buffers hold 128 MiB (lavapipe), 512 residues with 128 MSA and 256
    /// extra rows, `model_3_ptm` (no templates): burn's attention needs row chunks of 16 (its
    /// extra-MSA row-attention scores, 8 heads × 512², are 8 MiB per row), the kernel none (the
    /// outer product mean and the transitions go in 8 MiB tiles of rows whatever the chunking).
    #[test]
    fn chunks_are_chosen_so_that_every_tensor_fits_the_largest_buffer() {
        let size = ProblemSize { residues: 512, msa_rows: 128, extra_rows: 256 };
        let options = PredictOptions::default();
        for (fused, chunks) in [(false, (Some(16), Some(512))), (true, (None, None))] {
            let mut config = ModelConfig::preset("model_3_ptm").unwrap();
            plan_memory("x", size, &mut config, 93_200_000, &options, gpu(fused)).unwrap();
            assert_eq!((config.chunk_size, config.key_chunk_size), chunks, "fused {fused}");
        }
        // The same setting chosen by hand is refused with burn's attention, naming the tensor.
        let fixed = PredictOptions { chunk_size: Some(64), ..PredictOptions::default() };
        let mut config = ModelConfig::preset("model_3_ptm").unwrap();
        let refusal = plan_memory("x", size, &mut config, 93_200_000, &fixed, gpu(false));
        let message = refusal.unwrap_err().to_string();
        assert!(
            message.contains("extra-MSA row attention's scores would take 512 MiB"),
            "{message}"
        );
        assert!(message.contains("try smaller --chunk-size"), "{message}");
        // No chunk size shrinks the template pair features of model_1_ptm's four templates
        // (4 × 512² × 88 floats).
        let mut config = ModelConfig::preset("model_1_ptm").unwrap();
        let refusal = plan_memory("x", size, &mut config, 93_200_000, &options, gpu(true));
        let message = refusal.unwrap_err().to_string();
        assert!(message.contains("the template pair features would take 352 MiB"), "{message}");
        assert!(message.contains("--device cpu"), "{message}");
    }
}
