//! One training example: a chain cropped, featurized through AlphaFold's input pipeline (MSA
//! sampling, clustering and BERT masking drawn anew for each recycling iteration), with the
//! matching labels.

use ferrofold_features::crop::{contiguous_crop, spatial_crop, CropMode};
use ferrofold_features::process::{process_monomer_features, PipelineConfig};
use ferrofold_features::raw_features::make_monomer_raw_features;
use ferrofold_features::residue_constants::ATOM_CA;
use ferrofold_model::FeatureBatch;
use ndarray::{Array1, Array2, Axis, Ix3};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{Result, TrainingError};
use crate::labels::StructureLabels;
use crate::losses::MsaTargets;
use ferrofold_data::TrainingChain;

/// How examples are cut and featurized.
#[derive(Debug, Clone)]
pub struct ExampleConfig {
    pub crop_size: usize,
    pub crop_mode: CropMode,
    /// The pipeline's MSA depths and masking; `num_recycle` is set per example.
    pub pipeline: PipelineConfig,
    /// Resolution assumed for files that state none (0: unknown, which leaves the structure
    /// out of the confidence heads' losses, as AlphaFold does for NMR).
    pub default_resolution: f64,
}

/// A featurized, cropped chain with its labels.
#[derive(Debug, Clone)]
pub struct TrainingExample {
    pub id: String,
    /// The model's batch, `num_recycle + 1` iterations on the leading axis.
    pub batch: FeatureBatch,
    pub labels: StructureLabels,
    /// The masked-MSA targets of the last iteration (the one the loss sees).
    pub msa_targets: MsaTargets,
    /// Indices of the kept residues in the chain.
    pub residues: Vec<usize>,
    /// The seed the example was made from (it also seeds the example's dropout masks).
    pub seed: u64,
}

/// Builds the example of `chain` for `num_recycle` recycling iterations; `seed` fixes the crop
/// and every draw of the pipeline.
pub fn make_example(
    chain: &TrainingChain,
    config: &ExampleConfig,
    num_recycle: usize,
    seed: u64,
) -> Result<TrainingExample> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let protein = &chain.protein;
    let n = protein.aatype.len();
    let residues = match config.crop_mode {
        CropMode::Contiguous => contiguous_crop(n, config.crop_size, &mut rng),
        CropMode::Spatial => {
            let ca = protein.atom_positions.index_axis(Axis(1), ATOM_CA);
            let mask: Vec<f64> = protein.atom_mask.column(ATOM_CA).to_vec();
            spatial_crop(ca, &mask, config.crop_size, &mut rng)
        }
    };
    let sequence: String = {
        let full = chain.sequence();
        let bytes = full.as_bytes();
        residues.iter().map(|&i| char::from(bytes[i])).collect()
    };
    let msas: Vec<_> = chain.msa.iter().map(|m| m.select_columns(&residues)).collect();
    let mut raw = make_monomer_raw_features(&sequence, &chain.id, &msas)?;
    // The chain's own numbering, so that relative positions span gaps and crops correctly.
    let residue_index: Array1<i32> = residues.iter().map(|&i| protein.residue_index[i]).collect();
    raw.insert("residue_index", residue_index.into_dyn());

    let pipeline = PipelineConfig { num_recycle, ..config.pipeline.clone() };
    let features = process_monomer_features(&raw, &pipeline, rand::Rng::random(&mut rng))?;
    // The last iteration's slice [s, r] of a [iterations, s, r] feature.
    let last_iteration = |name: &str| -> Result<Array2<f64>> {
        let feature = features.get(name).ok_or_else(|| TrainingError::Invalid {
            path: chain.path.clone(),
            message: format!("the pipeline produced no `{name}`"),
        })?;
        Ok(feature
            .to_f64()
            .into_dimensionality::<Ix3>()
            .expect("[iterations, s, r]")
            .index_axis_move(Axis(0), num_recycle))
    };
    let true_msa = last_iteration("true_msa")?.mapv(|v| v as i32);
    let bert_mask = last_iteration("bert_mask")?;

    let mut labels = StructureLabels::from_protein(protein, chain.resolution).select(&residues);
    if labels.resolution == 0.0 {
        labels.resolution = config.default_resolution;
    }
    Ok(TrainingExample {
        id: chain.id.clone(),
        batch: FeatureBatch { features },
        labels,
        msa_targets: MsaTargets { true_msa, bert_mask },
        residues,
        seed,
    })
}
