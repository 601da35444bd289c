//! Pairing of MSA rows across chains by species (DeepMind's `msa_pairing.pair_sequences` and
//! `reorder_paired_rows`, v2.3.2).

use std::collections::{BTreeMap, BTreeSet};

use super::PairingRows;
use crate::residue_constants::MSA_GAP_INDEX;

/// A species with more rows than this in any chain is not paired (AlphaFold's limit).
const MAX_ROWS_PER_SPECIES: usize = 600;

/// The rows to pair, one entry per chain in each: a row index of that chain's pairing MSA, or
/// `None` for a gap row (the species is missing from that chain). The query rows come first,
/// then rows paired across all chains, then across fewer; within each, in increasing product
/// of the row indices (AlphaFold's stand-in for e-values).
pub(crate) fn pair_rows(chains: &[&PairingRows]) -> Vec<Vec<Option<usize>>> {
    let num_chains = chains.len();
    let by_species: Vec<BTreeMap<&str, Vec<usize>>> = chains
        .iter()
        .map(|chain| {
            let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for (row, species) in chain.species.iter().enumerate() {
                groups.entry(species.as_str()).or_default().push(row);
            }
            groups
        })
        .collect();
    let all_species: BTreeSet<&str> = by_species.iter().flat_map(|g| g.keys().copied()).collect();

    // Rows by the number of chains they pair; the query rows pair all chains.
    let mut by_chain_count: Vec<Vec<Vec<Option<usize>>>> = vec![Vec::new(); num_chains + 1];
    by_chain_count[num_chains].push(vec![Some(0); num_chains]);
    for species in all_species.into_iter().filter(|s| !s.is_empty()) {
        let groups: Vec<Option<&Vec<usize>>> = by_species.iter().map(|g| g.get(species)).collect();
        let present: Vec<&Vec<usize>> = groups.iter().flatten().copied().collect();
        if present.len() <= 1 || present.iter().any(|rows| rows.len() > MAX_ROWS_PER_SPECIES) {
            continue;
        }
        let take = present.iter().map(|rows| rows.len()).min().unwrap_or(0);
        // Each chain's rows of this species, most similar to its query first.
        let columns: Vec<Vec<Option<usize>>> = groups
            .iter()
            .zip(chains)
            .map(|(rows, chain)| match rows {
                Some(rows) => {
                    let mut rows = (*rows).clone();
                    // Stable: rows of equal similarity keep their order. (AlphaFold sorts with
                    // NumPy's quicksort, which leaves the order of ties unspecified.)
                    rows.sort_by(|&a, &b| chain.similarity[b].total_cmp(&chain.similarity[a]));
                    rows.into_iter().take(take).map(Some).collect()
                }
                None => vec![None; take],
            })
            .collect();
        for k in 0..take {
            by_chain_count[present.len()].push(columns.iter().map(|c| c[k]).collect());
        }
    }

    let mut ordered = Vec::new();
    for mut rows in by_chain_count.into_iter().rev() {
        rows.sort_by_key(|row| index_product(row));
        ordered.extend(rows);
    }
    ordered
}

/// `abs(prod(indices))` with the gap row as -1, in int64 arithmetic as NumPy computes it.
fn index_product(row: &[Option<usize>]) -> i64 {
    row.iter().map(|r| r.map_or(-1, |r| r as i64)).fold(1i64, i64::wrapping_mul).wrapping_abs()
}

impl PairingRows {
    /// Fraction of the query's residues each row has identical (gaps included, as AlphaFold).
    pub(crate) fn similarities(msa: &ndarray::Array2<i32>) -> Vec<f64> {
        let n = msa.ncols();
        let query = msa.row(0);
        msa.rows()
            .into_iter()
            .map(|row| {
                let same = row.iter().zip(query.iter()).filter(|(a, b)| a == b).count();
                same as f64 / n as f64
            })
            .collect()
    }
}

/// Whether a row has a residue (not only gaps).
pub(crate) fn has_residue(row: ndarray::ArrayView1<i32>) -> bool {
    row.iter().any(|&id| id != MSA_GAP_INDEX as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn chain(species: &[&str], rows: &[&str]) -> PairingRows {
        let n = rows[0].len();
        let msa = Array2::from_shape_fn((rows.len(), n), |(r, j)| {
            crate::residue_constants::hhblits_aa_to_id(rows[r].as_bytes()[j]).unwrap() as i32
        });
        PairingRows {
            similarity: PairingRows::similarities(&msa),
            deletion_matrix: Array2::zeros(msa.dim()),
            msa,
            species: species.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn rows_pair_by_species_most_similar_first() {
        let a = chain(
            &["", "HUMAN", "MOUSE", "HUMAN", "YEAST"],
            &["AAAA", "CCAA", "AAAC", "AAAC", "CCCC"],
        );
        let b = chain(&["", "MOUSE", "HUMAN"], &["GG", "GA", "GG"]);
        let c = chain(&["", "HUMAN", "YEAST"], &["KK", "KA", "KK"]);
        let rows = pair_rows(&[&a, &b, &c]);
        // HUMAN in all three (a's row 3 is more similar than row 1), YEAST in a and c,
        // MOUSE in a and b; among pairs of two chains, by product of indices.
        let s = Some;
        assert_eq!(
            rows,
            vec![
                vec![s(0), s(0), s(0)],
                vec![s(3), s(2), s(1)],
                vec![s(2), s(1), None],
                vec![s(4), None, s(2)],
            ]
        );
    }

    #[test]
    fn species_with_too_many_rows_are_not_paired() {
        let many: Vec<&str> = std::iter::once("")
            .chain(std::iter::repeat_n("HUMAN", MAX_ROWS_PER_SPECIES + 1))
            .collect();
        let rows: Vec<&str> = vec!["A"; many.len()];
        let a = chain(&many, &rows);
        let b = chain(&["", "HUMAN"], &["C", "C"]);
        assert_eq!(pair_rows(&[&a, &b]), vec![vec![Some(0), Some(0)]]);
    }
}
