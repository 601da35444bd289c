//! Training AlphaFold2 with ferrofold: ground-truth labels from structures, every loss of
//! DeepMind's network (Jumper et al. 2021, Suppl. Sec. 1.9) checked against DeepMind's own
//! functions, training examples through AlphaFold's input pipeline, and the training loop with
//! resumable checkpoints.

pub mod checkpoint;
pub mod config;
pub mod corpus;
pub mod error;
pub mod example;
pub mod gradients;
pub mod labels;
pub mod losses;
pub mod passes;
pub mod rematerialise;
pub mod trainer;

pub use ferrofold_data as data;

pub use config::{ActivationCheckpointing, Phase, TrainConfig};
pub use error::{Result, TrainingError};
pub use labels::{LabelTensors, StructureLabels};
pub use losses::{LossBreakdown, LossConfig, Predictions};
pub use trainer::{train, StepReport, TrainSummary};
