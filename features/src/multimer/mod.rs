//! AlphaFold-Multimer's input features: several chains merged into one example, exactly as
//! DeepMind's v2.3.2 data pipeline builds them after its searches (`pipeline_multimer`:
//! `convert_monomer_features`, `add_assembly_features`, `pad_msa`; `feature_processing.
//! pair_and_merge`; `msa_pairing`).
//!
//! - Chains with the same sequence are one entity; chains are grouped by entity (in order of
//!   first appearance), which is the order of the example's residues.
//! - A heteromer's MSA starts with rows paired across chains by species (from each chain's
//!   pairing alignment, AlphaFold's UniProt search), then each chain's own rows block-diagonally
//!   (rows already in the paired block dropped). A homomer's chains share one dense MSA.
//! - MSAs are cropped to 2,048 rows per chain (paired rows at most half), templates to 4 per chain.

mod batch;
pub mod msa_features;
mod pairing;

pub use batch::{multimer_batch, MultimerIterations};

use std::collections::HashSet;

use ndarray::{
    concatenate, s, Array, Array1, Array2, Array3, Array4, ArrayD, ArrayView, Axis, RemoveAxis,
};

use crate::error::{FeaturesError, Result};
use crate::feature_dict::FeatureDict;
use crate::input_pipeline::fix_templates_aatype;
use crate::msa::Msa;
use crate::raw_features::{make_msa_features, unique_rows};
use crate::residue_constants::{
    derived, hhblits_aa_to_id, restype_order_with_x, ATOM_TYPE_NUM,
    MAP_HHBLITS_AATYPE_TO_OUR_AATYPE, MSA_GAP_INDEX,
};

/// At most this many MSA rows per chain (AlphaFold's `MSA_CROP_SIZE`); paired rows take at
/// most half.
pub const MSA_CROP_SIZE: usize = 2048;
/// At most this many templates per chain (AlphaFold's `MAX_TEMPLATES`).
pub const MAX_TEMPLATES: usize = 4;
/// At most this many rows of a pairing alignment are read (AlphaFold's `max_uniprot_hits`).
pub const MAX_PAIRING_ROWS: usize = 50_000;
/// The merged MSA is padded with empty rows to at least this many (`pad_msa`), so that the
/// extra MSA is never empty.
pub const MIN_MSA_ROWS: usize = 512;

/// One chain of a complex, as the monomer pipeline sees it.
#[derive(Debug, Clone, Copy)]
pub struct ChainInput<'a> {
    /// Names the chain in errors (e.g. `complex.fasta chain B`).
    pub name: &'a str,
    /// One-letter residue codes.
    pub sequence: &'a str,
    /// The chain's alignments, as for a monomer (rows de-duplicated together). Empty: the
    /// query alone.
    pub msas: &'a [Msa],
    /// The alignment whose rows are paired across chains by species (AlphaFold searches UniProt
    /// with jackhmmer for it). Read only when the complex has two or more different sequences;
    /// `None`: only the query rows are paired.
    pub pairing_msa: Option<&'a Msa>,
    /// Template features in the monomer layout (`template_aatype` one-hot [T, N, 22],
    /// `template_all_atom_masks`, `template_all_atom_positions`); `None`: no templates.
    pub templates: Option<&'a FeatureDict>,
}

/// The features of a complex, with AlphaFold-Multimer's names, shapes and types: `aatype`,
/// `residue_index`, `asym_id`, `entity_id`, `sym_id`, `msa`, `deletion_matrix`, `msa_mask`,
/// `bert_mask`, `cluster_bias_mask`, `template_*`, … (DeepMind's `REQUIRED_FEATURES` that the
/// pipeline fills).
pub fn multimer_features(chains: &[ChainInput]) -> Result<FeatureDict> {
    if chains.is_empty() {
        return Err(FeaturesError::InvalidInput("a complex needs at least one chain".into()));
    }
    let heteromer = chains.iter().map(|c| c.sequence).collect::<HashSet<_>>().len() > 1;
    let mut prepared = Vec::with_capacity(chains.len());
    for chain in chains {
        prepared.push(Chain::new(chain, heteromer)?);
    }
    let chains = assign_entities(chains, prepared);
    let num_chains = chains.len();
    let chains = if heteromer { pair_chains(chains) } else { chains };
    let chains: Vec<Chain> = chains.into_iter().map(|c| c.cropped(heteromer)).collect();
    Ok(merge(chains, heteromer, num_chains))
}

