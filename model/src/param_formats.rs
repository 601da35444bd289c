//! The parameter file formats: DeepMind's `.npz`, ferrofold's `.safetensors` and OpenFold's
//! checkpoints ([`crate::openfold`]), chosen by extension. Each format depends on the generic
//! [`ParamFile`], never the other way round.

use std::collections::BTreeMap;
use std::path::Path;

use ferrofold_features::feature_dict::{FeatureArray, FeatureDict};

use crate::error::{ModelError, Result};
use crate::params::{ParamFile, RawTensor};

impl ParamFile {
    /// Reads DeepMind's `.npz` layout, ferrofold's `.safetensors` or an OpenFold checkpoint
    /// (`.pt`, `.pth`, `.ckpt`), chosen by extension.
    pub fn read(path: &Path) -> Result<Self> {
        if path.is_dir() {
            return Err(ModelError::ReadParams {
                path: path.to_path_buf(),
                message: "a directory, not a parameter file (.npz, .safetensors or .pt)".into(),
            });
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("safetensors") => Self::read_safetensors(path),
            Some("pt" | "pth" | "ckpt") => crate::openfold::read_openfold_checkpoint(path),
            _ => Self::read_npz(path),
        }
    }

    pub fn read_npz(path: &Path) -> Result<Self> {
        let dict = FeatureDict::load_npz(path).map_err(|e| ModelError::ReadParams {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut tensors = BTreeMap::new();
        for (name, array) in dict.arrays {
            let data = match &array {
                FeatureArray::F32(a) => a.iter().copied().collect(),
                FeatureArray::F64(a) => a.iter().map(|&x| x as f32).collect(),
                other => {
                    return Err(ModelError::ReadParams {
                        path: path.to_path_buf(),
                        message: format!(
                            "{name}: parameters must be floats, found {}",
                            other.dtype()
                        ),
                    })
                }
            };
            tensors.insert(name, RawTensor { shape: array.shape().to_vec(), data });
        }
        Ok(Self { tensors, source_name: path.display().to_string(), ..Default::default() })
    }

    pub fn read_safetensors(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| ModelError::ReadParams {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_safetensors_bytes(&bytes, path)
    }

    /// Parameters from the bytes of a `.safetensors` file; `source` names it in errors.
    pub fn from_safetensors_bytes(bytes: &[u8], source: &Path) -> Result<Self> {
        let err = |message: String| ModelError::ReadParams { path: source.to_path_buf(), message };
        let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| err(e.to_string()))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in file.tensors() {
            let data: Vec<f32> = match view.dtype() {
                safetensors::Dtype::F32 => view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                other => return Err(err(format!("{name}: expected F32, found {other:?}"))),
            };
            tensors.insert(name, RawTensor { shape: view.shape().to_vec(), data });
        }
        Ok(Self { tensors, source_name: source.display().to_string(), ..Default::default() })
    }

    /// Writes ferrofold's native format (safetensors, AlphaFold names), atomically.
    pub fn write_safetensors(&self, path: &Path) -> Result<()> {
        let err = |message: String| ModelError::WriteParams { path: path.to_path_buf(), message };
        if !self.merged_head_axes.is_empty() {
            // Without the network's configuration the merged axes cannot be split again.
            return Err(err(format!(
                "{} holds attention heads in OpenFold's merged layout: load it into the network \
                 and export that (ferrofold convert-weights)",
                self.source_name
            )));
        }
        let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = self
            .tensors
            .iter()
            .map(|(name, t)| {
                (
                    name.clone(),
                    t.data.iter().flat_map(|x| x.to_le_bytes()).collect(),
                    t.shape.clone(),
                )
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(name, data, shape)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), data)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| err(e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        let serialized = safetensors::serialize(views, None).map_err(|e| err(e.to_string()))?;
        ferrofold_features::feature_dict::write_bytes_atomically(path, &serialized)
            .map_err(|e| err(e.to_string()))
    }
}
