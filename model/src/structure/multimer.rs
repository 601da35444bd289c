//! AlphaFold-Multimer's structure module (DeepMind's v2.3.2 `folding_multimer.StructureModule`):
//! the monomer's iterations (shared weights, IPA, transition, frame update, side chains) with the
//! multimer's invariant point attention, frames as rotation matrices updated by a quaternion
//! `(1, x, y, z)` normalised (`QuatRigid`), and its own position scale.

use burn::prelude::*;

use super::all_atom::atom14_to_atom37;
use super::multimer_ipa::MultimerInvariantPointAttention;
use super::rigid::Rigid;
use super::sidechain::MultiRigidSidechain;
use super::{apply_transition, transition_layers, StructureOutput};
use crate::batch::ResidueTables;
use crate::config::StructureModuleConfig;
use crate::host::{float_options, host_tensor};
use crate::params::ParamBuilder;
use crate::primitives::{Dropout, LayerNorm, Linear, LinearInit};

/// One fold iteration; applied `num_layer` times with the same weights.
#[derive(Module, Debug)]
pub struct MultimerFoldIteration<B: Backend> {
    pub invariant_point_attention: MultimerInvariantPointAttention<B>,
    pub attention_layer_norm: LayerNorm<B>,
    pub transition: Vec<Linear<B>>,
    pub transition_layer_norm: LayerNorm<B>,
    /// `quat_rigid/rigid`: quaternion vector part and translation of the frame update.
    pub quat_rigid: Linear<B>,
    pub rigid_sidechain: MultiRigidSidechain<B>,
}

#[derive(Module, Debug)]
pub struct MultimerStructureModule<B: Backend> {
    pub single_layer_norm: LayerNorm<B>,
    pub initial_projection: Linear<B>,
    pub pair_layer_norm: LayerNorm<B>,
    pub fold_iteration: MultimerFoldIteration<B>,
    pub num_layer: usize,
    pub position_scale: f64,
    /// Dropout after attention and after the transition (training only).
    pub dropout: f64,
}

/// Rotation matrices [r, 3, 3] of the quaternions (1, x, y, z) normalised, `v` [r, 3]
/// (`Rot3Array.from_quaternion(normalize=True)`).
fn rotation_of_update<B: Backend>(v: Tensor<B, 2>) -> Tensor<B, 3> {
    let r = v.dims()[0];
    let part = |i: usize| v.clone().narrow(1, i, 1).reshape([r]);
    let (x, y, z) = (part(0), part(1), part(2));
    let inverse_norm =
        (x.clone().powi_scalar(2) + y.clone().powi_scalar(2) + z.clone().powi_scalar(2) + 1.0)
            .sqrt()
            .recip();
    let w = inverse_norm.clone();
    let (x, y, z) = (x * inverse_norm.clone(), y * inverse_norm.clone(), z * inverse_norm);
    let m = |a: &Tensor<B, 1>, b: &Tensor<B, 1>| a.clone() * b.clone();
    let entries = vec![
        (m(&y, &y) + m(&z, &z)) * (-2.0) + 1.0,
        (m(&x, &y) - m(&w, &z)) * 2.0,
        (m(&x, &z) + m(&w, &y)) * 2.0,
        (m(&x, &y) + m(&w, &z)) * 2.0,
        (m(&x, &x) + m(&z, &z)) * (-2.0) + 1.0,
        (m(&y, &z) - m(&w, &x)) * 2.0,
        (m(&x, &z) - m(&w, &y)) * 2.0,
        (m(&y, &z) + m(&w, &x)) * 2.0,
        (m(&x, &x) + m(&y, &y)) * (-2.0) + 1.0,
    ];
    Tensor::stack::<2>(entries, 1).reshape([r, 3, 3])
}

