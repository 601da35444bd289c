//! Training AlphaFold2 with ferrofold: the ground-truth labels a structure provides, and every
//! loss of DeepMind's network (Jumper et al. 2021, Suppl. Sec. 1.9), each checked against
//! DeepMind's own functions.

pub mod labels;
pub mod losses;

pub use labels::{LabelTensors, StructureLabels};
pub use losses::{LossBreakdown, LossConfig, Predictions};
