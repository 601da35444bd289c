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
    /// A complex: the model's two chains (e.g. `A,B`), scored as an interface (DockQ) against
    /// --reference-chains, each chain also on its own, and the two together.
    #[arg(long, value_delimiter = ',', requires = "reference_chains",
          conflicts_with_all = ["model_chain", "reference_chain"])]
    model_chains: Vec<String>,
    /// The reference's two chains, in the order of --model-chains.
    #[arg(long, value_delimiter = ',', requires = "model_chains")]
    reference_chains: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ScoreArgs) -> Result<()> {
    use ferrofold_features::protein::read_structure;
    if !args.model_chains.is_empty() {
        return score_complex(&args);
    }
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

/// Two chains against two: DockQ of their interface, each chain's scores, and the complex's.
fn score_complex(args: &ScoreArgs) -> Result<()> {
    use ferrofold_features::protein::read_structure;
    use ferrofold_inference::dockq::dockq;
    use ferrofold_inference::score::score;
    if args.model_chains.len() != 2 || args.reference_chains.len() != 2 {
        anyhow::bail!("--model-chains and --reference-chains take two chains each (e.g. A,B)");
    }
    let read = |path: &PathBuf, chains: &[String]| -> Result<Vec<_>> {
        chains.iter().map(|c| Ok(read_structure(path, Some(c))?)).collect()
    };
    let model = read(&args.model, &args.model_chains)?;
    let reference = read(&args.reference, &args.reference_chains)?;
    let interface =
        dockq([&model[0], &model[1]], [&reference[0], &reference[1]]).with_context(|| {
            format!(
                "{} chains {}: the chains do not touch (no heavy atoms within 5 Å), or too few \
                 residues match {}",
                args.reference.display(),
                args.reference_chains.join(","),
                args.model.display()
            )
        })?;
    let chains: Vec<_> = model.iter().zip(&reference).map(|(m, r)| score(m, r)).collect();
    use ferrofold_features::protein::Protein;
    let complex = score(&Protein::concatenated(&model), &Protein::concatenated(&reference));
    if args.json {
        let value = serde_json::json!({
            "interface": interface,
            "chains": chains,
            "complex": complex,
        });
        println!("{}", serde_json::to_string_pretty(&value).expect("plain data"));
        return Ok(());
    }
    println!("model      {} chains {}", args.model.display(), args.model_chains.join(","));
    println!("reference  {} chains {}", args.reference.display(), args.reference_chains.join(","));
    println!("DockQ      {:.3}", interface.dockq);
    println!(
        "Fnat       {:.3} ({} of {} native contacts)",
        interface.fnat, interface.correct_contacts, interface.native_contacts
    );
    println!("iRMSD      {:.3} Å", interface.irmsd);
    println!("LRMSD      {:.3} Å", interface.lrmsd);
    for (k, scores) in chains.iter().enumerate() {
        if let Some(s) = scores {
            println!(
                "chain {}    lDDT-Cα {:.4}  TM-score {:.4}",
                args.model_chains[k], s.lddt_ca, s.tm_score
            );
        }
    }
    if let Some(s) = complex {
        println!("complex    lDDT-Cα {:.4}  TM-score {:.4}", s.lddt_ca, s.tm_score);
    }
    Ok(())
}
