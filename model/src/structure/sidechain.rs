//! The side-chain torsion-angle ResNet (AlphaFold's `MultiRigidSidechain`, Jumper et al. 2021,
//! Suppl. Alg. 20 lines 11–14) and the atoms it places.

use burn::prelude::*;
use burn::tensor::activation::relu;

use super::all_atom::{frames_to_atom14_positions, torsion_angles_to_frames};
use super::rigid::Rigid;
use crate::batch::ResidueTables;
use crate::config::StructureModuleConfig;
use crate::params::ParamBuilder;
use crate::primitives::{Linear, LinearInit};

#[derive(Module, Debug)]
pub struct ResidualBlock<B: Backend> {
    pub linear_1: Linear<B>,
    pub linear_2: Linear<B>,
}

#[derive(Module, Debug)]
pub struct MultiRigidSidechain<B: Backend> {
    /// Projections of the current and the initial single representation.
    pub input_projection: Linear<B>,
    pub input_projection_1: Linear<B>,
    pub blocks: Vec<ResidualBlock<B>>,
    pub unnormalized_angles: Linear<B>,
}

/// One structure-module layer's side-chain outputs.
#[derive(Debug, Clone)]
pub struct SidechainOutput<B: Backend> {
    /// [r, 7, 2]
    pub angles_sin_cos: Tensor<B, 3>,
    pub unnormalized_angles_sin_cos: Tensor<B, 3>,
    /// [r, 14, 3]
    pub atom_pos: Tensor<B, 3>,
    /// [r, 8, 12]
    pub frames: Tensor<B, 3>,
}

/// haiku names a module's k-th reuse of a name `name_k` (k ≥ 1).
fn nth(name: &str, k: usize) -> String {
    if k == 0 {
        name.to_string()
    } else {
        format!("{name}_{k}")
    }
}

impl<B: Backend> MultiRigidSidechain<B> {
    pub fn new(builder: &mut ParamBuilder<B>, c: &StructureModuleConfig) -> Self {
        let (s, n) = (c.num_channel, c.sidechain_num_channel);
        builder.scope("rigid_sidechain", |b| Self {
            input_projection: Linear::new(b, "input_projection", s, n, LinearInit::Default),
            input_projection_1: Linear::new(b, "input_projection_1", s, n, LinearInit::Default),
            blocks: (0..c.sidechain_num_residual_block)
                .map(|k| ResidualBlock {
                    linear_1: Linear::new(b, &nth("resblock1", k), n, n, LinearInit::Relu),
                    linear_2: Linear::new(b, &nth("resblock2", k), n, n, LinearInit::Final),
                })
                .collect(),
            unnormalized_angles: Linear::new(b, "unnormalized_angles", n, 14, LinearInit::Default),
        })
    }

    /// `backbone` frames in Å (translations scaled by the position scale).
    pub fn forward(
        &self,
        backbone: &Rigid<B, 3>,
        act: Tensor<B, 2>,
        initial_act: Tensor<B, 2>,
        tables: &ResidueTables<B>,
    ) -> SidechainOutput<B> {
        let [r, _] = act.dims();
        let mut act = self.input_projection.forward(relu(act))
            + self.input_projection_1.forward(relu(initial_act));
        for block in &self.blocks {
            let update = block.linear_2.forward(relu(block.linear_1.forward(relu(act.clone()))));
            act = act + update;
        }
        let unnormalized = self.unnormalized_angles.forward(relu(act)).reshape([r, 7, 2]);
        let norm = unnormalized.clone().powi_scalar(2).sum_dim(2).clamp_min(1e-12).sqrt();
        let angles = unnormalized.clone() / norm;
        let frames = torsion_angles_to_frames(tables, backbone, angles.clone());
        SidechainOutput {
            atom_pos: frames_to_atom14_positions(tables, &frames),
            frames: frames.to_flat12(),
            angles_sin_cos: angles,
            unnormalized_angles_sin_cos: unnormalized,
        }
    }
}
