//! A feature set keyed by AlphaFold's names, and its storage as `.npz` (the lingua franca of
//! AlphaFold tools) and HDF5. Writes go to a temporary file that is renamed into place, so a
//! failed write never leaves a truncated file behind.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{NpzReader, NpzWriter, ReadNpzError};

use crate::error::{FeaturesError, Result};

/// One feature's values.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureArray {
    I32(ArrayD<i32>),
    I64(ArrayD<i64>),
    F32(ArrayD<f32>),
    F64(ArrayD<f64>),
    Bool(ArrayD<bool>),
}

impl FeatureArray {
    pub fn shape(&self) -> &[usize] {
        match self {
            Self::I32(a) => a.shape(),
            Self::I64(a) => a.shape(),
            Self::F32(a) => a.shape(),
            Self::F64(a) => a.shape(),
            Self::Bool(a) => a.shape(),
        }
    }

    pub fn dtype(&self) -> &'static str {
        match self {
            Self::I32(_) => "int32",
            Self::I64(_) => "int64",
            Self::F32(_) => "float32",
            Self::F64(_) => "float64",
            Self::Bool(_) => "bool",
        }
    }

    /// The values as f64, whatever the stored type (for comparisons and conversions).
    pub fn to_f64(&self) -> ArrayD<f64> {
        match self {
            Self::I32(a) => a.mapv(f64::from),
            Self::I64(a) => a.mapv(|v| v as f64),
            Self::F32(a) => a.mapv(f64::from),
            Self::F64(a) => a.clone(),
            Self::Bool(a) => a.mapv(|v| if v { 1.0 } else { 0.0 }),
        }
    }
}

macro_rules! impl_from_array {
    ($($variant:ident: $ty:ty),*) => {$(
        impl From<ArrayD<$ty>> for FeatureArray {
            fn from(a: ArrayD<$ty>) -> Self { Self::$variant(a) }
        }
    )*};
}
impl_from_array!(I32: i32, I64: i64, F32: f32, F64: f64, Bool: bool);

/// Features by name (AlphaFold's key names), plus string features (`sequence`, `domain_name`)
/// that `.npz` without pickling cannot hold and that are therefore kept only in memory and HDF5.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureDict {
    pub arrays: BTreeMap<String, FeatureArray>,
    pub strings: BTreeMap<String, Vec<String>>,
}

impl FeatureDict {
    pub fn insert(&mut self, name: impl Into<String>, array: impl Into<FeatureArray>) {
        self.arrays.insert(name.into(), array.into());
    }

    pub fn get(&self, name: &str) -> Option<&FeatureArray> {
        self.arrays.get(name)
    }

    /// Adds every feature of `other`, replacing features of the same name.
    pub fn extend(&mut self, other: FeatureDict) {
        self.arrays.extend(other.arrays);
        self.strings.extend(other.strings);
    }

    /// Writes the numeric features to a compressed `.npz` (readable by `numpy.load`).
    /// A NaN or infinity is refused (nothing is written): every array ferrofold writes is a
    /// feature or a network output, where one is always a defect upstream.
    pub fn save_npz(&self, path: &Path) -> Result<()> {
        self.refuse_non_finite(path)?;
        write_atomically(path, |file| {
            let mut npz = NpzWriter::new_compressed(BufWriter::new(file));
            for (name, array) in &self.arrays {
                let result = match array {
                    FeatureArray::I32(a) => npz.add_array(name.as_str(), a),
                    FeatureArray::I64(a) => npz.add_array(name.as_str(), a),
                    FeatureArray::F32(a) => npz.add_array(name.as_str(), a),
                    FeatureArray::F64(a) => npz.add_array(name.as_str(), a),
                    FeatureArray::Bool(a) => npz.add_array(name.as_str(), a),
                };
                result.map_err(|e| storage_error(path, name, e))?;
            }
            npz.finish().map_err(|e| storage_error(path, "", e))?;
            Ok(())
        })
    }

    fn refuse_non_finite(&self, path: &Path) -> Result<()> {
        for (name, array) in &self.arrays {
            let count = match array {
                FeatureArray::F32(a) => a.iter().filter(|x| !x.is_finite()).count(),
                FeatureArray::F64(a) => a.iter().filter(|x| !x.is_finite()).count(),
                _ => 0,
            };
            if count > 0 {
                return Err(storage_error(
                    path,
                    name,
                    format!("{count} value(s) are not finite (NaN or infinity); nothing written"),
                ));
            }
        }
        Ok(())
    }

