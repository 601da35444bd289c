//! Installed parameters: what `ferrofold weights download` fetches (DeepMind's and OpenFold's
//! releases), where it puts them, the manifest that records every file's size, sha256 and the
//! preset it was checked against, and the models `predict` runs when no `--params` is given.
//!
//! A file enters the weights directory only after it loaded into the network of its preset
//! (every shape checked, no NaN or infinity); the manifest is written last, atomically, so a
//! directory either holds a release that passed or nothing of it.

mod download;
mod install;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use ferrofold_model::{AlphaFold, CpuF32, ModelConfig, ModelError, ParamFile};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::memory::human_bytes;
use crate::models::{ModelSpec, Weights};

pub use download::{fetch, DownloadEvent, DownloadOptions};
pub use install::{download_and_install, InstallRequest};

/// The environment variable naming the weights directory (beside `--dir`).
pub const WEIGHTS_ENV: &str = "FERROFOLD_WEIGHTS";
/// The manifest's file name inside the weights directory.
pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The server answered with an HTTP error status.
    #[error("{url}: the server answered HTTP {status} {reason}")]
    Status { url: String, status: u16, reason: String },

    /// The connection failed, timed out or ended early; `kept` bytes stay for the next run.
    #[error("{url}: {message}{}", resume_hint(*kept))]
    Transfer { url: String, message: String, kept: u64 },

    /// A downloaded file failed its check; nothing was installed.
    #[error("{file}: {message}; nothing was installed")]
    Rejected { file: String, message: String },

    #[error("{path}: {message}")]
    Directory { path: PathBuf, message: String },

    #[error("no weights directory: set {WEIGHTS_ENV} or HOME, or pass --dir")]
    NoHome,

    #[error("no installed model is called {name} (installed: {installed}); `ferrofold weights list` shows them")]
    UnknownModel { name: String, installed: String },
}

fn resume_hint(kept: u64) -> String {
    if kept > 0 {
        format!(" ({} kept; run the same command again to resume)", human_bytes(kept))
    } else {
        String::new()
    }
}

pub type Result<T, E = WeightsError> = std::result::Result<T, E>;

fn directory_error(path: &Path, error: impl std::fmt::Display) -> WeightsError {
    WeightsError::Directory { path: path.to_path_buf(), message: error.to_string() }
}

/// The weights directory: `explicit` (`--dir`), else `$FERROFOLD_WEIGHTS`, else the XDG data
/// directory (`$XDG_DATA_HOME/ferrofold/weights`, by default `~/.local/share/ferrofold/weights`).
pub fn weights_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var(WEIGHTS_ENV) {
        return Ok(dir);
    }
    let data = var("XDG_DATA_HOME")
        .or_else(|| var("HOME").map(|home| home.join(".local/share")))
        .ok_or(WeightsError::NoHome)?;
    Ok(data.join("ferrofold").join("weights"))
}

/// How a release is packed.
#[derive(Debug, Clone, Copy)]
pub enum Layout {
    /// One tar archive at the URL.
    Tar,
    /// These files under the URL (a directory), each with the preset it was trained as.
    Files(&'static [(&'static str, &'static str)]),
}

/// A published set of parameters that `weights download` knows.
#[derive(Debug, Clone, Copy)]
pub struct Release {
    /// The name on the command line and the subdirectory it is installed into.
    pub name: &'static str,
    pub url: &'static str,
    pub layout: Layout,
    pub license: &'static str,
    /// What a model's name is made of: `params_model_1_ptm.npz` → `model_1_ptm`.
    name_prefix: &'static str,
}

/// DeepMind's v2.3 parameters (the archive AlphaFold's `scripts/download_alphafold_params.sh`
/// fetches): model_1 … model_5, their `_ptm` versions and the multimer v3 models.
pub const ALPHAFOLD: Release = Release {
    name: "alphafold",
    url: "https://storage.googleapis.com/alphafold/alphafold_params_2022-12-06.tar",
    layout: Layout::Tar,
    license: "CC BY 4.0 (DeepMind)",
    name_prefix: "",
};

/// OpenFold's released checkpoints (its Hugging Face repository, the same files as its S3
/// bucket), with the AlphaFold preset each was trained as: `finetuning_*` with templates
/// (model_1's architecture), `no_templ` without (model_3's).
pub const OPENFOLD: Release = Release {
    name: "openfold",
    url: "https://huggingface.co/nz/OpenFold/resolve/main/",
    layout: Layout::Files(&[
        ("finetuning_ptm_1.pt", "model_1_ptm"),
        ("finetuning_ptm_2.pt", "model_1_ptm"),
        ("finetuning_no_templ_ptm_1.pt", "model_3_ptm"),
        ("finetuning_2.pt", "model_1"),
        ("finetuning_3.pt", "model_1"),
        ("finetuning_4.pt", "model_1"),
        ("finetuning_5.pt", "model_1"),
        ("finetuning_no_templ_1.pt", "model_3"),
        ("finetuning_no_templ_2.pt", "model_3"),
    ]),
    license: "CC BY 4.0 (OpenFold)",
    name_prefix: "openfold_",
};

pub const RELEASES: [Release; 2] = [ALPHAFOLD, OPENFOLD];

impl Release {
    pub fn named(name: &str) -> Option<Release> {
        RELEASES.into_iter().find(|r| r.name == name)
    }