/// A chain's pairing rows: MSA (HHblits ids), deletions and the species of each row.
#[derive(Debug, Clone)]
pub(crate) struct PairingRows {
    msa: Array2<i32>,
    deletion_matrix: Array2<f32>,
    species: Vec<String>,
    /// Of each row, the fraction of query residues it has identical.
    similarity: Vec<f64>,
}

/// One chain (or, once homomers are merged, one entity's chains side by side).
#[derive(Debug, Clone)]
struct Chain {
    aatype: Array1<i32>,
    residue_index: Array1<i32>,
    asym_id: Array1<f64>,
    entity_id: Array1<f64>,
    sym_id: Array1<f64>,
    deletion_mean: Array1<f32>,
    /// The chain's own rows (HHblits ids) and deletions.
    msa: Array2<i32>,
    deletion_matrix: Array2<f32>,
    paired: Option<PairingRows>,
    template_aatype: Array2<i64>,
    template_all_atom_mask: Array3<f32>,
    template_all_atom_positions: Array4<f32>,
    num_templates: usize,
}

impl Chain {
    fn new(input: &ChainInput, heteromer: bool) -> Result<Chain> {
        let name = input.name;
        let n = input.sequence.len();
        let invalid = |message: String| FeaturesError::InvalidInput(format!("{name}: {message}"));
        if n == 0 {
            return Err(invalid("the chain has no residues".into()));
        }
        let mut aatype = Array1::zeros(n);
        for (i, c) in input.sequence.bytes().enumerate() {
            if !c.is_ascii_uppercase() {
                return Err(invalid(format!(
                    "position {}: `{}` is not an upper-case amino-acid letter",
                    i + 1,
                    c.escape_ascii()
                )));
            }
            aatype[i] = restype_order_with_x(c) as i32;
        }
        let query_only = query_msa(input.sequence);
        let msas =
            if input.msas.is_empty() { std::slice::from_ref(&query_only) } else { input.msas };
        for (k, msa) in msas.iter().enumerate() {
            check_query(name, &format!("alignment {}", k + 1), msa, input.sequence)?;
        }
        let msa_features = make_msa_features(msas).map_err(|e| invalid(e.to_string()))?;
        let msa = i32_2d(&msa_features, "msa");
        let deletion_matrix = i32_2d(&msa_features, "deletion_matrix_int").mapv(|d| d as f32);
        let deletion_mean = column_mean(&deletion_matrix);

        let paired = if heteromer {
            let mut msa = input.pairing_msa.cloned().unwrap_or(query_only);
            check_query(name, "pairing alignment", &msa, input.sequence)?;
            msa.truncate(MAX_PAIRING_ROWS);
            Some(PairingRows::new(&msa).map_err(|e| invalid(e.to_string()))?)
        } else {
            None
        };

        let (template_aatype, template_all_atom_mask, template_all_atom_positions) =
            match input.templates {
                Some(t) => templates_of(t, n).map_err(invalid)?,
                None => (
                    Array2::zeros((0, n)),
                    Array3::zeros((0, n, ATOM_TYPE_NUM)),
                    Array4::zeros((0, n, ATOM_TYPE_NUM, 3)),
                ),
            };
        let num_templates = template_aatype.nrows();
        Ok(Chain {
            aatype,
            residue_index: (0..n as i32).collect(),
            asym_id: Array1::zeros(n),
            entity_id: Array1::zeros(n),
            sym_id: Array1::zeros(n),
            deletion_mean,
            msa,
            deletion_matrix,
            paired,
            template_aatype,
            template_all_atom_mask,
            template_all_atom_positions,
            num_templates,
        })
    }