    /// Reads every array of an `.npz` file (int32/int64/float32/float64/bool).
    pub fn load_npz(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| FeaturesError::io(path, e))?;
        let mut npz = NpzReader::new(BufReader::new(file)).map_err(|e| {
            storage_error(path, "", format!("not a readable .npz archive (truncated?): {e}"))
        })?;
        let names = npz.names().map_err(|e| storage_error(path, "", e))?;
        let mut dict = FeatureDict::default();
        for name in names {
            let array = read_any(&mut npz, &name).map_err(|e| storage_error(path, &name, e))?;
            dict.arrays.insert(name, array);
        }
        Ok(dict)
    }
}

fn read_any<R: std::io::Read + std::io::Seek>(
    npz: &mut NpzReader<R>,
    name: &str,
) -> std::result::Result<FeatureArray, ReadNpzError> {
    // The element type is only known from the inner header; try each supported type in turn
    // (a mismatch is a cheap header check, not a data read).
    macro_rules! attempt {
        ($ty:ty) => {
            match npz.by_name::<ndarray::OwnedRepr<$ty>, IxDyn>(name) {
                Ok(a) => return Ok(a.into()),
                Err(ReadNpzError::Npy(ndarray_npy::ReadNpyError::WrongDescriptor(_))) => {}
                Err(e) => return Err(e),
            }
        };
    }
    attempt!(f32);
    attempt!(i32);
    attempt!(f64);
    attempt!(i64);
    attempt!(bool);
    // Give the error of the most common type, which names the descriptor found.
    npz.by_name::<ndarray::OwnedRepr<f32>, IxDyn>(name).map(Into::into)
}

pub(crate) fn storage_error(path: &Path, name: &str, e: impl std::fmt::Display) -> FeaturesError {
    FeaturesError::Storage {
        path: path.to_path_buf(),
        name: name.to_string(),
        message: e.to_string(),
    }
}

/// Runs `write` on a temporary file next to `path`, then renames it over `path`.
pub fn write_atomically(path: &Path, write: impl FnOnce(File) -> Result<()>) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Errors name `path`, the file the user asked for, not the temporary name.
    let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| FeaturesError::io(&dir, e))?;
    let file = tmp.reopen().map_err(|e| FeaturesError::io(path, e))?;
    write(file)?;
    // On disk before it takes the final name: a crash then leaves the old file or the new one,
    // never an empty one.
    tmp.as_file().sync_all().map_err(|e| FeaturesError::io(path, e))?;
    // Temporary files are created private (0600); a result file should be readable as any other.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
        .map_err(|e| FeaturesError::io(path, e))?;
    tmp.persist(path).map_err(|e| FeaturesError::io(path, e.error))?;
    Ok(())
}

/// Writes `bytes` to `path` atomically (see [`write_atomically`]).
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, |mut file| {
        std::io::Write::write_all(&mut file, bytes).map_err(|e| FeaturesError::io(path, e))
    })
}

#[cfg(feature = "hdf5")]
mod hdf5_storage {
    use super::*;

    fn h5err(path: &Path, name: &str, e: hdf5::Error) -> FeaturesError {
        storage_error(path, name, e)
    }

    /// HDF5's file locks (flock) are held by every process that inherits the descriptor, so a
    /// tool spawned while a file is open would block the next open of that file. Writes go to a
    /// temporary name and are renamed, so the locks protect nothing here: they are disabled.
    fn without_locking() -> hdf5::FileBuilder {
        let mut builder = hdf5::File::with_options();
        builder.fapl().file_locking(false);
        builder
    }

