//! `ferrofold score`: a model against a reference structure.

use std::path::PathBuf;

use anyhow::{Context, Result};

#[derive(clap::Args)]
pub struct ScoreArgs {
    /// The model (.pdb or .cif).
    model: PathBuf,
    /// The reference (.pdb or .cif); scores are normalised by its length.
    reference: PathBuf,
    /// Chain of the model (needed when the file has several).
    #[arg(long)]
    model_chain: Option<String>,
    /// Chain of the reference.
    #[arg(long)]
    reference_chain: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ScoreArgs) -> Result<()> {
    use ferrofold_features::protein::read_structure;
    let model = read_structure(&args.model, args.model_chain.as_deref())?;
    let reference = read_structure(&args.reference, args.reference_chain.as_deref())?;
    let scores = ferrofold_inference::score::score(&model, &reference).with_context(|| {
        format!(
            "{} and {} share fewer than 3 Cα atoms after sequence alignment",
            args.model.display(),
            args.reference.display()
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&scores).expect("plain data"));
    } else {
        println!("model      {}", args.model.display());
        println!(
            "reference  {} ({} residues with Cα)",
            args.reference.display(),
            scores.reference_length
        );
        println!("aligned    {}", scores.aligned);
        println!("lDDT-Cα    {:.4}", scores.lddt_ca);
        println!("TM-score   {:.4}", scores.tm_score);
        println!("GDT-TS     {:.4}", scores.gdt_ts);
        println!("RMSD       {:.3} Å", scores.rmsd);
    }
    Ok(())
}
