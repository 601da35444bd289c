//! The networks a prediction runs: which parameters (a file or the bundled model), and
//! loading them, each file read once over a run of many records.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use burn::prelude::Backend;
use ferrofold_model::{AlphaFold, ModelConfig, ParamFile};

use crate::bundled;
use crate::error::Result;

/// Where a model's parameters come from.
#[derive(Debug, Clone)]
pub enum Weights {
    /// DeepMind `.npz` or ferrofold `.safetensors`.
    File(PathBuf),
    /// The bundled model (`crate::bundled`).
    Bundled,
}

impl Weights {
    /// Where the parameters came from, for outputs: the file, or `bundled`.
    pub fn origin(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Bundled => "bundled".into(),
        }
    }
}

/// One network to run.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// Name in outputs and rankings.
    pub name: String,
    pub preset: String,
    pub weights: Weights,
}

impl ModelSpec {
    pub fn bundled() -> Self {
        Self {
            name: bundled::NAME.into(),
            preset: bundled::PRESET.into(),
            weights: Weights::Bundled,
        }
    }

    pub fn is_bundled(&self) -> bool {
        matches!(self.weights, Weights::Bundled)
    }
}

/// Parameter files read so far, by path, shared by the records of a run.
#[derive(Debug, Clone, Default)]
pub struct LoadedParams(Arc<Mutex<BTreeMap<PathBuf, Arc<ParamFile>>>>);

impl LoadedParams {
    fn read(&self, path: &Path) -> Result<Arc<ParamFile>> {
        let mut files = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(file) = files.get(path) {
            return Ok(Arc::clone(file));
        }
        let file = Arc::new(ParamFile::read(path)?);
        files.insert(path.to_path_buf(), Arc::clone(&file));
        Ok(file)
    }
}

pub(crate) fn load_model<B: Backend>(
    spec: &ModelSpec,
    config: &ModelConfig,
    device: &B::Device,
    loaded: Option<&LoadedParams>,
) -> Result<AlphaFold<B>> {
    Ok(match &spec.weights {
        Weights::File(path) => match loaded {
            Some(loaded) => AlphaFold::load(&*loaded.read(path)?, config, device)?,
            None => AlphaFold::load_owned(ParamFile::read(path)?, config, device)?,
        },
        Weights::Bundled => AlphaFold::load(&bundled::params()?, config, device)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_file_is_read_once_per_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("params.safetensors");
        bundled::params().unwrap().write_safetensors(&path).unwrap();
        let loaded = LoadedParams::default();
        let first = loaded.read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let again = loaded.read(&path).expect("not read from the disk again");
        assert!(Arc::ptr_eq(&first, &again));
        assert!(LoadedParams::default().read(&path).is_err(), "a new run reads the file");
    }
}