    fn len(&self) -> usize {
        self.aatype.len()
    }

    /// The pairing rows, which every chain of a heteromer has.
    fn paired_rows(&self) -> &PairingRows {
        self.paired.as_ref().expect("heteromer chains have pairing rows")
    }

    /// Crops the MSAs and templates (`_crop_single_chain`): at most half of `MSA_CROP_SIZE`
    /// paired rows, and the chain's own rows reduced by the paired rows that have residues of
    /// this chain, so that each chain has about `MSA_CROP_SIZE` rows in all.
    fn cropped(mut self, heteromer: bool) -> Chain {
        let own_rows = if let (true, Some(paired)) = (heteromer, &mut self.paired) {
            let keep = paired.msa.nrows().min(MSA_CROP_SIZE / 2);
            paired.truncate(keep);
            let with_residues =
                paired.msa.rows().into_iter().filter(|r| pairing::has_residue(*r)).count();
            self.msa.nrows().min(MSA_CROP_SIZE.saturating_sub(with_residues))
        } else {
            self.msa.nrows().min(MSA_CROP_SIZE)
        };
        self.msa = self.msa.slice(s![..own_rows, ..]).to_owned();
        self.deletion_matrix = self.deletion_matrix.slice(s![..own_rows, ..]).to_owned();
        let t = self.template_aatype.nrows().min(MAX_TEMPLATES);
        self.num_templates = t;
        self.template_aatype = self.template_aatype.slice(s![..t, ..]).to_owned();
        self.template_all_atom_mask = self.template_all_atom_mask.slice(s![..t, .., ..]).to_owned();
        self.template_all_atom_positions =
            self.template_all_atom_positions.slice(s![..t, .., .., ..]).to_owned();
        self
    }

    /// Pads the templates with empty ones to `MAX_TEMPLATES` (`_pad_templates`).
    fn pad_templates(&mut self) {
        let (t, n) = self.template_aatype.dim();
        let pad = MAX_TEMPLATES.saturating_sub(t);
        if pad == 0 {
            return;
        }
        self.template_aatype = concatenate![Axis(0), self.template_aatype, Array2::zeros((pad, n))];
        self.template_all_atom_mask = concatenate![
            Axis(0),
            self.template_all_atom_mask,
            Array3::zeros((pad, n, ATOM_TYPE_NUM))
        ];
        self.template_all_atom_positions = concatenate![
            Axis(0),
            self.template_all_atom_positions,
            Array4::zeros((pad, n, ATOM_TYPE_NUM, 3))
        ];
    }
}

impl PairingRows {
    fn new(msa: &Msa) -> Result<PairingRows> {
        let rows = unique_rows(std::slice::from_ref(msa))?;
        let n = msa.query_len();
        let mut ids = Array2::zeros((rows.len(), n));
        let mut deletions = Array2::zeros((rows.len(), n));
        let mut species = Vec::with_capacity(rows.len());
        for (r, row) in rows.iter().enumerate() {
            for (j, c) in row.sequence.bytes().enumerate() {
                ids[(r, j)] = hhblits_id(c, r)?;
                deletions[(r, j)] = row.deletions[j] as f32;
            }
            species.push(crate::msa::species_id(row.description).to_string());
        }
        Ok(PairingRows {
            similarity: PairingRows::similarities(&ids),
            msa: ids,
            deletion_matrix: deletions,
            species,
        })
    }

    fn truncate(&mut self, rows: usize) {
        self.msa = self.msa.slice(s![..rows, ..]).to_owned();
        self.deletion_matrix = self.deletion_matrix.slice(s![..rows, ..]).to_owned();
        self.species.truncate(rows);
        self.similarity.truncate(rows);
    }

