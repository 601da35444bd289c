//! `ferrofold forward`: the network on a processed feature batch, every output written under
//! AlphaFold's names.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use ferrofold_features::feature_dict::FeatureDict;
use ferrofold_model::kernels::DeviceWatch;
use ferrofold_model::{AlphaFold, FeatureBatch, ModelConfig, ParamFile};
use indicatif::{ProgressBar, ProgressStyle};

use super::{run_on_device, Attention, Device, OnDevice};

#[derive(clap::Args)]
pub struct ForwardArgs {
    /// Processed feature batch (.npz), AlphaFold's model input.
    #[arg(long)]
    features: PathBuf,
    /// Parameters: DeepMind's params_model_*.npz, an OpenFold .pt checkpoint or ferrofold .safetensors.
    #[arg(long)]
    params: PathBuf,
    /// Network preset: model_1 … model_5, model_1_ptm … model_5_ptm, model_1_multimer_v3 …,
    /// reduced.
    #[arg(long)]
    preset: String,
    #[arg(long, value_enum, default_value = "f32")]
    precision: Precision,
    /// Process attention and transitions in chunks of this many rows (less memory, same result).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    chunk_size: Option<usize>,
    /// Visit this many keys at a time inside attention, with a running log-sum-exp (less memory;
    /// equal up to rounding).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    key_chunk_size: Option<usize>,
    #[arg(long, value_enum, default_value = "cpu")]
    device: Device,
    #[arg(long, value_enum, default_value = "fused")]
    attention: Attention,
    /// Output .npz.
    #[arg(long)]
    output: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Precision {
    F32,
    F64,
}

/// Runs in the chosen precision, on the chosen device (float64 on the CPU only).
pub fn run(args: ForwardArgs) -> Result<()> {
    match (args.precision, args.device) {
        (Precision::F32, device) => run_on_device(device, args),
        (Precision::F64, Device::Cpu) => {
            forward::<ferrofold_model::CpuF64>(args, &Default::default())
        }
        (Precision::F64, _) => bail!("--precision f64 runs on the CPU only (--device cpu)"),
    }
}

impl OnDevice for ForwardArgs {
    type Output = ();

    fn run<B: burn::prelude::Backend>(self, device: &B::Device) -> Result<()> {
        forward::<B>(self, device)
    }
}

fn forward<B: burn::prelude::Backend>(args: ForwardArgs, device: &B::Device) -> Result<()> {
    let mut config = ModelConfig::preset(&args.preset)?;
    config.chunk_size = args.chunk_size;
    config.key_chunk_size = args.key_chunk_size;
    config.attention_kernel = args.attention.into();
    let params = ParamFile::read(&args.params)?;
    let device = device.clone();
    let model = AlphaFold::<B>::load_owned(params, &config, &device)?;
    let batch = FeatureBatch::read(&args.features)?;
    let iterations = batch.num_iterations()?;
    let bar = ProgressBar::new(iterations as u64).with_style(
        ProgressStyle::with_template("{bar:40} iteration {pos}/{len} {elapsed}")
            .expect("valid template"),
    );
    let started = std::time::Instant::now();
    // A GPU backend's device thread swallows its own failures (a tensor above the largest
    // buffer): they are caught here instead of written out as results.
    let watch = DeviceWatch::start::<B>(&device);
    let output = model
        .forward(&batch, &config, &device, |_, _| bar.inc(1))
        .with_context(|| format!("running {} on {}", args.preset, args.features.display()))?;
    if let Some(message) = watch.as_ref().and_then(DeviceWatch::failure) {
        bail!(
            "running {} on {}: the GPU backend failed ({message}); try --chunk-size 16, a smaller \
             batch or --device cpu",
            args.preset,
            args.features.display()
        );
    }
    bar.finish_and_clear();
    tracing::info!(
        "forward pass: {iterations} iteration(s) in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let mut dict = FeatureDict::default();
    let outputs = output
        .finite_outputs(&config)
        .with_context(|| format!("running {} on {}", args.preset, args.features.display()))?;
    // A complex's batch names each residue's chain: its interface pTM.
    let asym_id = batch.features.get("asym_id").map(|a| a.to_f64());
    let last_iteration_chains = asym_id.as_ref().and_then(|a| a.outer_iter().last());
    let iptm = last_iteration_chains.and_then(|chains| {
        let chains: Vec<i64> = chains.iter().map(|&c| c as i64).collect();
        output.interface_ptm(&config, &chains)
    });
    let outputs =
        outputs.into_iter().chain(iptm.map(|v| ("iptm".to_string(), ndarray::arr0(v).into_dyn())));
    for (name, array) in outputs {
        match args.precision {
            Precision::F32 => dict.insert(name, array.mapv(|x| x as f32)),
            Precision::F64 => dict.insert(name, array),
        }
    }
    dict.save_npz(&args.output)?;
    tracing::info!("wrote {}", args.output.display());
    Ok(())
}
