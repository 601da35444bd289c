//! From a hit to a template row: the query-to-template residue mapping of the hit's alignment,
//! the hit's sequence found in (or realigned to) the entry's SEQRES, and the template residues'
//! atoms in atom37 order.

use std::collections::HashMap;

use ndarray::{Array1, Array2, Array3};

use super::{Failure, TemplateConfig, TemplateInfo, TemplateRow};
use crate::parsers::hhr::HhrHit;
use crate::parsers::mmcif::MmcifEntry;
use crate::residue_constants::{atom_order, hhblits_aa_to_id, ATOM_TYPE_NUM};
use crate::tools::kalign;

/// Query residue index → hit residue index (AlphaFold's `_build_query_to_hit_index_mapping`).
/// Keys are Python indices: -1 (query part not found) addresses the last residue, as there.
pub(super) fn query_to_hit_mapping(hit: &HhrHit, query: &str) -> Vec<(i64, i64)> {
    let hit_query: String = hit.query.chars().filter(|&c| c != '-').collect();
    if hit.query.is_empty() {
        return Vec::new();
    }
    let hit_len = hit.hit_sequence.chars().filter(|&c| c != '-').count() as i64;
    let offset = query.find(hit_query.as_str()).map_or(-1, |o| o as i64);
    let shifted = |indices: &[i64]| -> Vec<i64> {
        let min = indices.iter().copied().filter(|&x| x > -1).min().unwrap_or(0);
        indices.iter().map(|&x| if x > -1 { x - min } else { -1 }).collect()
    };
    let (q, t) = (shifted(&hit.indices_query), shifted(&hit.indices_hit));
    let mut mapping: Vec<(i64, i64)> = Vec::new();
    for (&qi, &ti) in q.iter().zip(&t) {
        if ti == -1 || qi == -1 || ti >= hit_len || qi + offset >= query.len() as i64 {
            continue;
        }
        insert(&mut mapping, qi + offset, ti);
    }
    mapping
}

/// Sets `key` → `value` keeping the first insertion's place (a Python dict's order).
fn insert(mapping: &mut Vec<(i64, i64)>, key: i64, value: i64) {
    match mapping.iter_mut().find(|(k, _)| *k == key) {
        Some(entry) => entry.1 = value,
        None => mapping.push((key, value)),
    }
}

/// A Python index into a sequence of `len` items (negative counts from the end).
pub(super) fn python_index(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let i = if index < 0 { index + len } else { index };
    (0..len).contains(&i).then_some(i as usize)
}

/// The chain whose SEQRES holds `template_sequence`, and where it starts (AlphaFold's
/// `_find_template_in_pdb`): the hit's chain, else any chain, else with `X` as a wildcard.
pub(super) fn find_template_in_entry<'a>(
    chain: &str,
    template_sequence: &str,
    entry: &'a MmcifEntry,
) -> Option<(&'a str, usize)> {
    let same_chain = entry.chain_to_seqres.iter().filter(|(id, _)| id == chain);
    for (id, seqres) in same_chain.chain(&entry.chain_to_seqres) {
        if let Some(offset) = seqres.find(template_sequence) {
            return Some((id, offset));
        }
    }
    // `X` on either side matches anything.
    let pattern = template_sequence.as_bytes();
    for (id, seqres) in &entry.chain_to_seqres {
        let s = seqres.as_bytes();
        if s.len() < pattern.len() {
            continue;
        }
        let found = (0..=s.len() - pattern.len()).find(|&start| {
            pattern.iter().zip(&s[start..]).all(|(&p, &c)| p == b'X' || p == c || c == b'X')
        });
        if let Some(offset) = found {
            return Some((id, offset));
        }
    }
    None
}