    /// The rows `selection` names, `None` giving a gap row (`create_paired_features`).
    fn select(&self, selection: &[Option<usize>]) -> PairingRows {
        let n = self.msa.ncols();
        let mut msa = Array2::from_elem((selection.len(), n), MSA_GAP_INDEX as i32);
        let mut deletion_matrix = Array2::zeros((selection.len(), n));
        let mut species = Vec::with_capacity(selection.len());
        let mut similarity = Vec::with_capacity(selection.len());
        for (k, row) in selection.iter().enumerate() {
            if let Some(r) = *row {
                msa.row_mut(k).assign(&self.msa.row(r));
                deletion_matrix.row_mut(k).assign(&self.deletion_matrix.row(r));
            }
            species.push(row.map_or_else(String::new, |r| self.species[r].clone()));
            similarity.push(row.map_or(0.0, |r| self.similarity[r]));
        }
        PairingRows { msa, deletion_matrix, species, similarity }
    }
}

fn hhblits_id(c: u8, row: usize) -> Result<i32> {
    hhblits_aa_to_id(c).map(i32::from).ok_or_else(|| {
        FeaturesError::InvalidInput(format!(
            "MSA row {row}: `{}` is not in the HHblits alphabet",
            c.escape_ascii()
        ))
    })
}

fn query_msa(sequence: &str) -> Msa {
    let mut msa = Msa::default();
    msa.push(sequence.to_string(), vec![0; sequence.len()], String::new());
    msa
}

/// An alignment must be of this chain: its first row is the chain's sequence.
fn check_query(name: &str, what: &str, msa: &Msa, sequence: &str) -> Result<()> {
    match msa.sequences.first() {
        Some(query) if query == sequence => Ok(()),
        Some(query) => Err(FeaturesError::InvalidInput(format!(
            "{name}: the {what}'s query ({} residues, `{}…`) is not the chain's sequence ({} \
             residues, `{}…`)",
            query.len(),
            query.chars().take(10).collect::<String>(),
            sequence.len(),
            sequence.chars().take(10).collect::<String>()
        ))),
        None => Err(FeaturesError::InvalidInput(format!("{name}: the {what} has no rows"))),
    }
}

fn i32_2d(features: &FeatureDict, name: &str) -> Array2<i32> {
    match features.get(name) {
        Some(crate::FeatureArray::I32(a)) => {
            a.clone().into_dimensionality().expect("make_msa_features makes 2-D arrays")
        }
        _ => unreachable!("make_msa_features makes `{name}`"),
    }
}

/// Mean over rows in float32, summed row after row (as NumPy's `mean(axis=0)`).
fn column_mean(a: &Array2<f32>) -> Array1<f32> {
    let mut sum = Array1::<f32>::zeros(a.ncols());
    for row in a.rows() {
        sum += &row;
    }
    sum / a.nrows() as f32
}

type TemplateArrays = (Array2<i64>, Array3<f32>, Array4<f32>);

