//! ferrofold-features: everything before the network.
//!
//! Residue constants, parsers for sequence/alignment/structure formats, AlphaFold's raw
//! feature construction, structure-derived labels, and feature storage (`.npz`, HDF5). No
//! deep-learning dependency: a pipeline can use this crate alone.

pub mod crop;
pub mod error;
pub mod feature_dict;
pub mod featurize;
pub mod input_pipeline;
pub mod labels;
pub mod msa;
pub mod msa_transforms;
pub mod multimer;
pub mod parsers;
pub mod process;
pub mod protein;
pub mod raw_features;
pub mod residue_constants;
pub mod stereo_chemistry;
pub mod system;
pub mod templates;
pub mod tools;
pub mod writers;

pub use error::{FeaturesError, Location, Result};
pub use feature_dict::{FeatureArray, FeatureDict};
pub use msa::Msa;