/// Realigns the hit's sequence to the chain's SEQRES with kalign (AlphaFold's
/// `_realign_pdb_template_to_query`); returns the SEQRES and the new mapping.
pub(super) fn realign(
    old_sequence: &str,
    chain: &str,
    entry: &MmcifEntry,
    old_mapping: &[(i64, i64)],
    config: &TemplateConfig,
) -> std::result::Result<(String, Vec<(i64, i64)>), Failure> {
    let new_sequence = match entry.seqres(chain) {
        Some(s) if !s.is_empty() => s.to_string(),
        // With one chain only, the chain id does not matter.
        _ if entry.chain_to_seqres.len() == 1 => entry.chain_to_seqres[0].1.clone(),
        _ => {
            return Err(Failure::Error(format!(
                "no chain {chain} in {}; it may not be a protein chain",
                entry.file_id
            )))
        }
    };
    if old_sequence.len() < 6 || new_sequence.len() < 6 {
        return Err(Failure::Error(format!(
            "cannot realign {old_sequence} to {new_sequence}: kalign needs 6 residues or more"
        )));
    }
    let aligned = kalign(&[("old", old_sequence), ("new", &new_sequence)], &config.kalign)
        .and_then(|text| crate::parsers::a3m::parse_a3m(&text, "kalign output"))
        .map_err(|e| Failure::Error(format!("could not realign the template with kalign: {e}")))?;
    let [old_aligned, new_aligned] = &aligned.sequences[..] else {
        return Err(Failure::Error("kalign returned no alignment of two sequences".into()));
    };
    let mut old_to_new: HashMap<i64, i64> = HashMap::new();
    let (mut old_index, mut new_index, mut same) = (-1i64, -1i64, 0usize);
    for (o, n) in old_aligned.bytes().zip(new_aligned.bytes()) {
        if o != b'-' {
            old_index += 1;
        }
        if n != b'-' {
            new_index += 1;
        }
        if o != b'-' && n != b'-' {
            old_to_new.insert(old_index, new_index);
            same += usize::from(o == n);
        }
    }
    let identity = same as f64 / old_sequence.len().min(new_sequence.len()) as f64;
    if identity < 0.9 {
        return Err(Failure::Error(format!(
            "the template sequence {old_sequence} is {:.0}% identical to the sequence in {} \
             chain {chain} ({new_sequence}); at least 90% is required",
            identity * 100.0,
            entry.file_id
        )));
    }
    let mapping = old_mapping
        .iter()
        .map(|&(q, old)| (q, old_to_new.get(&old).copied().unwrap_or(-1)))
        .collect();
    Ok((new_sequence.replace('-', ""), mapping))
}

type Atom37Positions = [[f32; 3]; ATOM_TYPE_NUM];
type Atom37Mask = [f32; ATOM_TYPE_NUM];