    /// Whether `file` (a name in the release) is a parameter file.
    fn is_parameter_file(file: &str) -> bool {
        [".npz", ".pt", ".safetensors"].iter().any(|ext| file.ends_with(ext))
    }

    /// The model name of a parameter file.
    fn model_name(&self, file: &str) -> String {
        let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
        format!("{}{}", self.name_prefix, stem.strip_prefix("params_").unwrap_or(stem))
    }

    /// The preset `file` was trained as; `None` for a network ferrofold does not have.
    fn preset_of(&self, file: &str) -> Option<String> {
        match self.layout {
            Layout::Files(files) => {
                files.iter().find(|(name, _)| *name == file).map(|(_, p)| p.to_string())
            }
            Layout::Tar => {
                let name = self.model_name(file);
                ModelConfig::preset(&name).is_ok().then_some(name)
            }
        }
    }
}

/// One installed parameter file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstalledModel {
    /// What `predict --models` calls it: `model_1_ptm`, `openfold_finetuning_ptm_2`.
    pub name: String,
    /// The release it came from.
    pub release: String,
    /// Relative to the weights directory.
    pub file: String,
    /// The preset it loaded into; `None`: a network ferrofold did not have when it was
    /// installed (the multimer models before ferrofold had them), whose values were checked but
    /// not its shapes, and which `predict` does not offer (download again to install it).
    pub preset: Option<String>,
    pub bytes: u64,
    pub sha256: String,
    pub parameters: usize,
    pub url: String,
}

/// The weights directory's record of what is installed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub models: Vec<InstalledModel>,
    /// Release name → its licence, as shown by `weights list`.
    pub licenses: BTreeMap<String, String>,
}