/// Monomer-layout template features → the multimer's: aatype as AlphaFold's indices (int64,
/// as NumPy's `take` makes them), `template_all_atom_masks` renamed.
fn templates_of(t: &FeatureDict, n: usize) -> std::result::Result<TemplateArrays, String> {
    let f32_array = |name: &str| -> std::result::Result<ArrayD<f32>, String> {
        match t.get(name) {
            Some(crate::FeatureArray::F32(a)) => Ok(a.clone()),
            Some(other) => {
                Err(format!("template feature `{name}` is {}, not float32", other.dtype()))
            }
            None => Err(format!("template feature `{name}` is missing")),
        }
    };
    let shape_error = |name: &str, a: &ArrayD<f32>, want: &str| {
        format!("template feature `{name}` has shape {:?}, expected {want}", a.shape())
    };
    let aatype = f32_array("template_aatype")?;
    let num = aatype.shape().first().copied().unwrap_or(0);
    let aatype = aatype
        .clone()
        .into_dimensionality::<ndarray::Ix3>()
        .ok()
        .filter(|a| a.dim() == (num, n, 22))
        .ok_or_else(|| shape_error("template_aatype", &aatype, &format!("[{num}, {n}, 22]")))?;
    let mask = f32_array("template_all_atom_masks")?;
    let mask = mask
        .clone()
        .into_dimensionality::<ndarray::Ix3>()
        .ok()
        .filter(|a| a.dim() == (num, n, ATOM_TYPE_NUM))
        .ok_or_else(|| {
            shape_error("template_all_atom_masks", &mask, &format!("[{num}, {n}, 37]"))
        })?;
    let positions = f32_array("template_all_atom_positions")?;
    let positions = positions
        .clone()
        .into_dimensionality::<ndarray::Ix4>()
        .ok()
        .filter(|a| a.dim() == (num, n, ATOM_TYPE_NUM, 3))
        .ok_or_else(|| {
            shape_error("template_all_atom_positions", &positions, &format!("[{num}, {n}, 37, 3]"))
        })?;
    Ok((fix_templates_aatype(aatype.view()).mapv(i64::from), mask, positions))
}

/// Entity ids by sequence (in order of first appearance), a symmetry id within each entity,
/// and the chains reordered by entity with chain ids 1, 2, … in that order
/// (`add_assembly_features`).
fn assign_entities(inputs: &[ChainInput], chains: Vec<Chain>) -> Vec<Chain> {
    let mut entities: Vec<(&str, Vec<Chain>)> = Vec::new();
    for (input, chain) in inputs.iter().zip(chains) {
        match entities.iter_mut().find(|(sequence, _)| *sequence == input.sequence) {
            Some((_, members)) => members.push(chain),
            None => entities.push((input.sequence, vec![chain])),
        }
    }
    let mut ordered = Vec::new();
    for (entity, (_, members)) in entities.into_iter().enumerate() {
        for (sym, mut chain) in members.into_iter().enumerate() {
            let n = chain.len();
            chain.asym_id = Array1::from_elem(n, (ordered.len() + 1) as f64);
            chain.entity_id = Array1::from_elem(n, (entity + 1) as f64);
            chain.sym_id = Array1::from_elem(n, (sym + 1) as f64);
            ordered.push(chain);
        }
    }
    ordered
}

/// Replaces each chain's pairing rows by the rows paired across chains, and drops from its own
/// rows those that also appear among its paired rows (`create_paired_features`,
/// `deduplicate_unpaired_sequences`).
fn pair_chains(mut chains: Vec<Chain>) -> Vec<Chain> {
    let pairing: Vec<&PairingRows> = chains.iter().map(Chain::paired_rows).collect();
    let rows = pairing::pair_rows(&pairing);
    for (c, chain) in chains.iter_mut().enumerate() {
        let selection: Vec<Option<usize>> = rows.iter().map(|row| row[c]).collect();
        let paired = chain.paired_rows().select(&selection);
        let paired_rows: HashSet<Vec<i32>> =
            paired.msa.rows().into_iter().map(|r| r.to_vec()).collect();
        let keep: Vec<usize> = (0..chain.msa.nrows())
            .filter(|&r| !paired_rows.contains(&chain.msa.row(r).to_vec()))
            .collect();
        chain.msa = chain.msa.select(Axis(0), &keep);
        chain.deletion_matrix = chain.deletion_matrix.select(Axis(0), &keep);
        chain.paired = Some(paired);
    }
    chains
}

