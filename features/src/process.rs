//! AlphaFold's input pipeline for inference: raw features (`make_sequence_features` +
//! `make_msa_features`, and template features when there are any) → the model's batch, one
//! slice per recycling iteration.
//!
//! Per iteration, as DeepMind's `process_tensors_from_config` in evaluation mode: sample the
//! cluster centres (query first), corrupt them as the BERT objective does, assign every
//! remaining row to its nearest centre, summarise the clusters, keep at most `max_extra_msa`
//! of the remaining rows, and encode `msa_feat`. With `resample_msa_in_recycling` every
//! iteration draws anew, as AlphaFold does.
//!
//! Unlike AlphaFold, rows are not padded up to `max_msa_clusters`/`max_extra_msa`: padded rows
//! are masked out inside the network and change no output, so leaving them out only saves
//! work. When nothing is left for the extra MSA, one fully masked row stands in, as padding
//! would.

use ndarray::{Array1, Array2, Array3, Array4, ArrayD, ArrayView2, Axis};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{FeaturesError, Result};
use crate::feature_dict::{FeatureArray, FeatureDict};
use crate::input_pipeline::{
    fix_templates_aatype, make_target_feat, make_template_pseudo_beta, one_hot_to_index,
};
use crate::msa_transforms::{
    correct_msa_restypes, crop_extra_msa, make_hhblits_profile, make_masked_msa, make_msa_feat,
    nearest_neighbor_clusters, sample_msa, summarize_clusters, MaskedMsaConfig, MsaRows,
};
use crate::residue_constants::ATOM_TYPE_NUM;

/// Settings of the inference pipeline (AlphaFold's `data.common` and `data.eval`).
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// Cluster centres, query included (AlphaFold: 512, minus the 4 template rows for models
    /// trained with templates).
    pub max_msa_clusters: usize,
    /// Extra MSA rows (AlphaFold: 5120 for models 1–4, 1024 for model 5).
    pub max_extra_msa: usize,
    /// BERT corruption of the cluster centres (AlphaFold applies it at inference too).
    pub masked_msa: MaskedMsaConfig,
    /// Recycling iterations after the first.
    pub num_recycle: usize,
    /// Draw the MSA sample anew for every iteration.
    pub resample_msa_in_recycling: bool,
    /// Templates passed to the network: the first this many of the raw features' (which are
    /// sorted by `sum_probs`), as AlphaFold's evaluation (4).
    pub max_templates: usize,
}

impl Default for PipelineConfig {
    /// AlphaFold's evaluation defaults (model 5's extra-MSA depth).
    fn default() -> Self {
        Self {
            max_msa_clusters: 512,
            max_extra_msa: 1024,
            masked_msa: MaskedMsaConfig::default(),
            num_recycle: 3,
            resample_msa_in_recycling: true,
            max_templates: 4,
        }
    }
}

fn int_feature(raw: &FeatureDict, name: &str) -> Result<ArrayD<i32>> {
    match raw.get(name) {
        Some(FeatureArray::I32(a)) => Ok(a.clone()),
        Some(FeatureArray::I64(a)) => Ok(a.mapv(|v| v as i32)),
        Some(other) => Err(FeaturesError::InvalidInput(format!(
            "raw feature `{name}` must be an integer array, found {}",
            other.dtype()
        ))),
        None => Err(FeaturesError::InvalidInput(format!("raw feature `{name}` is missing"))),
    }
}

fn matrix(name: &str, array: ArrayD<i32>, columns: Option<usize>) -> Result<Array2<i32>> {
    let shape = array.shape().to_vec();
    let matrix = array.into_dimensionality::<ndarray::Ix2>().map_err(|_| {
        FeaturesError::InvalidInput(format!("raw feature `{name}` must be 2-D, found {shape:?}"))
    })?;
    if let Some(columns) = columns {
        if matrix.ncols() != columns {
            return Err(FeaturesError::InvalidInput(format!(
                "raw feature `{name}` has {} columns, expected {columns}",
                matrix.ncols()
            )));
        }
    }
    Ok(matrix)
}

