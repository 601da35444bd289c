//! Raw features exactly as AlphaFold's data pipeline builds them (`make_sequence_features`,
//! `make_msa_features`): the input of the feature pipeline, stored with AlphaFold's key names.

use ndarray::{Array1, Array2};

use crate::error::{FeaturesError, Result};
use crate::feature_dict::FeatureDict;
use crate::msa::Msa;
use crate::residue_constants::{hhblits_aa_to_id, restype_order_with_x, RESTYPE_NUM};

/// `aatype` (one-hot over 20 amino acids + X, int32 [N, 21]), `between_segment_residues`,
/// `residue_index` (0-based), `seq_length`, and the strings `sequence`, `domain_name`.
pub fn make_sequence_features(sequence: &str, description: &str) -> Result<FeatureDict> {
    let n = sequence.len();
    if n == 0 {
        return Err(FeaturesError::InvalidInput(format!("sequence `{description}` is empty")));
    }
    let mut aatype = Array2::<i32>::zeros((n, RESTYPE_NUM + 1));
    for (i, c) in sequence.bytes().enumerate() {
        if !c.is_ascii_uppercase() {
            return Err(FeaturesError::InvalidInput(format!(
                "sequence `{description}`: position {}: `{}` is not an upper-case amino-acid letter",
                i + 1,
                c.escape_ascii()
            )));
        }
        aatype[(i, restype_order_with_x(c))] = 1;
    }
    let n_i32 = i32::try_from(n).map_err(|_| {
        FeaturesError::InvalidInput(format!("sequence `{description}` is too long"))
    })?;
    let mut f = FeatureDict::default();
    f.insert("aatype", aatype.into_dyn());
    f.insert("between_segment_residues", Array1::<i32>::zeros(n).into_dyn());
    f.insert("residue_index", Array1::from_iter(0..n_i32).into_dyn());
    f.insert("seq_length", Array1::from_elem(n, n_i32).into_dyn());
    f.strings.insert("sequence".into(), vec![sequence.to_string()]);
    f.strings.insert("domain_name".into(), vec![description.to_string()]);
    Ok(f)
}

/// `msa` (HHblits ids, int32 [S, N]), `deletion_matrix_int`, `num_alignments`, from one or
/// more alignments of the same query. A row identical (as aligned text) to an earlier row, in
/// the same or an earlier alignment, is dropped, as in AlphaFold.
pub fn make_msa_features(msas: &[Msa]) -> Result<FeatureDict> {
    let rows = unique_rows(msas)?;
    let n = msas[0].query_len();
    let mut msa = Array2::<i32>::zeros((rows.len(), n));
    let mut deletion_matrix = Array2::<i32>::zeros((rows.len(), n));
    for (r, row) in rows.iter().enumerate() {
        for (j, c) in row.sequence.bytes().enumerate() {
            // Parsers only produce letters of the HHblits alphabet; a hand-built Msa may not.
            let id = hhblits_aa_to_id(c).ok_or_else(|| {
                FeaturesError::InvalidInput(format!(
                    "MSA row {r}: `{}` is not in the HHblits alphabet",
                    c.escape_ascii()
                ))
            })?;
            msa[(r, j)] = i32::from(id);
            deletion_matrix[(r, j)] = i32::try_from(row.deletions[j]).unwrap_or(i32::MAX);
        }
    }
    let num_alignments = i32::try_from(rows.len()).unwrap_or(i32::MAX);
    let mut f = FeatureDict::default();
    f.insert("msa", msa.into_dyn());
    f.insert("deletion_matrix_int", deletion_matrix.into_dyn());
    f.insert("num_alignments", Array1::from_elem(n, num_alignments).into_dyn());
    Ok(f)
}

/// One row of an alignment, borrowed.
pub(crate) struct MsaRow<'a> {
    pub sequence: &'a str,
    pub deletions: &'a [u32],
    pub description: &'a str,
}

/// The rows `make_msa_features` keeps, in order: each aligned text once, first occurrence
/// first. Errors on no alignment, an empty one, or alignments of different widths.
pub(crate) fn unique_rows(msas: &[Msa]) -> Result<Vec<MsaRow<'_>>> {
    let Some(first) = msas.first() else {
        return Err(FeaturesError::InvalidInput("at least one MSA must be provided".into()));
    };
    let n = first.query_len();
    let mut seen = std::collections::HashSet::new();
    let mut rows = Vec::new();
    for (index, msa) in msas.iter().enumerate() {
        if msa.is_empty() {
            return Err(FeaturesError::InvalidInput(format!("MSA {index} has no sequences")));
        }
        if msa.query_len() != n {
            return Err(FeaturesError::InvalidInput(format!(
                "MSA {index} has {} columns but MSA 0 has {n}: alignments must be of the same query",
                msa.query_len()
            )));
        }
        for ((sequence, deletions), description) in
            msa.sequences.iter().zip(&msa.deletion_matrix).zip(&msa.descriptions)
        {
            if seen.insert(sequence.as_str()) {
                rows.push(MsaRow { sequence, deletions, description });
            }
        }
    }
    Ok(rows)
}

/// Sequence + MSA features for one query. With no alignment, the MSA is the query alone
/// (AlphaFold's single-sequence mode).
pub fn make_monomer_raw_features(
    sequence: &str,
    description: &str,
    msas: &[Msa],
) -> Result<FeatureDict> {
    let mut features = make_sequence_features(sequence, description)?;
    let single;
    let msas = if msas.is_empty() {
        let mut only_query = Msa::default();
        only_query.push(sequence.to_string(), vec![0; sequence.len()], description.to_string());
        single = [only_query];
        &single[..]
    } else {
        msas
    };
    if let Some(first) = msas.first().and_then(|m| m.sequences.first()) {
        if first.len() != sequence.len() {
            return Err(FeaturesError::InvalidInput(format!(
                "the first alignment's query has {} residues but the sequence `{description}` has {}",
                first.len(),
                sequence.len()
            )));
        }
    }
    features.extend(make_msa_features(msas)?);
    Ok(features)
}