/// Chains of one entity side by side, sharing MSA rows (`_merge_homomers_dense_msa`).
fn merge_dense(members: Vec<Chain>) -> Chain {
    let paired = members[0].paired.as_ref().map(|first| PairingRows {
        msa: cat(1, members.iter().map(|c| c.paired_rows().msa.view())),
        deletion_matrix: cat(1, members.iter().map(|c| c.paired_rows().deletion_matrix.view())),
        species: first.species.clone(),
        similarity: first.similarity.clone(),
    });
    Chain {
        aatype: cat(0, members.iter().map(|c| c.aatype.view())),
        residue_index: cat(0, members.iter().map(|c| c.residue_index.view())),
        asym_id: cat(0, members.iter().map(|c| c.asym_id.view())),
        entity_id: cat(0, members.iter().map(|c| c.entity_id.view())),
        sym_id: cat(0, members.iter().map(|c| c.sym_id.view())),
        deletion_mean: cat(0, members.iter().map(|c| c.deletion_mean.view())),
        msa: cat(1, members.iter().map(|c| c.msa.view())),
        deletion_matrix: cat(1, members.iter().map(|c| c.deletion_matrix.view())),
        paired,
        template_aatype: cat(1, members.iter().map(|c| c.template_aatype.view())),
        template_all_atom_mask: cat(1, members.iter().map(|c| c.template_all_atom_mask.view())),
        template_all_atom_positions: cat(
            1,
            members.iter().map(|c| c.template_all_atom_positions.view()),
        ),
        num_templates: members[0].num_templates,
    }
}

/// The parts joined along `axis` (the other axes agree by construction).
fn cat<'a, A: Clone + 'a, D: RemoveAxis + 'a>(
    axis: usize,
    parts: impl IntoIterator<Item = ArrayView<'a, A, D>>,
) -> Array<A, D> {
    let parts: Vec<_> = parts.into_iter().collect();
    concatenate(Axis(axis), &parts).expect("the parts agree on the other axes")
}

/// `blocks` on the diagonal of a [Σ rows, Σ columns] array filled with `fill`.
fn block_diagonal<T: Clone>(blocks: &[Array2<T>], fill: T) -> Array2<T> {
    let rows = blocks.iter().map(Array2::nrows).sum();
    let cols = blocks.iter().map(Array2::ncols).sum();
    let mut out = Array2::from_elem((rows, cols), fill);
    let (mut r, mut c) = (0, 0);
    for b in blocks {
        out.slice_mut(s![r..r + b.nrows(), c..c + b.ncols()]).assign(b);
        r += b.nrows();
        c += b.ncols();
    }
    out
}

