//! ferrofold's network: AlphaFold2 (monomer, v2 weights) on burn, generic over the backend.
//!
//! Parameters carry AlphaFold's names ([`params`]), so DeepMind's `params_model_*.npz` load as
//! they are. [`AlphaFold::forward`] runs the recycling loop over a processed feature batch
//! ([`batch::FeatureBatch`]); [`IterationOutput::prediction`] gives the structure and its
//! confidences, and [`IterationOutput::to_outputs`] names every output as AlphaFold does.

pub mod alphafold;
pub mod batch;
pub mod config;
pub mod embedders;
pub mod error;
pub mod evoformer;
pub mod heads;
pub mod host;
pub mod kernels;
pub mod largest_tensor;
pub mod openfold;
pub mod outputs;
pub mod param_formats;
pub mod params;
pub mod plan;
pub mod primitives;
pub mod structure;
pub mod trunk;

pub use alphafold::{AlphaFold, IterationOutput};
pub use batch::FeatureBatch;
pub use config::ModelConfig;
pub use error::{ModelError, ParamProblem, Result};
pub use outputs::{AlignedError, Outputs, Prediction};
pub use params::{ParamBuilder, ParamFile, ParamLayout};
pub use plan::{DropoutKey, Pass, Stage};

/// The CPU backend in float32 (the default precision).
pub type CpuF32 = burn::backend::NdArray<f32>;
/// The CPU backend in float64 (for verification against DeepMind's float64 runs).
pub type CpuF64 = burn::backend::NdArray<f64>;
