//! ferrofold as a library: the README's example predicted from a pipeline's own code, every
//! record of a FASTA file with its alignment, the structures written as `predict` writes them.
//! The models are the installed weights (`ferrofold weights download alphafold`), else the
//! bundled one; over many records each parameter file is read once.
//!
//! ```sh
//! cargo run --release -p ferrofold-inference --example predict_as_library -- \
//!     examples/ubiquitin.fasta examples/ubiquitin.sto /tmp/predictions
//! ```

use std::path::PathBuf;

use ferrofold_inference::weights::{weights_dir, Manifest};
use ferrofold_inference::{
    read_records, AlignmentSource, ModelSpec, PredictOptions, PredictRun, RunEvent, TemplateSource,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [fasta, alignment, out_dir] = args.as_slice() else {
        return Err("usage: predict_as_library FASTA ALIGNMENT OUT_DIR".into());
    };
    let records = read_records(fasta, false)?;
    let weights = weights_dir(None)?;
    let mut models = Manifest::read(&weights)?.model_specs(&weights, &[], false)?;
    if models.is_empty() {
        models.push(ModelSpec::bundled());
    }
    let run = PredictRun {
        input: fasta.clone(),
        out_dir: out_dir.clone(),
        alignments: AlignmentSource::Files(vec![alignment.clone()]),
        templates: TemplateSource::None,
        search: Default::default(),
        options: PredictOptions { models, plots: false, ..Default::default() },
    };
    let summary = run.run::<ferrofold_model::CpuF32>(
        &Default::default(),
        &records,
        &mut |event| match event {
            RunEvent::Predicted(result) => {
                let best = &result.ranked[0];
                println!(
                    "{}: mean pLDDT {:.1} → {}",
                    result.id,
                    best.mean_plddt,
                    result.dir.display()
                )
            }
            RunEvent::Failed { origin, error } => eprintln!("{origin}: {error}"),
            RunEvent::Record { .. } => {}
        },
    )?;
    println!("{} of {} records predicted", summary.records - summary.failures, summary.records);
    Ok(())
}
