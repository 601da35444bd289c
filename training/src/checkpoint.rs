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

use crate::error::{io, Result, TrainingError};
use crate::trainer::TrainConfig;

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

/// The directory of the last complete checkpoint, if any.
pub fn latest_checkpoint(out: &Path) -> Option<PathBuf> {
    let name = std::fs::read_to_string(checkpoints_dir(out).join("latest")).ok()?;
    let dir = checkpoints_dir(out).join(name.trim());
    dir.join("state.json").is_file().then_some(dir)
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
