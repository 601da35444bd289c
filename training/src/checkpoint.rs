//! Checkpoints: the weights and their moving average as safetensors under AlphaFold's names,
//! Adam's state, and a small JSON state, written so that a kill at any moment leaves the last
//! complete checkpoint usable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::{AutodiffModule, ParamId};
use burn::optim::{AdamConfig, Optimizer};
use burn::record::{BinFileRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use ferrofold_features::feature_dict::write_bytes_atomically;
use ferrofold_model::{AlphaFold, ModelConfig, ParamFile, ParamLayout};
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::error::{io, Result, TrainingError};

/// The saved state besides the tensors.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CheckpointState {
    step: usize,
    seed: u64,
    preset: String,
    consecutive_nonfinite: usize,
}

pub(crate) fn checkpoints_dir(out: &Path) -> PathBuf {
    out.join("checkpoints")
}

fn checkpoint_dir(out: &Path, step: usize) -> PathBuf {
    checkpoints_dir(out).join(format!("step_{step:08}"))
}

/// The directory of the newest complete checkpoint, if any: the one `latest` names, or, when
/// `latest` is missing or names a checkpoint that is gone, the newest `step_*` directory (each
/// is renamed into place only once complete).
pub fn latest_checkpoint(out: &Path) -> Option<PathBuf> {
    let checkpoints = checkpoints_dir(out);
    let complete = |dir: &Path| dir.join("state.json").is_file();
    if let Ok(name) = std::fs::read_to_string(checkpoints.join("latest")) {
        let dir = checkpoints.join(name.trim());
        if complete(&dir) {
            return Some(dir);
        }
        tracing::warn!(
            "{}: `latest` names {}, which is missing or incomplete; looking for the newest \
             complete checkpoint",
            checkpoints.display(),
            name.trim()
        );
    }
    let mut steps: Vec<PathBuf> = std::fs::read_dir(&checkpoints)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("step_")))
        .filter(|p| complete(p))
        .collect();
    steps.sort();
    steps.pop()
}

/// Flushes every file of `dir` to disk, so that renaming `dir` into place publishes complete
/// files even across a power loss.
fn sync_files(dir: &Path) -> Result<()> {
    for entry in io(dir, std::fs::read_dir(dir))? {
        let path = io(dir, entry)?.path();
        if path.is_file() {
            io(&path, std::fs::File::open(&path).and_then(|f| f.sync_all()))?;
        }
    }
    Ok(())
}

pub type Adam<B> = burn::optim::adaptor::OptimizerAdaptor<burn::optim::Adam, AlphaFold<B>, B>;

/// AlphaFold's optimizer: Adam, β = (0.9, 0.999), ε = 1e-6.
pub fn adam<B: AutodiffBackend>() -> Adam<B> {
    AdamConfig::new().with_epsilon(1e-6).init::<B, AlphaFold<B>>()
}

/// A checkpoint read back.
pub struct LoadedCheckpoint<B: AutodiffBackend> {
    pub model: AlphaFold<B>,
    pub layout: ParamLayout,
    pub ema: BTreeMap<ParamId, Vec<f32>>,
    pub optimizer: Adam<B>,
    pub step: usize,
    pub consecutive_nonfinite: usize,
}

/// Reads the checkpoint in `dir`, which must have been written for `preset`.
pub fn load_checkpoint<B: AutodiffBackend>(
    dir: &Path,
    preset: &str,
    model_config: &ModelConfig,
    device: &B::Device,
) -> Result<LoadedCheckpoint<B>> {
    let state: CheckpointState = {
        let path = dir.join("state.json");
        let text = io(&path, std::fs::read_to_string(&path))?;
        serde_json::from_str(&text)
            .map_err(|e| TrainingError::Checkpoint { path: path.clone(), message: e.to_string() })?
    };
    if state.preset != preset {
        return Err(TrainingError::Checkpoint {
            path: dir.to_path_buf(),
            message: format!("written for preset `{}`, not `{preset}`", state.preset),
        });
    }
    let file = ParamFile::read(&dir.join("model.safetensors"))?;
    let (model, layout) = AlphaFold::<B>::load_with_layout(&file, model_config, device)?;
    let ema_file = ParamFile::read(&dir.join("ema.safetensors"))?;
    let ema = layout.values_in(&ema_file).ok_or_else(|| TrainingError::Checkpoint {
        path: dir.join("ema.safetensors"),
        message: "does not hold every parameter of the network".into(),
    })?;
    let record = BinFileRecorder::<FullPrecisionSettings>::new()
        .load(dir.join("optimizer"), device)
        .map_err(|e| TrainingError::Checkpoint {
            path: dir.join("optimizer.bin"),
            message: e.to_string(),
        })?;
    Ok(LoadedCheckpoint {
        model,
        layout,
        ema,
        optimizer: adam::<B>().load_record(record),
        step: state.step,
        consecutive_nonfinite: state.consecutive_nonfinite,
    })
}

