//! The structure module (Jumper et al. 2021, Suppl. Alg. 20): IPA layers with shared weights
//! moving the backbone frames, and the side-chain ResNet placing all heavy atoms.

pub mod all_atom;
pub mod ipa;
pub mod multimer;
pub mod multimer_ipa;
pub mod rigid;
pub mod sidechain;

use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::batch::ResidueTables;
use crate::config::StructureModuleConfig;
use crate::params::ParamBuilder;
use crate::primitives::{Dropout, LayerNorm, Linear, LinearInit};
pub use ipa::InvariantPointAttention;
pub use multimer::MultimerStructureModule;
pub use multimer_ipa::MultimerInvariantPointAttention;
pub use rigid::{QuatAffine, Rigid};
pub use sidechain::{MultiRigidSidechain, SidechainOutput};

/// The fold iteration's transition: `num_layer_in_transition` linear layers of the structure
/// module's width, AlphaFold's names `transition`, `transition_1`, …, the last one final.
pub(crate) fn transition_layers<B: Backend>(
    builder: &mut ParamBuilder<B>,
    c: &StructureModuleConfig,
) -> Vec<Linear<B>> {
    let s = c.num_channel;
    (0..c.num_layer_in_transition)
        .map(|k| {
            let name = if k == 0 { "transition".to_string() } else { format!("transition_{k}") };
            let init = if k + 1 < c.num_layer_in_transition {
                LinearInit::Relu
            } else {
                LinearInit::Final
            };
            Linear::new(builder, &name, s, s, init)
        })
        .collect()
}

/// The transition's layers with a ReLU between each two (the residual is the caller's).
pub(crate) fn apply_transition<B: Backend>(
    layers: &[Linear<B>],
    act: Tensor<B, 2>,
) -> Tensor<B, 2> {
    let mut act = act;
    for (k, linear) in layers.iter().enumerate() {
        act = linear.forward(act);
        if k + 1 < layers.len() {
            act = relu(act);
        }
    }
    act
}

/// The structure module of the network: AlphaFold2's, or AlphaFold-Multimer's.
// One per network, built once: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Folding<B: Backend> {
    Monomer(StructureModule<B>),
    Multimer(MultimerStructureModule<B>),
}

impl<B: Backend> Folding<B> {
    /// `single` [r, c_s], `pair` [r, r, c_z], `seq_mask` \[r\].
    pub fn forward(
        &self,
        single: Tensor<B, 2>,
        pair: Tensor<B, 3>,
        seq_mask: Tensor<B, 1>,
        tables: &ResidueTables<B>,
        dropout: &Dropout,
    ) -> StructureOutput<B> {
        match self {
            Self::Monomer(m) => m.forward(single, pair, seq_mask, tables, dropout),
            Self::Multimer(m) => m.forward(single, pair, seq_mask, tables, dropout),
        }
    }

    /// AlphaFold2's structure module (`None` in a multimer network).
    pub fn monomer(&self) -> Option<&StructureModule<B>> {
        match self {
            Self::Monomer(m) => Some(m),
            Self::Multimer(_) => None,
        }
    }

    pub fn monomer_mut(&mut self) -> Option<&mut StructureModule<B>> {
        match self {
            Self::Monomer(m) => Some(m),
            Self::Multimer(_) => None,
        }
    }
}

/// One fold iteration; the structure module applies the same one `num_layer` times.
#[derive(Module, Debug)]
pub struct FoldIteration<B: Backend> {
    pub invariant_point_attention: InvariantPointAttention<B>,
    pub attention_layer_norm: LayerNorm<B>,
    pub transition: Vec<Linear<B>>,
    pub transition_layer_norm: LayerNorm<B>,
    pub affine_update: Linear<B>,
    pub rigid_sidechain: MultiRigidSidechain<B>,
}

#[derive(Module, Debug)]
pub struct StructureModule<B: Backend> {
    pub single_layer_norm: LayerNorm<B>,
    pub initial_projection: Linear<B>,
    pub pair_layer_norm: LayerNorm<B>,
    pub fold_iteration: FoldIteration<B>,
    pub num_layer: usize,
    pub position_scale: f64,
    /// Dropout of the activations after attention and after the transition (training only).
    pub dropout: f64,
}