impl Manifest {
    /// The manifest of `dir`; empty where nothing was installed.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST);
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| directory_error(&path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(directory_error(&path, e)),
        }
    }

    fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(MANIFEST);
        let text = serde_json::to_string_pretty(self).expect("the manifest serialises");
        ferrofold_features::feature_dict::write_bytes_atomically(&path, text.as_bytes())
            .map_err(|e| directory_error(&path, e))
    }

    /// The models that `predict` can run, in the manifest's order.
    pub fn runnable(&self) -> impl Iterator<Item = &InstalledModel> {
        self.models.iter().filter(|m| m.preset.is_some())
    }

    /// What `predict` runs without `--params`: the `models` named (`all`: every runnable
    /// one), or by default AlphaFold's pTM models (AlphaFold's own default, ranked by pTM),
    /// else every installed pTM model, else every runnable one. Empty when none is installed.
    /// The models `models` names (`all`: every runnable one); none named: AlphaFold's five pTM
    /// models, or for `complexes` its multimer models.
    pub fn model_specs(
        &self,
        dir: &Path,
        models: &[String],
        complexes: bool,
    ) -> Result<Vec<ModelSpec>> {
        let spec = |m: &InstalledModel| ModelSpec {
            name: m.name.clone(),
            preset: m.preset.clone().expect("runnable models have a preset"),
            weights: Weights::File(dir.join(&m.file)),
        };
        if models.iter().any(|m| m == "all") {
            return Ok(self.runnable().map(spec).collect());
        }
        if !models.is_empty() {
            return models
                .iter()
                .map(|name| {
                    self.runnable().find(|m| &m.name == name).map(spec).ok_or_else(|| {
                        WeightsError::UnknownModel {
                            name: name.clone(),
                            installed: self.installed_names(),
                        }
                    })
                })
                .collect();
        }
        // By name, as AlphaFold's own default (`model_1_ptm` … `model_5_ptm`; for complexes
        // `model_1_multimer_v3` …).
        if complexes {
            let multimer = |m: &&InstalledModel| m.name.contains("_multimer");
            return Ok(self.runnable().filter(multimer).map(spec).collect());
        }
        let ptm = |m: &&InstalledModel| m.name.contains("_ptm");
        let alphafold = |m: &&InstalledModel| m.release == ALPHAFOLD.name;
        let chosen: Vec<_> = if self.runnable().any(|m| ptm(&m) && alphafold(&m)) {
            self.runnable().filter(|m| ptm(m) && alphafold(m)).collect()
        } else if self.runnable().any(|m| ptm(&m)) {
            self.runnable().filter(ptm).collect()
        } else {
            self.runnable().collect()
        };
        Ok(chosen.into_iter().map(spec).collect())
    }

    fn installed_names(&self) -> String {
        let names: Vec<_> = self.runnable().map(|m| m.name.as_str()).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }
}

/// An error whose text spans lines (a parameter mismatch lists its tensors) on one line.
fn flat(error: &dyn std::fmt::Display) -> String {
    let text = error.to_string();
    let mut line = String::new();
    for part in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !line.is_empty() {
            line.push_str(if line.ends_with(':') { " " } else { "; " });
        }
        line.push_str(part);
    }
    line
}

/// The size and sha256 (lowercase hex) of a file.
pub fn file_digest(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    let digest = hasher.finalize();
    Ok((bytes, digest.iter().map(|b| format!("{b:02x}")).collect()))
}

/// Loads `path` into the network of `preset` on the CPU (every shape checked, every value
/// finite); without a preset only the values are checked. Returns the parameter count.
pub fn check_parameters(path: &Path, preset: Option<&str>) -> Result<usize, ModelError> {
    let file = ParamFile::read(path)?;
    match preset {
        Some(preset) => {
            let config = ModelConfig::preset(preset)?;
            AlphaFold::<CpuF32>::load(&file, &config, &Default::default())?;
        }
        None => {
            for (name, tensor) in &file.tensors {
                let count = tensor.data.iter().filter(|x| !x.is_finite()).count();
                if count > 0 {
                    return Err(ModelError::ReadParams {
                        path: path.to_path_buf(),
                        message: format!("{name} holds {count} non-finite value(s)"),
                    });
                }
            }
        }
    }
    Ok(file.parameter_count())
}

/// One problem `weights verify` found.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyProblem {
    pub model: String,
    pub message: String,
}

/// Re-checks every installed file against the manifest: present, same size and sha256, and
/// still loading into its preset. Returns the problems (empty: all is well).
pub fn verify(dir: &Path, on_model: &mut dyn FnMut(&InstalledModel)) -> Result<Vec<VerifyProblem>> {
    let manifest = Manifest::read(dir)?;
    let mut problems = Vec::new();
    for model in &manifest.models {
        on_model(model);
        let path = dir.join(&model.file);
        let problem = |message: String| VerifyProblem { model: model.name.clone(), message };
        match file_digest(&path) {
            Err(e) => problems.push(problem(format!("{}: {e}", path.display()))),
            Ok((bytes, _)) if bytes != model.bytes => problems.push(problem(format!(
                "{}: {bytes} bytes, the manifest says {}",
                path.display(),
                model.bytes
            ))),
            Ok((_, sha256)) if sha256 != model.sha256 => problems.push(problem(format!(
                "{}: sha256 {sha256}, the manifest says {}",
                path.display(),
                model.sha256
            ))),
            Ok(_) => {
                if let Err(e) = check_parameters(&path, model.preset.as_deref()) {
                    problems.push(problem(flat(&e)));
                }
            }
        }
    }
    Ok(problems)
}