impl<B: Backend> MultimerStructureModule<B> {
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
            fold_iteration: b.scope("fold_iteration", |b| MultimerFoldIteration {
                invariant_point_attention: MultimerInvariantPointAttention::new(
                    b,
                    c,
                    pair_channels,
                ),
                attention_layer_norm: LayerNorm::new(b, "attention_layer_norm", s),
                transition: transition_layers(b, c),
                transition_layer_norm: LayerNorm::new(b, "transition_layer_norm", s),
                quat_rigid: b
                    .scope("quat_rigid", |b| Linear::new(b, "rigid", s, 6, LinearInit::Final)),
                rigid_sidechain: MultiRigidSidechain::new(b, c),
            }),
            num_layer: c.num_layer,
            position_scale: c.position_scale,
            dropout,
        })
    }

    /// `single` [r, c_s], `pair` [r, r, c_z], `seq_mask` \[r\]. The trajectory holds each
    /// layer's frames as DeepMind's `Rigid3Array.to_array` flattened: [layers, r, 12], the rows
    /// of the rotation each followed by the translation's component.
    pub fn forward(
        &self,
        single: Tensor<B, 2>,
        pair: Tensor<B, 3>,
        seq_mask: Tensor<B, 1>,
        tables: &ResidueTables<B>,
        dropout: &Dropout,
    ) -> StructureOutput<B> {
        let [r, _] = single.dims();
        let device = single.device();
        let f = &self.fold_iteration;
        let initial_act = self.single_layer_norm.forward(single);
        let mut act = self.initial_projection.forward(initial_act.clone());
        let pair = self.pair_layer_norm.forward(pair);
        let identity = ndarray::Array3::from_shape_fn((r, 3, 3), |(_, i, j)| f64::from(i == j));
        let mut frames = Rigid {
            rotation: host_tensor::<B, 3>(identity.into_dyn(), &device),
            translation: Tensor::zeros([r, 1, 3], float_options::<B>(&device)),
        };
        let mut traj = Vec::with_capacity(self.num_layer);
        let mut sidechains = Vec::with_capacity(self.num_layer);
        let mut layer_acts = Vec::with_capacity(self.num_layer);
        for _ in 0..self.num_layer {
            act = act.clone()
                + f.invariant_point_attention.forward(act, pair.clone(), seq_mask.clone(), &frames);
            act = f.attention_layer_norm.forward(dropout.apply(act, self.dropout, None));
            let update = apply_transition(&f.transition, act.clone());
            act = f.transition_layer_norm.forward(dropout.apply(act + update, self.dropout, None));
            // frames ∘ update: R·R_u, R·t_u + t.
            let update = f.quat_rigid.forward(act.clone());
            let update_rotation = rotation_of_update(update.clone().narrow(1, 0, 3));
            let update_translation = update.narrow(1, 3, 3).unsqueeze_dim::<3>(1);
            frames = Rigid {
                translation: update_translation.matmul(frames.rotation.clone().swap_dims(1, 2))
                    + frames.translation,
                rotation: frames.rotation.matmul(update_rotation),
            };
            let scaled = Rigid {
                rotation: frames.rotation.clone(),
                translation: frames.translation.clone() * self.position_scale,
            };
            sidechains.push(f.rigid_sidechain.forward(
                &scaled,
                act.clone(),
                initial_act.clone(),
                tables,
            ));
            traj.push(
                Tensor::cat(vec![scaled.rotation, scaled.translation.swap_dims(1, 2)], 2)
                    .reshape([r, 12]),
            );
            layer_acts.push(act.clone());
            // Gradients do not flow through the rotations into the next layer.
            frames.rotation = frames.rotation.detach();
        }
        let final_atom14_positions =
            sidechains.last().expect("at least one layer").atom_pos.clone();
        let final_atom_mask = tables.atom37_exists.clone() * seq_mask.unsqueeze_dim::<2>(1);
        let final_atom_positions = atom14_to_atom37(tables, final_atom14_positions.clone())
            * final_atom_mask.clone().unsqueeze_dim::<3>(2);
        StructureOutput {
            traj: Tensor::stack(traj, 0),
            sidechains,
            act,
            layer_acts: Tensor::stack(layer_acts, 0),
            final_atom14_positions,
            final_atom_positions,
            final_atom_mask,
        }
    }
}