/// The example (`merge_chain_features`, `process_final`, `pad_msa`).
fn merge(mut chains: Vec<Chain>, paired: bool, num_chains: usize) -> FeatureDict {
    for chain in &mut chains {
        chain.pad_templates();
    }
    // Entities in order of their id; chains are already grouped by entity.
    let mut groups: Vec<Vec<Chain>> = Vec::new();
    for chain in chains {
        match groups.last_mut() {
            Some(group) if group[0].entity_id[0] == chain.entity_id[0] => group.push(chain),
            _ => groups.push(vec![chain]),
        }
    }
    let groups: Vec<Chain> = groups.into_iter().map(merge_dense).collect();
    let first_num_templates = groups[0].num_templates;

    let aatype = cat(0, groups.iter().map(|g| g.aatype.view()));
    let n = aatype.len();
    let unpaired_msa = block_diagonal(
        &groups.iter().map(|g| g.msa.clone()).collect::<Vec<_>>(),
        MSA_GAP_INDEX as i32,
    );
    let unpaired_deletions = block_diagonal(
        &groups.iter().map(|g| g.deletion_matrix.clone()).collect::<Vec<_>>(),
        0.0f32,
    );
    let unpaired_bert = block_diagonal(
        &groups.iter().map(|g| Array2::<f32>::ones(g.msa.dim())).collect::<Vec<_>>(),
        0.0,
    );
    let (msa, deletion_matrix, bert_mask, cluster_bias_mask) = if paired {
        let paired_msa = cat(1, groups.iter().map(|g| g.paired_rows().msa.view()));
        let paired_deletions =
            cat(1, groups.iter().map(|g| g.paired_rows().deletion_matrix.view()));
        let rows = paired_msa.nrows() + unpaired_msa.nrows();
        let mut cluster_bias = Array1::<f64>::zeros(rows);
        cluster_bias[0] = 1.0;
        (
            concatenate![Axis(0), paired_msa, unpaired_msa],
            concatenate![Axis(0), paired_deletions, unpaired_deletions],
            concatenate![Axis(0), Array2::<f32>::ones(paired_msa.dim()), unpaired_bert],
            cluster_bias,
        )
    } else {
        // The first row of each entity's block (its query) is always a cluster centre.
        let cluster_bias = groups
            .iter()
            .flat_map(|g| (0..g.msa.nrows()).map(|r| if r == 0 { 1.0 } else { 0.0 }))
            .collect();
        (unpaired_msa, unpaired_deletions, unpaired_bert, cluster_bias)
    };
    let num_alignments = msa.nrows();
    let msa = msa.mapv(|id| MAP_HHBLITS_AATYPE_TO_OUR_AATYPE[id as usize] as i32);
    let entity_id = cat(0, groups.iter().map(|g| g.entity_id.view()));
    let seq_mask = entity_id.mapv(|e| if e > 0.0 { 1.0f32 } else { 0.0 });
    let msa_mask = Array2::from_shape_fn(msa.dim(), |(_, j)| seq_mask[j]);
    let atom_mask = &derived().restype_atom37_mask;
    let all_atom_mask =
        Array2::from_shape_fn((n, ATOM_TYPE_NUM), |(i, a)| atom_mask[aatype[i] as usize][a] as i32);

    let pad_rows = MIN_MSA_ROWS.saturating_sub(num_alignments);
    let pad_2d = |a: Array2<f32>| concatenate![Axis(0), a, Array2::zeros((pad_rows, n))];

    let mut f = FeatureDict::default();
    f.insert("aatype", aatype.clone().into_dyn());
    f.insert("residue_index", cat(0, groups.iter().map(|g| g.residue_index.view())).into_dyn());
    f.insert("asym_id", cat(0, groups.iter().map(|g| g.asym_id.view())).into_dyn());
    f.insert("sym_id", cat(0, groups.iter().map(|g| g.sym_id.view())).into_dyn());
    f.insert("entity_id", entity_id.clone().into_dyn());
    f.insert("entity_mask", entity_id.mapv(|e| i32::from(e != 0.0)).into_dyn());
    f.insert("seq_mask", seq_mask.into_dyn());
    f.insert("deletion_mean", cat(0, groups.iter().map(|g| g.deletion_mean.view())).into_dyn());
    f.insert("all_atom_mask", all_atom_mask.into_dyn());
    f.insert("all_atom_positions", ArrayD::<f64>::zeros(vec![n, ATOM_TYPE_NUM, 3]));
    f.insert("assembly_num_chains", ArrayD::from_elem(vec![], num_chains as i64));
    f.insert("seq_length", ArrayD::from_elem(vec![], n as i32));
    f.insert("num_alignments", ArrayD::from_elem(vec![], num_alignments as i32));
    f.insert("num_templates", ArrayD::from_elem(vec![], first_num_templates as i32));
    f.insert("msa", concatenate![Axis(0), msa, Array2::zeros((pad_rows, n))].into_dyn());
    f.insert("deletion_matrix", pad_2d(deletion_matrix).into_dyn());
    f.insert("msa_mask", pad_2d(msa_mask).into_dyn());
    f.insert("bert_mask", pad_2d(bert_mask).into_dyn());
    f.insert(
        "cluster_bias_mask",
        concatenate![Axis(0), cluster_bias_mask, Array1::zeros(pad_rows)].into_dyn(),
    );
    f.insert("template_aatype", cat(1, groups.iter().map(|g| g.template_aatype.view())).into_dyn());
    f.insert(
        "template_all_atom_mask",
        cat(1, groups.iter().map(|g| g.template_all_atom_mask.view())).into_dyn(),
    );
    f.insert(
        "template_all_atom_positions",
        cat(1, groups.iter().map(|g| g.template_all_atom_positions.view())).into_dyn(),
    );
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of `n` residues with `own` MSA rows, `paired` paired rows (the first
    /// `paired_with_residues` of them with residues, the rest gaps) and `templates` templates.
    fn chain(
        n: usize,
        own: usize,
        paired: usize,
        paired_with_residues: usize,
        templates: usize,
    ) -> Chain {
        let gap = MSA_GAP_INDEX as i32;
        let paired_msa =
            Array2::from_shape_fn(
                (paired, n),
                |(r, _)| if r < paired_with_residues { 0 } else { gap },
            );
        Chain {
            aatype: Array1::zeros(n),
            residue_index: Array1::zeros(n),
            asym_id: Array1::ones(n),
            entity_id: Array1::ones(n),
            sym_id: Array1::ones(n),
            deletion_mean: Array1::zeros(n),
            msa: Array2::zeros((own, n)),
            deletion_matrix: Array2::zeros((own, n)),
            paired: Some(PairingRows {
                deletion_matrix: Array2::zeros(paired_msa.dim()),
                species: vec![String::new(); paired],
                similarity: vec![0.0; paired],
                msa: paired_msa,
            }),
            template_aatype: Array2::zeros((templates, n)),
            template_all_atom_mask: Array3::zeros((templates, n, ATOM_TYPE_NUM)),
            template_all_atom_positions: Array4::zeros((templates, n, ATOM_TYPE_NUM, 3)),
            num_templates: templates,
        }
    }

    #[test]
    fn crops_keep_each_chain_near_the_msa_crop_size() {
        // Paired rows are cut to half the crop size; the chain's own rows make up the rest,
        // counting only paired rows where this chain has residues.
        let c = chain(3, 3000, 1500, 1000, 6).cropped(true);
        assert_eq!(c.paired_rows().msa.nrows(), MSA_CROP_SIZE / 2);
        assert_eq!(c.msa.nrows(), MSA_CROP_SIZE - 1000);
        assert_eq!((c.num_templates, c.template_all_atom_positions.dim().0), (4, 4));
        let c = chain(3, 3000, 1500, 1500, 2).cropped(true);
        assert_eq!(c.msa.nrows(), MSA_CROP_SIZE - MSA_CROP_SIZE / 2);
        assert_eq!(c.num_templates, 2);
        // A homomer's chains are not paired: the crop size applies to their own rows.
        let c = chain(3, 3000, 0, 0, 0).cropped(false);
        assert_eq!(c.msa.nrows(), MSA_CROP_SIZE);
        let c = chain(3, 10, 5, 5, 0).cropped(true);
        assert_eq!((c.msa.nrows(), c.paired_rows().msa.nrows()), (10, 5));
    }

    #[test]
    fn bad_chains_are_refused_with_their_name() {
        let msa = query_msa("MKV");
        let input = |sequence| ChainInput {
            name: "complex.fasta chain B",
            sequence,
            msas: std::slice::from_ref(&msa),
            pairing_msa: None,
            templates: None,
        };
        for (sequence, words) in [
            ("", "no residues"),
            ("MKW", "is not the chain's sequence"),
            ("MK1", "not an upper-case amino-acid letter"),
        ] {
            let err = multimer_features(&[input("MKV"), input(sequence)]).unwrap_err().to_string();
            assert!(err.starts_with("complex.fasta chain B: ") && err.contains(words), "{err}");
        }
        assert!(multimer_features(&[]).is_err());
    }
}
