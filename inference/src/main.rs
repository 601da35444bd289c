//! The `ferrofold` command line: one module per subcommand in `commands/`, each a thin layer
//! over the library.

mod commands;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use commands::{convert, data, featurize, forward, predict, score, train, weights};
use tracing_subscriber::EnvFilter;

/// The release and the commit it was built from.
const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("FERROFOLD_COMMIT"), ")");

#[derive(Parser)]
#[command(name = "ferrofold", version = VERSION, about = "AlphaFold2, reimplemented in Rust")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Predict structures: FASTA in, ranked PDB/mmCIF with confidence (JSON, PAE, plots) out.
    Predict(predict::PredictArgs),
    /// Compare a model with a reference structure on Cα: lDDT-Cα, TM-score, GDT-TS, RMSD.
    Score(score::ScoreArgs),
    /// Build AlphaFold's raw input features (sequence + MSA) from a FASTA file and alignments.
    Featurize(featurize::FeaturizeArgs),
    /// Run the network on a processed feature batch (leading dimension = recycles + 1) and
    /// write every output under AlphaFold's names.
    Forward(forward::ForwardArgs),
    /// Convert a parameter file (AlphaFold .npz, OpenFold .pt, ferrofold .safetensors) to
    /// ferrofold's native .safetensors, checking it against a preset.
    ConvertWeights(convert::ConvertArgs),
    /// Train a network from AlphaFold's random initialisation on a directory of structures.
    Train(train::TrainArgs),
    /// Training corpora: build an indexed HDF5 store from structures and alignments, inspect
    /// it, verify it, cluster its sequences.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Train starting from existing weights (AlphaFold .npz, OpenFold .pt, ferrofold
    /// .safetensors), with the fine-tuning losses (structural violations, experimentally
    /// resolved) on.
    Finetune(train::FinetuneArgs),
    /// AlphaFold's and OpenFold's published weights: download (resumable, every file checked),
    /// list, verify. `predict` without --params runs the installed ones.
    #[command(subcommand)]
    Weights(weights::WeightsCommand),
}

/// mimalloc instead of glibc's allocator: it reuses freed pages for the next tensor of the size,
/// where glibc unmaps every buffer over 32 MiB and faults its pages back in (bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    ferrofold_features::system::keep_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    // The matches are kept: training tells the flags given from their defaults by them.
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let subcommand = |name| matches.subcommand_matches(name).expect("the parsed subcommand");
    let result = match cli.command {
        Command::Predict(args) => predict::run(args),
        Command::Score(args) => score::run(args),
        Command::Featurize(args) => featurize::run(args),
        Command::Forward(args) => forward::run(args),
        Command::ConvertWeights(args) => convert::run(args),
        Command::Train(args) => train::run(args, None, subcommand("train")),
        Command::Data(command) => data::run(command),
        Command::Weights(command) => weights::run(command),
        Command::Finetune(args) => {
            train::run(args.train, Some(args.params), subcommand("finetune"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One readable line (with its causes) instead of a debug dump and backtrace.
            eprintln!("error: {}", commands::one_line(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks of every subcommand (no two options with one name, ...).
    #[test]
    fn the_command_line_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