/// The structure module's outputs, AlphaFold's names.
#[derive(Debug, Clone)]
pub struct StructureOutput<B: Backend> {
    /// Per layer, the backbone frames in Å: the monomer's quaternion and translation
    /// [layers, r, 7]; the multimer's rotation rows and translation [layers, r, 12]
    /// ([`MultimerStructureModule::forward`]).
    pub traj: Tensor<B, 3>,
    /// Per layer side-chain outputs.
    pub sidechains: Vec<SidechainOutput<B>>,
    /// The final single representation: [r, c]
    pub act: Tensor<B, 2>,
    /// The single representation after each layer: [layers, r, c]
    pub layer_acts: Tensor<B, 3>,
    /// [r, 14, 3]
    pub final_atom14_positions: Tensor<B, 3>,
    /// [r, 37, 3]
    pub final_atom_positions: Tensor<B, 3>,
    /// [r, 37]
    pub final_atom_mask: Tensor<B, 2>,
}

impl<B: Backend> StructureModule<B> {
    pub fn new(
        builder: &mut ParamBuilder<B>,
        c: &StructureModuleConfig,
        seq_channels: usize,
        pair_channels: usize,
        dropout: f64,
    ) -> Self {
        let s = c.num_channel;
        builder.scope("structure_module", |b| Self {
            single_layer_norm: LayerNorm::new(b, "single_layer_norm", seq_channels),
            initial_projection: Linear::new(
                b,
                "initial_projection",
                seq_channels,
                s,
                LinearInit::Default,
            ),
            pair_layer_norm: LayerNorm::new(b, "pair_layer_norm", pair_channels),
            fold_iteration: b.scope("fold_iteration", |b| FoldIteration {
                invariant_point_attention: InvariantPointAttention::new(b, c, pair_channels),
                attention_layer_norm: LayerNorm::new(b, "attention_layer_norm", s),
                transition: transition_layers(b, c),
                transition_layer_norm: LayerNorm::new(b, "transition_layer_norm", s),
                affine_update: Linear::new(b, "affine_update", s, 6, LinearInit::Final),
                rigid_sidechain: MultiRigidSidechain::new(b, c),
            }),
            num_layer: c.num_layer,
            position_scale: c.position_scale,
            dropout,
        })
    }

    /// `single` [r, c_s], `pair` [r, r, c_z], `seq_mask` \[r\].
    pub fn forward(
        &self,
        single: Tensor<B, 2>,
        pair: Tensor<B, 3>,
        seq_mask: Tensor<B, 1>,
        tables: &ResidueTables<B>,
        dropout: &Dropout,
    ) -> StructureOutput<B> {
        let [r, _] = single.dims();
        let f = &self.fold_iteration;
        let initial_act = self.single_layer_norm.forward(single);
        let mut act = self.initial_projection.forward(initial_act.clone());
        let pair = self.pair_layer_norm.forward(pair);
        let mut affine = QuatAffine::identity(r, &act.device());
        let mut traj = Vec::with_capacity(self.num_layer);
        let mut sidechains = Vec::with_capacity(self.num_layer);
        let mut layer_acts = Vec::with_capacity(self.num_layer);
        for _ in 0..self.num_layer {
            act = act.clone()
                + f.invariant_point_attention.forward(act, pair.clone(), seq_mask.clone(), &affine);
            act = f.attention_layer_norm.forward(dropout.apply(act, self.dropout, None));
            let update = apply_transition(&f.transition, act.clone());
            act = f.transition_layer_norm.forward(dropout.apply(act + update, self.dropout, None));
            affine = affine.pre_compose(f.affine_update.forward(act.clone()));
            let scaled = affine.scale_translation(self.position_scale);
            sidechains.push(f.rigid_sidechain.forward(
                &scaled.to_rigid(),
                act.clone(),
                initial_act.clone(),
                tables,
            ));
            traj.push(scaled.to_tensor());
            layer_acts.push(act.clone());
            // Gradients do not flow through the rotations into the next layer.
            affine = affine.detach_rotation();
        }
        let final_atom14_positions =
            sidechains.last().expect("at least one layer").atom_pos.clone();
        let final_atom_positions =
            all_atom::atom14_to_atom37(tables, final_atom14_positions.clone());
        StructureOutput {
            traj: Tensor::stack(traj, 0),
            sidechains,
            act,
            layer_acts: Tensor::stack(layer_acts, 0),
            final_atom14_positions,
            final_atom_positions,
            final_atom_mask: tables.atom37_exists.clone(),
        }
    }
}
