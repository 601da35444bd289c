//! `ferrofold convert-weights`: a parameter file checked against a preset and written as
//! ferrofold's safetensors.

use std::path::PathBuf;

use anyhow::Result;
use ferrofold_model::{AlphaFold, ModelConfig, ParamFile};

#[derive(clap::Args)]
pub struct ConvertArgs {
    /// Input parameters (AlphaFold .npz, OpenFold .pt or ferrofold .safetensors).
    input: PathBuf,
    /// Preset the parameters must fit (every tensor present, none extra, right shapes).
    #[arg(long)]
    preset: String,
    /// Output .safetensors.
    #[arg(long)]
    output: PathBuf,
}

pub fn run(args: ConvertArgs) -> Result<()> {
    let config = ModelConfig::preset(&args.preset)?;
    let input = ParamFile::read(&args.input)?;
    // Loading checks every name and shape against the preset; the loaded network is written
    // back under AlphaFold's names and shapes (an OpenFold checkpoint's blocks stacked, its
    // attention heads split).
    let (model, layout) = AlphaFold::<ferrofold_model::CpuF32>::load_with_layout(
        &input,
        &config,
        &Default::default(),
    )?;
    let params = layout.export(&model, &input.source_name);
    params.write_safetensors(&args.output)?;
    tracing::info!(
        "wrote {} ({} tensors, {} parameters)",
        args.output.display(),
        params.tensors.len(),
        params.parameter_count()
    );
    Ok(())
}
