//! Gradients with the trunk's blocks recomputed in the backward pass (AlphaFold's gradient
//! checkpointing: Jumper et al. 2021, Suppl. Sec. 1.11.8).
//!
//! Recording the graph of all 48 Evoformer blocks keeps every activation of every block until
//! the backward pass: 14 GiB for the full network at 64 residues, far beyond a 24 GiB machine at
//! 128. Here the forward pass runs without a graph and keeps only each block's input; the
//! backward pass then goes stage by stage from the last: the structure module, heads and loss
//! from the last block's output, then each block again from its saved input, then the
//! embeddings. Each stage is recorded and differentiated on its own, its inputs' gradients
//! passed to the stage before it as the upstream gradient of `Σ output · upstream`. At most one
//! block's graph is alive at a time, for one more forward pass of compute.
//!
//! Dropout masks are drawn per stage from the example's seed (`seed_dropout_stage`), so the
//! recomputed blocks draw the masks of the forward pass and the gradients are those of the
//! network without rematerialisation, up to the order of floating-point sums.

use burn::module::AutodiffModule;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use ferrofold_model::embedders::Recycled;
use ferrofold_model::evoformer::MsaPair;
use ferrofold_model::primitives::dropout_always;
use ferrofold_model::{AlphaFold, FeatureBatch, IterationOutput, ModelConfig};

use crate::Result;

/// The gradient of `loss_of(output)` for the last iteration of `batch` (earlier iterations
/// run without gradients, as in [`crate::trainer::forward_for_training`]), with the trunk's
/// blocks rematerialised.
pub fn rematerialised_gradients<B: AutodiffBackend>(
    model: &AlphaFold<B>,
    batch: &FeatureBatch,
    config: &ModelConfig,
    device: &B::Device,
    loss_of: impl FnOnce(&IterationOutput<B>) -> Tensor<B, 1>,
) -> Result<GradientsParams> {
    let last = batch.num_iterations()? - 1;
    let prev = crate::trainer::recycled_without_gradients(model, batch, config, device)?;
    let inner = model.valid();
    let inner_inputs = batch.iteration::<B::InnerBackend>(last, config, device)?;
    let inputs = batch.iteration::<B>(last, config, device)?;

    // Forward without a graph (dropout applied all the same), keeping each block's input.
    let trunk = &inner.evoformer;
    let (mut extra_inputs, mut evoformer_inputs, last_act, num_sequences) = {
        let _dropout = dropout_always();
        let masks = trunk.masks(&inner_inputs);
        let start = trunk.embed(&inner_inputs, &prev, &masks, None);
        let mut extra_inputs = Vec::with_capacity(trunk.extra_msa_stack.len());
        let mut extra = start.extra;
        for k in 0..trunk.extra_msa_stack.len() {
            extra_inputs.push(extra.clone());
            extra = trunk.extra_msa_block(k, extra, &masks);
        }
        let mut evoformer_inputs = Vec::with_capacity(trunk.evoformer_iteration.len());
        let mut act = MsaPair { msa: start.msa, pair: extra.pair };
        for k in 0..trunk.evoformer_iteration.len() {
            evoformer_inputs.push(act.clone());
            act = trunk.evoformer_block(k, act, &masks);
        }
        (extra_inputs, evoformer_inputs, act, start.num_sequences)
    };
    drop(inner);

    let mut accumulator = GradientsAccumulator::<AlphaFold<B>>::new();
    let trunk = &model.evoformer;
    let masks = trunk.masks(&inputs);

    // Structure module, heads and loss.
    let (msa, pair) = (leaf::<B>(last_act.msa), leaf::<B>(last_act.pair));
    let representations =
        trunk.representations(MsaPair { msa: msa.clone(), pair: pair.clone() }, num_sequences);
    let mut grads = loss_of(&model.outputs(representations, &inputs)).backward();
    let mut upstream_msa = Some(gradient(&msa, &mut grads));
    let mut upstream_pair = gradient(&pair, &mut grads);
    accumulator.accumulate(model, GradientsParams::from_grads(grads, model));

    // Blocks, last first: each recomputed from its input, differentiated, and released.
    let evoformer_blocks = (0..trunk.evoformer_iteration.len()).rev().map(|k| (k, false));
    let extra_blocks = (0..trunk.extra_msa_stack.len()).rev().map(|k| (k, true));
    let mut evoformer_msa_gradient = None;
    for (k, is_extra) in evoformer_blocks.chain(extra_blocks) {
        let saved = if is_extra { &mut extra_inputs } else { &mut evoformer_inputs };
        let input = saved.pop().expect("one saved input per block");
        let (msa, pair) = (leaf::<B>(input.msa), leaf::<B>(input.pair));
        let act = MsaPair { msa: msa.clone(), pair: pair.clone() };
        let out = if is_extra {
            trunk.extra_msa_block(k, act, &masks)
        } else {
            trunk.evoformer_block(k, act, &masks)
        };
        // The extra-MSA stack's last MSA is not used downstream: only its pair has a gradient.
        let mut surrogate = dot(out.pair, upstream_pair);
        if let Some(upstream) = upstream_msa.take() {
            surrogate = surrogate + dot(out.msa, upstream);
        }
        let mut grads = surrogate.backward();
        upstream_pair = gradient(&pair, &mut grads);
        let msa_gradient = gradient(&msa, &mut grads);
        accumulator.accumulate(model, GradientsParams::from_grads(grads, model));
        if !is_extra && k == 0 {
            // The Evoformer's MSA comes from the embeddings, not from the extra-MSA stack.
            evoformer_msa_gradient = Some(msa_gradient);
        } else {
            upstream_msa = Some(msa_gradient);
        }
    }

    // The embeddings: inputs of the first Evoformer block (MSA) and the extra-MSA stack.
    let start = trunk.embed(&inputs, &Recycled::from_inner(prev), &masks, None);
    let mut surrogate = dot(start.extra.pair, upstream_pair);
    if let Some(upstream) = evoformer_msa_gradient {
        surrogate = surrogate + dot(start.msa, upstream);
    }
    if let Some(upstream) = upstream_msa {
        // The extra-MSA stack's input (none without extra-MSA blocks).
        surrogate = surrogate + dot(start.extra.msa, upstream);
    }
    accumulator.accumulate(model, GradientsParams::from_grads(surrogate.backward(), model));
    Ok(accumulator.grads())
}

/// A stage's input: a new leaf of the graph.
fn leaf<B: AutodiffBackend>(value: Tensor<B::InnerBackend, 3>) -> Tensor<B, 3> {
    Tensor::from_inner(value).require_grad()
}

/// The gradient that reached `input` (zeros where none did).
fn gradient<B: AutodiffBackend>(
    input: &Tensor<B, 3>,
    grads: &mut B::Gradients,
) -> Tensor<B::InnerBackend, 3> {
    input.grad_remove(grads).unwrap_or_else(|| input.clone().inner().zeros_like())
}

/// `Σ output · upstream`: its gradient with respect to anything before `output` is the
/// vector-Jacobian product with the upstream gradient.
fn dot<B: AutodiffBackend>(
    output: Tensor<B, 3>,
    upstream: Tensor<B::InnerBackend, 3>,
) -> Tensor<B, 1> {
    (output * Tensor::from_inner(upstream)).sum()
}