    impl FeatureDict {
        /// Writes every feature as a dataset of one HDF5 group (`/` by default), strings as
        /// variable-length UTF-8 datasets.
        pub fn save_hdf5(&self, path: &Path) -> Result<()> {
            self.refuse_non_finite(path)?;
            // HDF5 opens files by name: write to a sibling temporary name, unique so that
            // concurrent writers of one path never share it, then rename.
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let tmp = tempfile::Builder::new()
                .suffix(".h5.partial")
                .tempfile_in(dir)
                .map_err(|e| FeaturesError::io(dir, e))?
                .into_temp_path();
            let result = (|| -> Result<()> {
                let h5 = without_locking().create(&tmp).map_err(|e| h5err(path, "", e))?;
                for (name, array) in &self.arrays {
                    let builder = h5.new_dataset_builder();
                    let result = match array {
                        FeatureArray::I32(a) => builder.with_data(a).create(name.as_str()),
                        FeatureArray::I64(a) => builder.with_data(a).create(name.as_str()),
                        FeatureArray::F32(a) => builder.with_data(a).create(name.as_str()),
                        FeatureArray::F64(a) => builder.with_data(a).create(name.as_str()),
                        FeatureArray::Bool(a) => builder.with_data(a).create(name.as_str()),
                    };
                    result.map_err(|e| h5err(path, name, e))?;
                }
                for (name, values) in &self.strings {
                    let values = values
                        .iter()
                        .map(|s| {
                            s.parse::<hdf5::types::VarLenUnicode>().map_err(|_| {
                                storage_error(path, name, "HDF5 strings cannot contain NUL bytes")
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    h5.new_dataset_builder()
                        .with_data(&values)
                        .create(name.as_str())
                        .map_err(|e| h5err(path, name, e))?;
                }
                h5.close().map_err(|e| h5err(path, "", e))?;
                Ok(())
            })();
            // On an error, dropping the temporary path removes the partial file.
            result?;
            File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| FeaturesError::io(path, e))?;
            tmp.persist(path).map_err(|e| FeaturesError::io(path, e.error))
        }

        /// Reads a file written by `save_hdf5`.
        pub fn load_hdf5(path: &Path) -> Result<Self> {
            use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
            let h5 = without_locking().open(path).map_err(|e| h5err(path, "", e))?;
            let mut dict = FeatureDict::default();
            for ds in h5.datasets().map_err(|e| h5err(path, "", e))? {
                let name = ds.name().trim_start_matches('/').to_string();
                let err = |e| h5err(path, &name, e);
                let descriptor = ds.dtype().and_then(|t| t.to_descriptor()).map_err(err)?;
                let array: FeatureArray = match descriptor {
                    TypeDescriptor::Integer(IntSize::U4) => {
                        ds.read_dyn::<i32>().map_err(err)?.into()
                    }
                    TypeDescriptor::Integer(IntSize::U8) => {
                        ds.read_dyn::<i64>().map_err(err)?.into()
                    }
                    TypeDescriptor::Float(FloatSize::U4) => {
                        ds.read_dyn::<f32>().map_err(err)?.into()
                    }
                    TypeDescriptor::Float(FloatSize::U8) => {
                        ds.read_dyn::<f64>().map_err(err)?.into()
                    }
                    TypeDescriptor::Boolean => ds.read_dyn::<bool>().map_err(err)?.into(),
                    TypeDescriptor::VarLenUnicode => {
                        let values = ds.read_raw::<hdf5::types::VarLenUnicode>().map_err(err)?;
                        dict.strings.insert(name, values.iter().map(|s| s.to_string()).collect());
                        continue;
                    }
                    other => {
                        return Err(storage_error(
                            path,
                            &name,
                            format!("unsupported HDF5 type {other:?}"),
                        ))
                    }
                };
                dict.arrays.insert(name, array);
            }
            Ok(dict)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, arr2};

    fn sample() -> FeatureDict {
        let mut d = FeatureDict::default();
        d.insert("msa", arr2(&[[1i32, 2], [3, 21]]).into_dyn());
        d.insert("template_sum_probs", arr2(&[[0.5f32], [1.25]]).into_dyn());
        d.insert("seq_length", arr1(&[7i64, 7]).into_dyn());
        d.insert("distance", arr1(&[1.0f64 / 3.0]).into_dyn());
        d.insert("mask", arr1(&[true, false]).into_dyn());
        d
    }

    #[test]
    fn npz_round_trip_keeps_types_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.npz");
        let d = sample();
        d.save_npz(&path).unwrap();
        assert_eq!(FeatureDict::load_npz(&path).unwrap(), d);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
    }

    #[cfg(feature = "hdf5")]
    #[test]
    fn hdf5_round_trip_keeps_types_values_and_strings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.h5");
        let mut d = sample();
        d.strings.insert("sequence".into(), vec!["MKV".into()]);
        d.save_hdf5(&path).unwrap();
        assert_eq!(FeatureDict::load_hdf5(&path).unwrap(), d);
        assert!(!path.with_extension("h5.partial").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "a temporary file is left");

        // A string HDF5 cannot hold is an error, and the earlier file stays intact.
        d.strings.insert("domain_name".into(), vec!["bad\0name".into()]);
        let err = d.save_hdf5(&path).unwrap_err().to_string();
        assert!(err.contains("NUL"), "{err}");
        assert!(FeatureDict::load_hdf5(&path).is_ok());
    }

    #[test]
    fn a_corrupt_npz_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.npz");
        std::fs::write(&path, b"not a zip").unwrap();
        let err = FeatureDict::load_npz(&path).unwrap_err().to_string();
        assert!(err.contains("bad.npz"), "{err}");
    }
}
