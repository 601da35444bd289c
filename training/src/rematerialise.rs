//! Gradients with the trunk's blocks recomputed in the backward pass (AlphaFold's gradient
//! checkpointing: Jumper et al. 2021, Suppl. Sec. 1.11.8).
//!
//! Recording the graph of all 48 Evoformer blocks keeps every activation of every block until
//! the backward pass (bench/RESULTS.md has the figures). Here the forward pass runs without a
//! graph and keeps only each block's input; the backward pass then walks the plan's stages
//! from the last: the structure module, heads and loss from the last block's output, then each
//! block again from its saved input, then the embeddings. Each stage is recorded and
//! differentiated on its own, its inputs' gradients passed to the stage before it as the
//! upstream gradient of `Σ output · upstream`. At most one block's graph is alive at a time,
//! for one more forward pass of compute.
//!
//! Every stage draws its dropout masks from the pass's key and its own id
//! ([`ferrofold_model::Pass::context`]), so the recomputed blocks draw the masks of the forward
//! pass and the gradients are those of the network without rematerialisation, up to the order
//! of floating-point sums.

use burn::module::AutodiffModule;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use ferrofold_model::embedders::Recycled;
use ferrofold_model::trunk::TrunkState;
use ferrofold_model::{
    AlphaFold, DropoutKey, FeatureBatch, IterationOutput, ModelConfig, Pass, Stage,
};

use crate::Result;

/// The gradient of `loss_of(output)` for the last iteration of `batch` (earlier iterations
/// run without gradients, as in [`crate::passes::forward_for_training`]), with dropout drawn
/// from `key` and the trunk's blocks rematerialised.
pub fn rematerialised_gradients<B: AutodiffBackend>(
    model: &AlphaFold<B>,
    batch: &FeatureBatch,
    config: &ModelConfig,
    key: DropoutKey,
    device: &B::Device,
    loss_of: impl FnOnce(&IterationOutput<B>) -> Tensor<B, 1>,
) -> Result<GradientsParams> {
    let last = batch.num_iterations()? - 1;
    let prev = crate::passes::recycled_without_gradients(model, batch, config, key, device)?;
    let pass = Pass::training(config, key);
    let inputs = batch.iteration::<B>(last, config, device)?;
    let trunk = &model.evoformer;
    let blocks: Vec<Stage> = trunk.blocks().collect();

    // Forward without a graph (dropout applied all the same), keeping each block's input.
    let (mut saved, last_state) = {
        let inner = model.valid();
        let inner_inputs = batch.iteration::<B::InnerBackend>(last, config, device)?;
        let trunk = &inner.evoformer;
        let masks = trunk.masks(&inner_inputs);
        let mut state =
            trunk.embed(&inner_inputs, &prev, &masks, &pass.context(Stage::Embed), None);
        let mut saved = Vec::with_capacity(blocks.len());
        for &block in &blocks {
            saved.push(state.clone());
            state = trunk.block(block, state, &masks, &pass.context(block));
        }
        (saved, state)
    };

    let mut accumulator = GradientsAccumulator::<AlphaFold<B>>::new();
    let masks = trunk.masks(&inputs);

    // Structure module, heads and loss.
    let input = Leaves::of(last_state);
    let context = pass.context(Stage::StructureAndHeads);
    let output = model.structure_and_heads(input.state.clone(), &inputs, &context);
    let mut grads = loss_of(&output).backward();
    let mut upstream = input.gradients(&mut grads);
    accumulator.accumulate(model, GradientsParams::from_grads(grads, model));

    // Blocks, last first: each recomputed from its input, differentiated, and released.
    for &block in blocks.iter().rev() {
        let input = Leaves::of(saved.pop().expect("one saved input per block"));
        let output = trunk.block(block, input.state.clone(), &masks, &pass.context(block));
        let mut grads = surrogate(output, upstream).backward();
        upstream = input.gradients(&mut grads);
        accumulator.accumulate(model, GradientsParams::from_grads(grads, model));
    }

    // The embeddings.
    let context = pass.context(Stage::Embed);
    let start = trunk.embed(&inputs, &Recycled::from_inner(prev), &masks, &context, None);
    accumulator.accumulate(
        model,
        GradientsParams::from_grads(surrogate(start, upstream).backward(), model),
    );
    Ok(accumulator.grads())
}

/// A stage's input whose tensors are new leaves of the graph.
struct Leaves<B: AutodiffBackend> {
    state: TrunkState<B>,
}

impl<B: AutodiffBackend> Leaves<B> {
    fn of(state: TrunkState<B::InnerBackend>) -> Self {
        let leaf = |value: Tensor<B::InnerBackend, 3>| Tensor::from_inner(value).require_grad();
        Self {
            state: TrunkState {
                msa: leaf(state.msa),
                extra_msa: state.extra_msa.map(leaf),
                pair: leaf(state.pair),
                num_sequences: state.num_sequences,
            },
        }
    }

    /// The gradients that reached the leaves: the upstream gradients of the stage before
    /// (zeros where none reached the MSA or pair; none for an extra-MSA input that no later
    /// stage read).
    fn gradients(&self, grads: &mut B::Gradients) -> TrunkState<B::InnerBackend> {
        let gradient = |input: &Tensor<B, 3>, grads: &mut B::Gradients| {
            input.grad_remove(grads).unwrap_or_else(|| input.clone().inner().zeros_like())
        };
        TrunkState {
            msa: gradient(&self.state.msa, grads),
            extra_msa: self.state.extra_msa.as_ref().and_then(|t| t.grad_remove(grads)),
            pair: gradient(&self.state.pair, grads),
            num_sequences: self.state.num_sequences,
        }
    }
}

/// `Σ output · upstream` over the stage's outputs: its gradient with respect to anything before
/// the outputs is the vector-Jacobian product with the upstream gradients.
fn surrogate<B: AutodiffBackend>(
    output: TrunkState<B>,
    upstream: TrunkState<B::InnerBackend>,
) -> Tensor<B, 1> {
    let dot = |output: Tensor<B, 3>, upstream: Tensor<B::InnerBackend, 3>| {
        (output * Tensor::from_inner(upstream)).sum()
    };
    let mut sum = dot(output.msa, upstream.msa) + dot(output.pair, upstream.pair);
    if let (Some(output), Some(upstream)) = (output.extra_msa, upstream.extra_msa) {
        sum = sum + dot(output, upstream);
    }
    sum
}
