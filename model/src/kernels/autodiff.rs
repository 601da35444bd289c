//! The fused attention under autodiff (training). The forward pass is the kernel and keeps
//! only its inputs; the backward pass recomputes the scores of this one attention call with
//! burn's operations and returns the gradient of every tracked input (the softmax gradient in
//! FlashAttention's form, `P ⊙ (dP − rowsum(dO ⊙ O))`). The inputs are the broadcast views
//! the model passes, so burn's `expand` backward sums the bias gradients back to their shapes.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::prelude::*;
use burn::tensor::TensorPrimitive;
use burn_cubecl::{element::BoolElement, CubeBackend, CubeRuntime};

use super::cube::launch;
use super::AttentionInputs;
use burn::tensor::activation::{sigmoid, softmax};

type Plain<R, BT> = CubeBackend<R, f32, i32, BT>;

#[derive(Debug)]
struct FusedAttentionBackward;

/// The checkpointed inputs (query, key, value, bias, pair bias, gate; an absent pair bias or
/// gate repeats the bias or the query and gets no gradient).
#[derive(Debug, Clone)]
struct Saved {
    inputs: [NodeId; 6],
    has_pair_bias: bool,
    has_gate: bool,
}

impl<R: CubeRuntime, BT: BoolElement> Backward<Plain<R, BT>, 6> for FusedAttentionBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 6>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let float = |primitive| {
            Tensor::<Plain<R, BT>, 4>::from_primitive(TensorPrimitive::Float(primitive))
        };
        let grad_out = float(grads.consume::<Plain<R, BT>>(&ops.node)); // [b, q, h, e]
        let Saved { inputs, has_pair_bias, has_gate } = ops.state;
        let [query, key, value, bias, pair_bias, gate] =
            inputs.map(|id| float(checkpointer.retrieve_node_output(id)));

        let mut scores = query.clone().matmul(key.clone().swap_dims(2, 3)) + bias;
        if has_pair_bias {
            scores = scores + pair_bias;
        }
        let probs = softmax(scores, 3); // [b, h, q, k]
        let attended = probs.clone().matmul(value.clone()); // [b, h, q, e]
        let mut grad_attended = grad_out.clone().swap_dims(1, 2);
        let mut grad_gate = None;
        if has_gate {
            let gate = sigmoid(gate); // [b, q, h, e]
            grad_gate = Some(
                grad_out
                    * attended.clone().swap_dims(1, 2)
                    * gate.clone()
                    * (gate.clone().neg() + 1.0),
            );
            grad_attended = grad_attended * gate.swap_dims(1, 2);
        }
        let grad_value = probs.clone().swap_dims(2, 3).matmul(grad_attended.clone());
        let grad_probs = grad_attended.clone().matmul(value.swap_dims(2, 3));
        let row = (grad_attended * attended).sum_dim(3);
        let grad_scores = probs * (grad_probs - row);
        let grad_query = grad_scores.clone().matmul(key);
        let grad_key = grad_scores.clone().swap_dims(2, 3).matmul(query);

        let grad_bias = grad_scores.clone();
        let gradients = [
            Some(grad_query),
            Some(grad_key),
            Some(grad_value),
            Some(grad_bias),
            has_pair_bias.then_some(grad_scores),
            grad_gate,
        ];
        for (node, grad) in ops.parents.into_iter().zip(gradients) {
            if let (Some(node), Some(grad)) = (node, grad) {
                grads.register::<Plain<R, BT>>(node.id, grad.into_primitive().tensor());
            }
        }
    }
}

/// The kernel on `Autodiff<CubeBackend<R, …>, C>`.
pub fn attention<R: CubeRuntime, BT: BoolElement, C: CheckpointStrategy>(
    inputs: AttentionInputs<Autodiff<Plain<R, BT>, C>>,
) -> Tensor<Autodiff<Plain<R, BT>, C>, 4> {
    let AttentionInputs { query, key, value, bias, pair_bias, gate } = inputs;
    let (has_pair_bias, has_gate) = (pair_bias.is_some(), gate.is_some());
    let query = query.into_primitive().tensor();
    let key = key.into_primitive().tensor();
    let value = value.into_primitive().tensor();
    let bias = bias.into_primitive().tensor();
    let pair_bias = pair_bias.map(|t| t.into_primitive().tensor());
    let gate = gate.map(|t| t.into_primitive().tensor());
    let inputs = [
        &query,
        &key,
        &value,
        &bias,
        pair_bias.as_ref().unwrap_or(&bias),
        gate.as_ref().unwrap_or(&query),
    ];
    let run = || {
        launch(
            query.primitive.clone(),
            key.primitive.clone(),
            value.primitive.clone(),
            bias.primitive.clone(),
            pair_bias.as_ref().map(|t| t.primitive.clone()),
            gate.as_ref().map(|t| t.primitive.clone()),
        )
    };
    let prepared = <FusedAttentionBackward as Backward<Plain<R, BT>, 6>>::prepare::<C>(
        FusedAttentionBackward,
        inputs.map(|t| t.node.clone()),
    )
    .compute_bound()
    .stateful();
    let output = match prepared {
        OpsKind::Tracked(mut prep) => {
            let saved = inputs.map(|t| prep.checkpoint(t));
            prep.finish(Saved { inputs: saved, has_pair_bias, has_gate }, run())
        }
        OpsKind::UnTracked(prep) => prep.finish(run()),
    };
    Tensor::from_primitive(TensorPrimitive::Float(output))
}
