//! The gradient of a batch: its examples one at a time (so that memory stays that of one),
//! or shared out over model replicas (data parallelism); each example's dropout keyed by the
//! example, so that its masks are the same however the examples are batched.

use std::collections::BTreeMap;

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use ferrofold_model::{AlphaFold, DropoutKey, IterationOutput, ModelConfig};

use crate::error::Result;
use crate::example::TrainingExample;
use crate::losses::{alphafold_loss, LossConfig, Predictions};
use crate::passes::forward_for_training;
use crate::rematerialise::rematerialised_gradients;

/// The gradient of the mean loss over `examples` (a batch, one example at a time so that memory
/// stays that of one), with the mean of every loss term. With `rematerialise`, the trunk's
/// blocks are recomputed in the backward pass instead of kept ([`rematerialised_gradients`]).
pub fn batch_gradients<B: AutodiffBackend>(
    model: &AlphaFold<B>,
    examples: &[TrainingExample],
    model_config: &ModelConfig,
    loss_config: &LossConfig,
    rematerialise: bool,
    device: &B::Device,
) -> Result<(GradientsParams, BTreeMap<String, f64>)> {
    let examples: Vec<&TrainingExample> = examples.iter().collect();
    let n = examples.len().max(1);
    summed_gradients(model, &examples, n, model_config, loss_config, rematerialise, device)
}

/// [`batch_gradients`] with the examples shared out over `devices` (data parallelism, as burn's
/// multi-device training does it): each device trains a replica of the model (`fork`) on its
/// share in its own thread; the gradients are moved to the first device and summed there, in
/// the order of the devices. The result is the gradient of the same mean loss.
pub fn batch_gradients_on_devices<B: AutodiffBackend>(
    model: &AlphaFold<B>,
    examples: &[TrainingExample],
    model_config: &ModelConfig,
    loss_config: &LossConfig,
    rematerialise: bool,
    devices: &[B::Device],
) -> Result<(GradientsParams, BTreeMap<String, f64>)> {
    let main = devices.first().expect("at least one device");
    if devices.len() == 1 {
        return batch_gradients(model, examples, model_config, loss_config, rematerialise, main);
    }
    let n = examples.len().max(1);
    let shares: Vec<Vec<&TrainingExample>> = (0..devices.len())
        .map(|d| examples.iter().skip(d).step_by(devices.len()).collect())
        .collect();
    let results: Vec<Result<(GradientsParams, BTreeMap<String, f64>)>> =
        std::thread::scope(|scope| {
            let workers: Vec<_> = devices
                .iter()
                .zip(&shares)
                .filter(|(_, share)| !share.is_empty())
                .map(|(device, share)| {
                    let replica = model.clone().fork(device);
                    scope.spawn(move || {
                        summed_gradients(
                            &replica,
                            share,
                            n,
                            model_config,
                            loss_config,
                            rematerialise,
                            device,
                        )
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().expect("training worker panicked")).collect()
        });
    let mut accumulator = GradientsAccumulator::<AlphaFold<B>>::new();
    let mut terms: BTreeMap<String, f64> = BTreeMap::new();
    for result in results {
        let (grads, share_terms) = result?;
        accumulator.accumulate(model, grads.to_device(main, model));
        for (name, value) in share_terms {
            *terms.entry(name).or_default() += value;
        }
    }
    Ok((accumulator.grads(), terms))
}

/// The gradient of the sum over `examples` of their loss divided by `n`, with the terms
/// likewise.
fn summed_gradients<B: AutodiffBackend>(
    model: &AlphaFold<B>,
    examples: &[&TrainingExample],
    n: usize,
    model_config: &ModelConfig,
    loss_config: &LossConfig,
    rematerialise: bool,
    device: &B::Device,
) -> Result<(GradientsParams, BTreeMap<String, f64>)> {
    let n = n as f64;
    let mut accumulator = GradientsAccumulator::<AlphaFold<B>>::new();
    let mut terms: BTreeMap<String, f64> = BTreeMap::new();
    for example in examples {
        // Keyed by the example, its dropout masks are the same however the examples are
        // batched, on whichever thread, and again after a resume.
        let key = DropoutKey(example.seed ^ DROPOUT_SEED_MIX);
        let labels = example.labels.to_tensors::<B>(device);
        let mut mean_loss = |out: &IterationOutput<B>| {
            let breakdown = alphafold_loss(
                &Predictions::from_iteration(out),
                &labels,
                &example.msa_targets,
                loss_config,
            );
            for (name, value) in breakdown.values() {
                *terms.entry(name).or_default() += value / n;
            }
            breakdown.total.div_scalar(n)
        };
        let grads = if rematerialise {
            rematerialised_gradients(model, &example.batch, model_config, key, device, mean_loss)?
        } else {
            let out = forward_for_training(model, &example.batch, model_config, key, device)?;
            GradientsParams::from_grads(mean_loss(&out).backward(), model)
        };
        accumulator.accumulate(model, grads);
    }
    Ok((accumulator.grads(), terms))
}

/// Mixed into an example's seed for its dropout masks, so that they do not repeat the draws
/// of its input pipeline.
const DROPOUT_SEED_MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// Global L2 norm of all gradients.
pub(crate) fn gradient_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &GradientsParams,
) -> f64 {
    struct Norm<'a> {
        grads: &'a GradientsParams,
        sum: f64,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Norm<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
                self.sum += g.powi_scalar(2).sum().into_scalar().elem::<f64>();
            }
        }
    }
    let mut norm = Norm { grads, sum: 0.0 };
    model.visit(&mut norm);
    norm.sum.sqrt()
}

/// Multiplies every gradient by `factor`.
pub(crate) fn scale_gradients<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    factor: f64,
) {
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        factor: f64,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
                self.grads.register::<B::InnerBackend, D>(param.id, g.mul_scalar(self.factor));
            }
        }
    }
    model.visit(&mut Scale { grads, factor });
}