/// The processed batch from raw monomer features, every iteration stacked on the leading axis;
/// `seed` fixes every random draw. [`MonomerIterations`] gives the same slices one at a time.
pub fn process_monomer_features(
    raw: &FeatureDict,
    config: &PipelineConfig,
    seed: u64,
) -> Result<FeatureDict> {
    let iterations: Vec<FeatureDict> = MonomerIterations::new(raw, config, seed)?.collect();
    let mut batch = FeatureDict::default();
    for name in iterations[0].arrays.keys() {
        let slices: Vec<&FeatureArray> = iterations.iter().map(|f| &f.arrays[name]).collect();
        batch.insert(name.clone(), concatenate(name, &slices)?);
    }
    Ok(batch)
}

/// AlphaFold's processed inputs one recycling iteration at a time, each a batch with a leading
/// axis of one: only the iteration being run is in memory, however many recycles are asked
/// for. The slices equal [`process_monomer_features`]'s (one random stream, drawn in order).
pub struct MonomerIterations {
    rows: MsaRows,
    profile: Array2<f32>,
    config: PipelineConfig,
    rng: ChaCha8Rng,
    /// What every iteration shares (sequence and template features), leading axis of one.
    shared: FeatureDict,
    /// The first iteration's MSA features, reused when the MSA is not resampled.
    first: Option<FeatureDict>,
    next: usize,
    count: usize,
}

impl MonomerIterations {
    pub fn new(raw: &FeatureDict, config: &PipelineConfig, seed: u64) -> Result<Self> {
        let aatype_one_hot = matrix("aatype", int_feature(raw, "aatype")?, None)?;
        let aatype = one_hot_to_index(aatype_one_hot.mapv(|v| v as f32).view());
        let residues = aatype.len();
        if residues == 0 {
            return Err(FeaturesError::InvalidInput("the sequence has no residues".into()));
        }
        let vector = |name: &str| -> Result<Array1<i32>> {
            let a = int_feature(raw, name)?;
            let shape = a.shape().to_vec();
            a.into_dimensionality::<ndarray::Ix1>().ok().filter(|v| v.len() == residues).ok_or_else(
                || {
                    FeaturesError::InvalidInput(format!(
                        "raw feature `{name}` has shape {shape:?}, expected [{residues}]"
                    ))
                },
            )
        };
        let residue_index = vector("residue_index")?;
        let between_segment_residues = vector("between_segment_residues")?;
        let msa = matrix("msa", int_feature(raw, "msa")?, Some(residues))?;
        if msa.nrows() == 0 {
            return Err(FeaturesError::InvalidInput("raw feature `msa` has no rows".into()));
        }
        let deletions =
            matrix("deletion_matrix_int", int_feature(raw, "deletion_matrix_int")?, None)?;
        if deletions.dim() != msa.dim() {
            return Err(FeaturesError::InvalidInput(format!(
                "raw feature `deletion_matrix_int` has shape {:?}, `msa` {:?}",
                deletions.dim(),
                msa.dim()
            )));
        }

        let rows = MsaRows {
            msa: correct_msa_restypes(msa.view())?,
            deletion_matrix: deletions.mapv(|d| d as f32),
            msa_mask: Array2::ones(msa.raw_dim()),
        };
        let profile = make_hhblits_profile(rows.msa.view());
        let target_feat = make_target_feat(aatype.view(), between_segment_residues.view())?;

        let mut shared = FeatureDict::default();
        shared.insert("aatype", aatype.into_dyn().insert_axis(Axis(0)));
        shared.insert("residue_index", residue_index.into_dyn().insert_axis(Axis(0)));
        shared.insert("seq_mask", Array2::<f32>::ones((1, residues)).into_dyn());
        shared.insert("target_feat", target_feat.into_dyn().insert_axis(Axis(0)));
        shared.insert(
            "seq_length",
            Array1::from_elem(1, i32::try_from(residues).unwrap_or(i32::MAX)).into_dyn(),
        );
        insert_template_features(&mut shared, raw, residues, config.max_templates)?;
        Ok(Self {
            rows,
            profile,
            config: config.clone(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            shared,
            first: None,
            next: 0,
            count: config.num_recycle + 1,
        })
    }
}

impl Iterator for MonomerIterations {
    type Item = FeatureDict;

