//! Adding a head and a loss term to AlphaFold without forking ferrofold: a per-residue
//! binding-site head on the single representation, trained together with AlphaFold's own loss.
//!
//! The "binding site" here is ubiquitin's Ile44 hydrophobic patch (the residues whose Cα lies
//! within 8 Å of the Cα of Leu8, Ile44 or Val70), the surface most of its partners bind; with
//! your own data, put your labels in its place.
//!
//! ```sh
//! cargo run --release -p ferrofold-training --example binding_site_head -- \
//!     tests/fixtures/data/1UBQ_A.pdb 20
//! ```

use std::path::PathBuf;

use burn::backend::Autodiff;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;
use ferrofold_data::TrainingChain;
use ferrofold_features::crop::CropMode;
use ferrofold_features::process::PipelineConfig;
use ferrofold_features::residue_constants::ATOM_CA;
use ferrofold_model::host::host_tensor;
use ferrofold_model::{AlphaFold, CpuF32, ModelConfig};
use ferrofold_training::example::{make_example, ExampleConfig};
use ferrofold_training::losses::{alphafold_loss, LossConfig, Predictions};
use ferrofold_training::passes::forward_for_training;

type Train = Autodiff<CpuF32>;

/// AlphaFold plus one more head: burn's derive makes the pair a module that the optimizer
/// trains as a whole.
#[derive(Module, Debug)]
struct WithBindingSite<B: Backend> {
    alphafold: AlphaFold<B>,
    binding_site: Linear<B>,
}

/// 1.0 for residues whose Cα lies within 8 Å of the Cα of Leu8, Ile44 or Val70.
fn ile44_patch(chain: &TrainingChain) -> Vec<f64> {
    let p = &chain.protein;
    let ca = |i: usize| [0, 1, 2].map(|k| p.atom_positions[(i, ATOM_CA, k)]);
    let centres: Vec<usize> = (0..p.aatype.len())
        .filter(|&i| [8, 44, 70].contains(&p.residue_index[i]) && p.atom_mask[(i, ATOM_CA)] > 0.0)
        .collect();
    (0..p.aatype.len())
        .map(|i| {
            let near = centres.iter().any(|&c| {
                let (a, b) = (ca(i), ca(c));
                (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f64>().sqrt() < 8.0
            });
            f64::from(u8::from(near && p.atom_mask[(i, ATOM_CA)] > 0.0))
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let structure = PathBuf::from(args.next().unwrap_or("tests/fixtures/data/1UBQ_A.pdb".into()));
    let steps: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let chain = TrainingChain::read(&structure, None)?;
    let patch = ile44_patch(&chain);
    println!(
        "{}: {} of {} residues in the patch",
        chain.id,
        patch.iter().sum::<f64>(),
        patch.len()
    );

    let device = Default::default();
    let config = ModelConfig::preset("reduced")?;
    let (alphafold, _) = AlphaFold::<Train>::init(&config, 0, &device);
    let mut model = WithBindingSite {
        alphafold,
        binding_site: LinearConfig::new(config.seq_channel, 1).init(&device),
    };
    let mut optimizer = AdamConfig::new().with_epsilon(1e-6).init();
    let examples = ExampleConfig {
        crop_size: 64,
        crop_mode: CropMode::Contiguous,
        pipeline: PipelineConfig::default(),
        default_resolution: 2.0,
    };

    for step in 0..steps {
        let example = make_example(&chain, &examples, 0, step as u64)?;
        // Dropout masks from the example's seed (each pass draws its own).
        let key = ferrofold_model::DropoutKey(example.seed);
        let out = forward_for_training(&model.alphafold, &example.batch, &config, key, &device)?;
        let labels = example.labels.to_tensors::<Train>(&device);
        let alphafold = alphafold_loss(
            &Predictions::from_iteration(&out),
            &labels,
            &example.msa_targets,
            &LossConfig::initial_training(),
        );

        // The new term: sigmoid cross entropy of the head's logits against the patch labels of
        // the cropped residues.
        let logits = model.binding_site.forward(out.representations.single.clone());
        let r = example.residues.len();
        let targets: Vec<f64> = example.residues.iter().map(|&i| patch[i]).collect();
        let targets: Tensor<Train, 2> =
            host_tensor(ndarray::Array2::from_shape_vec((r, 1), targets)?.into_dyn(), &device);
        let binding = (targets.clone().neg() * log_sigmoid(logits.clone())
            - targets.neg().add_scalar(1.0) * log_sigmoid(logits.neg()))
        .mean();

        let total = alphafold.total.clone() + binding.clone().mul_scalar(0.5);
        let grads = GradientsParams::from_grads(total.backward(), &model);
        model = optimizer.step(1e-3, model, grads);
        let value = |t: Tensor<Train, 1>| t.into_scalar().elem::<f64>();
        println!(
            "step {:>3}: AlphaFold loss {:.3}, binding-site loss {:.3}",
            step + 1,
            value(alphafold.total),
            value(binding)
        );
    }
    Ok(())
}