/// Atom37 positions and masks of every SEQRES residue of `chain` (AlphaFold's
/// `_get_atom_positions`, with its check that consecutive Cα are within 150 Å).
fn atom_positions(
    entry: &MmcifEntry,
    chain: &str,
) -> std::result::Result<(Vec<Atom37Positions>, Vec<Atom37Mask>), Failure> {
    let no_atoms = |m: String| Failure::Warning(format!("could not get atom data: {m}"));
    let residues = entry
        .seqres_to_structure
        .get(chain)
        .ok_or_else(|| no_atoms(format!("no chain {chain} in {}", entry.file_id)))?;
    let atom = |name: &str| atom_order(name).expect("an atom37 name");
    let (cd, nh1, nh2, sd, ca) = (atom("CD"), atom("NH1"), atom("NH2"), atom("SD"), atom("CA"));
    let mut positions = vec![[[0f32; 3]; ATOM_TYPE_NUM]; residues.len()];
    let mut masks = vec![[0f32; ATOM_TYPE_NUM]; residues.len()];
    for (i, residue) in residues.iter().enumerate() {
        let Some(residue) = residue else { continue };
        let (pos, mask) = (&mut positions[i], &mut masks[i]);
        for a in &residue.atoms {
            if let Some(k) = atom_order(&a.name) {
                pos[k] = a.position;
                mask[k] = 1.0;
            } else if a.name.eq_ignore_ascii_case("SE") && residue.name == "MSE" {
                pos[sd] = a.position;
                mask[sd] = 1.0;
            }
        }
        let distance = |a: [f32; 3], b: [f32; 3]| {
            ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
        };
        // Some entries name NH1 the guanidinium nitrogen nearer CD; AlphaFold swaps them back.
        if residue.name == "ARG"
            && mask[cd] > 0.0
            && mask[nh1] > 0.0
            && mask[nh2] > 0.0
            && distance(pos[nh1], pos[cd]) > distance(pos[nh2], pos[cd])
        {
            pos.swap(nh1, nh2);
            mask.swap(nh1, nh2);
        }
    }
    let mut previous: Option<[f32; 3]> = None;
    for (i, (pos, mask)) in positions.iter().zip(&masks).enumerate() {
        if mask[ca] > 0.0 {
            let here = pos[ca].map(f64::from);
            if let Some(prev) = previous {
                let prev = prev.map(f64::from);
                let d = ((here[0] - prev[0]).powi(2)
                    + (here[1] - prev[1]).powi(2)
                    + (here[2] - prev[2]).powi(2))
                .sqrt();
                if d > 150.0 {
                    return Err(no_atoms(format!(
                        "residues {i} and {} of chain {chain} are {d:.1} Å apart (limit 150)",
                        i + 1
                    )));
                }
            }
            previous = Some(pos[ca]);
        } else {
            previous = None;
        }
    }
    Ok((positions, masks))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn extract_features(
    entry: &MmcifEntry,
    pdb_id: &str,
    chain: &str,
    mut mapping: Vec<(i64, i64)>,
    template_sequence: &str,
    confidence_scores: &[u8],
    query: &str,
    config: &TemplateConfig,
) -> std::result::Result<(TemplateRow, Option<String>), Failure> {
    if entry.chain_to_seqres.is_empty() {
        return Err(Failure::Warning(format!("no chains in {pdb_id}")));
    }
    let mut warning = None;
    let mut confidence_scores = Some(confidence_scores);
    let (template_sequence, chain_id, offset) =
        match find_template_in_entry(chain, template_sequence, entry) {
            Some((id, offset)) => (template_sequence.to_string(), id.to_string(), offset as i64),
            None => {
                warning = Some(format!(
                    "the exact sequence {template_sequence} was not found in {pdb_id}_{chain}; \
                     realigned the template to the actual sequence"
                ));
                let (seqres, new_mapping) =
                    realign(template_sequence, chain, entry, &mapping, config)?;
                mapping = new_mapping;
                confidence_scores = None;
                (seqres, chain.to_string(), 0)
            }
        };
    let (positions, masks) = atom_positions(entry, &chain_id)?;

    let n = query.len();
    let mut row_positions = Array3::<f32>::zeros((n, ATOM_TYPE_NUM, 3));
    let mut row_masks = Array2::<f32>::zeros((n, ATOM_TYPE_NUM));
    let mut sequence = vec![b'-'; n];
    let mut confidence = Array1::<i64>::from_elem(n, -1);
    let template_bytes = template_sequence.as_bytes();
    let out_of_range = |what: &str, index: i64| {
        Failure::Error(format!("{pdb_id}_{chain_id}: {what} index {index} is out of range"))
    };
    for &(k, v) in &mapping {
        let k = python_index(k, n).ok_or_else(|| out_of_range("query", k))?;
        let template_index = python_index(v + offset, positions.len())
            .ok_or_else(|| out_of_range("template residue", v + offset))?;
        for a in 0..ATOM_TYPE_NUM {
            for x in 0..3 {
                row_positions[[k, a, x]] = positions[template_index][a][x];
            }
            row_masks[[k, a]] = masks[template_index][a];
        }
        let v_index = python_index(v, template_bytes.len())
            .ok_or_else(|| out_of_range("template sequence", v))?;
        sequence[k] = template_bytes[v_index];
        if let Some(scores) = confidence_scores {
            if let Some(&c) = usize::try_from(v).ok().and_then(|v| scores.get(v)) {
                if c != b' ' {
                    confidence[k] = i64::from(c.wrapping_sub(b'0'));
                }
            }
        }
    }
    if row_masks.sum() < 5.0 {
        return Err(Failure::Warning(format!(
            "the template's atom mask is (almost) empty for {pdb_id}_{chain_id}"
        )));
    }
    let mut aatype = Array2::<f32>::zeros((n, 22));
    for (i, &c) in sequence.iter().enumerate() {
        let id = if c == b'-' { Some(21) } else { hhblits_aa_to_id(c) };
        let id = id.ok_or_else(|| {
            Failure::Error(format!("{pdb_id}_{chain_id}: residue letter `{}`", char::from(c)))
        })?;
        aatype[[i, usize::from(id)]] = 1.0;
    }
    let row = TemplateRow {
        positions: row_positions,
        masks: row_masks,
        aatype,
        confidence_scores: confidence,
        scores: [0.0; 6],
        info: TemplateInfo {
            domain_name: format!("{pdb_id}_{chain_id}"),
            sequence: String::from_utf8_lossy(&sequence).into_owned(),
            release_date: String::new(),
        },
    };
    Ok((row, warning))
}