/// Writes the checkpoint of `step` into a temporary directory, renames it into place, then
/// points `latest` at it: a kill at any moment leaves the previous checkpoint usable.
pub(crate) fn save_checkpoint<B: AutodiffBackend>(
    config: &TrainConfig,
    model: &AlphaFold<B>,
    layout: &ParamLayout,
    ema: &BTreeMap<ParamId, Vec<f32>>,
    optimizer: &Adam<B>,
    step: usize,
    consecutive_nonfinite: usize,
) -> Result<()> {
    let dir = checkpoint_dir(&config.out, step);
    let tmp = checkpoints_dir(&config.out).join(format!(".step_{step:08}.tmp"));
    if tmp.exists() {
        io(&tmp, std::fs::remove_dir_all(&tmp))?;
    }
    io(&tmp, std::fs::create_dir_all(&tmp))?;
    layout
        .export(&model.valid(), &config.preset)
        .write_safetensors(&tmp.join("model.safetensors"))?;
    layout.export_values(ema, &config.preset).write_safetensors(&tmp.join("ema.safetensors"))?;
    BinFileRecorder::<FullPrecisionSettings>::new()
        .record(optimizer.to_record(), tmp.join("optimizer"))
        .map_err(|e| TrainingError::Checkpoint {
            path: tmp.join("optimizer.bin"),
            message: e.to_string(),
        })?;
    let state = CheckpointState {
        step,
        seed: config.seed,
        preset: config.preset.clone(),
        consecutive_nonfinite,
    };
    let state_path = tmp.join("state.json");
    io(
        &state_path,
        std::fs::write(&state_path, serde_json::to_string_pretty(&state).expect("plain data")),
    )?;
    sync_files(&tmp)?;
    if dir.exists() {
        io(&dir, std::fs::remove_dir_all(&dir))?;
    }
    io(&dir, std::fs::rename(&tmp, &dir))?;
    let latest = checkpoints_dir(&config.out).join("latest");
    let name = format!("step_{step:08}\n");
    write_bytes_atomically(&latest, name.as_bytes())?;
    // Older checkpoints beyond the newest `keep_checkpoints`.
    let mut steps: Vec<PathBuf> = io(&dir, std::fs::read_dir(checkpoints_dir(&config.out)))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("step_")))
        .collect();
    steps.sort();
    let keep = config.keep_checkpoints.max(1);
    for old in steps.iter().take(steps.len().saturating_sub(keep)) {
        io(old, std::fs::remove_dir_all(old))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete_checkpoint(out: &Path, step: usize) {
        let dir = checkpoint_dir(out, step);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("state.json"), "{}").unwrap();
    }

    #[test]
    fn a_dangling_latest_falls_back_to_the_newest_complete_checkpoint() {
        let out = tempfile::tempdir().unwrap();
        assert_eq!(latest_checkpoint(out.path()), None);
        complete_checkpoint(out.path(), 2);
        complete_checkpoint(out.path(), 3);
        // Written but never completed: no state.json.
        std::fs::create_dir_all(checkpoint_dir(out.path(), 4)).unwrap();
        let latest = checkpoints_dir(out.path()).join("latest");
        std::fs::write(&latest, "step_00000003\n").unwrap();
        assert_eq!(latest_checkpoint(out.path()), Some(checkpoint_dir(out.path(), 3)));
        // `latest` names a checkpoint that is gone (deleted, or lost to a crash).
        std::fs::write(&latest, "step_00000009\n").unwrap();
        assert_eq!(latest_checkpoint(out.path()), Some(checkpoint_dir(out.path(), 3)));
        std::fs::remove_file(&latest).unwrap();
        assert_eq!(latest_checkpoint(out.path()), Some(checkpoint_dir(out.path(), 3)));
    }
}