    fn next(&mut self) -> Option<FeatureDict> {
        if self.next == self.count {
            return None;
        }
        let msa = match &self.first {
            Some(first) => first.clone(),
            None => {
                let msa =
                    sample_iteration(&self.rows, self.profile.view(), &self.config, &mut self.rng);
                if !self.config.resample_msa_in_recycling {
                    self.first = Some(msa.clone());
                }
                msa
            }
        };
        self.next += 1;
        let mut iteration = self.shared.clone();
        for (name, array) in msa.arrays {
            iteration.insert(name, with_leading_axis(array));
        }
        Some(iteration)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.count - self.next, Some(self.count - self.next))
    }
}

impl ExactSizeIterator for MonomerIterations {}

/// The raw float feature `name` with exactly `shape` (`None`: any extent on that axis).
fn float_feature<D: ndarray::Dimension>(
    raw: &FeatureDict,
    name: &str,
    shape: &[Option<usize>],
) -> Result<ndarray::Array<f32, D>> {
    let array = raw
        .get(name)
        .ok_or_else(|| FeaturesError::InvalidInput(format!("raw feature `{name}` is missing")))?;
    let fits = array.shape().len() == shape.len()
        && array.shape().iter().zip(shape).all(|(&n, want)| want.is_none_or(|w| w == n));
    let expected: Vec<String> =
        shape.iter().map(|w| w.map_or("T".to_string(), |w| w.to_string())).collect();
    let mismatch = || {
        FeaturesError::InvalidInput(format!(
            "raw feature `{name}` has shape {:?}, expected [{}]",
            array.shape(),
            expected.join(", ")
        ))
    };
    if !fits {
        return Err(mismatch());
    }
    array.to_f64().mapv(|v| v as f32).into_dimensionality::<D>().map_err(|_| mismatch())
}

/// Adds the network's template inputs, with a leading axis of one, from the raw template features
/// (AlphaFold's `fix_templates_aatype`, `make_template_mask`, `make_pseudo_beta('template_')`
/// and the template crop of evaluation: the first `max_templates`). Nothing when the raw
/// features have no template (the network then runs without, AlphaFold's no-hit case).
fn insert_template_features(
    batch: &mut FeatureDict,
    raw: &FeatureDict,
    residues: usize,
    max_templates: usize,
) -> Result<()> {
    if raw.get("template_aatype").is_none() {
        return Ok(());
    }
    let one_hot: Array3<f32> =
        float_feature(raw, "template_aatype", &[None, Some(residues), Some(22)])?;
    let templates = one_hot.dim().0;
    if templates == 0 || max_templates == 0 {
        return Ok(());
    }
    let (t, r, atoms) = (Some(templates), Some(residues), Some(ATOM_TYPE_NUM));
    let positions: Array4<f32> =
        float_feature(raw, "template_all_atom_positions", &[t, r, atoms, Some(3)])?;
    let masks: Array3<f32> = float_feature(raw, "template_all_atom_masks", &[t, r, atoms])?;
    // One value per template, [T, 1] as AlphaFold writes it or flat.
    let sum_probs = match raw.get("template_sum_probs") {
        Some(values) => values.to_f64().mapv(|v| v as f32).into_shape_with_order((templates, 1)).map_err(
            |_| {
                FeaturesError::InvalidInput(format!(
                    "raw feature `template_sum_probs` must hold one value per template ({templates})"
                ))
            },
        )?,
        None => Array2::zeros((templates, 1)),
    };

    let first = ndarray::Slice::from(0..templates.min(max_templates));
    let one_hot = one_hot.slice_axis(Axis(0), first);
    let positions = positions.slice_axis(Axis(0), first);
    let masks = masks.slice_axis(Axis(0), first);
    let template_aatype = fix_templates_aatype(one_hot);
    let (pseudo_beta, pseudo_beta_mask) =
        make_template_pseudo_beta(template_aatype.view(), positions, masks);
    let kept = template_aatype.nrows();
    batch.insert("template_aatype", template_aatype.into_dyn().insert_axis(Axis(0)));
    for (name, array) in [
        ("template_all_atom_positions", positions.to_owned().into_dyn()),
        ("template_all_atom_masks", masks.to_owned().into_dyn()),
        ("template_sum_probs", sum_probs.slice_axis(Axis(0), first).to_owned().into_dyn()),
        ("template_mask", Array1::<f32>::ones(kept).into_dyn()),
        ("template_pseudo_beta", pseudo_beta.into_dyn()),
        ("template_pseudo_beta_mask", pseudo_beta_mask.into_dyn()),
    ] {
        batch.insert(name, array.insert_axis(Axis(0)));
    }
    Ok(())
}

/// `array` with a new leading axis of one.
fn with_leading_axis(array: FeatureArray) -> FeatureArray {
    match array {
        FeatureArray::I32(a) => FeatureArray::I32(a.insert_axis(Axis(0))),
        FeatureArray::I64(a) => FeatureArray::I64(a.insert_axis(Axis(0))),
        FeatureArray::F32(a) => FeatureArray::F32(a.insert_axis(Axis(0))),
        FeatureArray::F64(a) => FeatureArray::F64(a.insert_axis(Axis(0))),
        FeatureArray::Bool(a) => FeatureArray::Bool(a.insert_axis(Axis(0))),
    }
}

/// The iterations' slices of feature `name` joined on the leading axis; every slice must have
/// the first one's type and shape.
pub(crate) fn concatenate(name: &str, slices: &[&FeatureArray]) -> Result<FeatureArray> {
    let mismatch = || FeaturesError::InvalidInput(format!("feature `{name}` changes shape"));
    macro_rules! join {
        ($variant:ident) => {{
            let views = slices
                .iter()
                .map(|f| match f {
                    FeatureArray::$variant(a) => Ok(a.view()),
                    _ => Err(mismatch()),
                })
                .collect::<Result<Vec<_>>>()?;
            FeatureArray::$variant(ndarray::concatenate(Axis(0), &views).map_err(|_| mismatch())?)
        }};
    }
    Ok(match slices[0] {
        FeatureArray::I32(_) => join!(I32),
        FeatureArray::I64(_) => join!(I64),
        FeatureArray::F32(_) => join!(F32),
        FeatureArray::F64(_) => join!(F64),
        FeatureArray::Bool(_) => join!(Bool),
    })
}

/// One iteration's MSA features.
fn sample_iteration(
    rows: &MsaRows,
    profile: ArrayView2<f32>,
    config: &PipelineConfig,
    rng: &mut ChaCha8Rng,
) -> FeatureDict {
    let (mut sampled, extra) = sample_msa(rows, config.max_msa_clusters.max(1), rng);
    let masked = make_masked_msa(sampled.msa.view(), profile, &config.masked_msa, rng);
    sampled.msa = masked.msa;
    let assignment = nearest_neighbor_clusters(&sampled, &extra);
    let (cluster_profile, cluster_deletion_mean) =
        summarize_clusters(&sampled, &extra, &assignment);
    let mut extra = crop_extra_msa(&extra, config.max_extra_msa, rng);
    if extra.num_rows() == 0 {
        let residues = rows.msa.ncols();
        extra = MsaRows {
            msa: Array2::from_elem((1, residues), 21),
            deletion_matrix: Array2::zeros((1, residues)),
            msa_mask: Array2::zeros((1, residues)),
        };
    }
    let msa_feat = make_msa_feat(&sampled, &cluster_profile, &cluster_deletion_mean);

    let mut f = FeatureDict::default();
    f.insert("msa_feat", msa_feat.into_dyn());
    f.insert("msa_mask", sampled.msa_mask.into_dyn());
    f.insert("msa_row_mask", Array1::<f32>::ones(sampled.msa.nrows()).into_dyn());
    f.insert("bert_mask", masked.bert_mask.into_dyn());
    f.insert("true_msa", masked.true_msa.into_dyn());
    f.insert("extra_msa", extra.msa.into_dyn());
    f.insert("extra_msa_mask", extra.msa_mask.clone().into_dyn());
    f.insert(
        "extra_msa_row_mask",
        extra.msa_mask.map_axis(Axis(1), |r| r.iter().cloned().fold(0.0, f32::max)).into_dyn(),
    );
    f.insert("extra_has_deletion", extra.deletion_matrix.mapv(|d| d.clamp(0.0, 1.0)).into_dyn());
    f.insert(
        "extra_deletion_value",
        extra.deletion_matrix.mapv(crate::msa_transforms::deletion_value).into_dyn(),
    );
    f
}
