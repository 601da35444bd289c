//! PDB and mmCIF text for an atom37 [`Protein`], as prediction outputs need them: all present
//! heavy atoms in atom37 order, per-atom B-factors (pLDDT for predictions), TER/END records.
//! (pdbtbx's writers are not used: they were found to write invalid mmCIF for these chains.)

use std::fmt::Write;

use crate::protein::Protein;
use crate::residue_constants::{ATOM_TYPES, RESTYPE_3};

fn residue_name(aatype: i32) -> &'static str {
    RESTYPE_3.get(aatype as usize).copied().unwrap_or("UNK")
}

/// The element of an atom37 name: its first letter (only C, N, O, S occur).
fn element(atom_name: &str) -> &str {
    &atom_name[..1]
}

/// A chain id of one character, as the PDB format allows (`A` when there is none).
fn pdb_chain_id(protein: &Protein) -> char {
    protein.chain_id.chars().next().filter(char::is_ascii_alphanumeric).unwrap_or('A')
}

/// PDB text: optional REMARK lines, one MODEL, ATOM records, TER, ENDMDL, END.
pub fn to_pdb(protein: &Protein, remarks: &[String]) -> String {
    complex_to_pdb(std::slice::from_ref(protein), remarks)
}

/// PDB text of several chains (a complex): optional REMARK lines, one MODEL, each chain's ATOM
/// records closed by its TER record, ENDMDL, END.
pub fn complex_to_pdb(chains: &[Protein], remarks: &[String]) -> String {
    let mut out = String::new();
    for remark in remarks {
        for line in remark.lines() {
            let _ = writeln!(out, "{:<80}", format!("REMARK 250 {line}"));
        }
    }
    out.push_str(&format!("{:<80}\n", "MODEL        1"));
    let mut serial = 1;
    for protein in chains {
        let chain = pdb_chain_id(protein);
        for i in 0..protein.len() {
            let name = residue_name(protein.aatype[i]);
            let insertion = insertion_code(protein, i);
            for (k, atom) in ATOM_TYPES.iter().enumerate() {
                if protein.atom_mask[(i, k)] < 0.5 {
                    continue;
                }
                // Names shorter than four characters start in column 14.
                let atom_field =
                    if atom.len() == 4 { atom.to_string() } else { format!(" {atom}") };
                let p = protein.atom_positions.slice(ndarray::s![i, k, ..]);
                let _ = writeln!(
                    out,
                    "ATOM  {:>5} {:<4} {:>3} {}{:>4}{}   {:>8.3}{:>8.3}{:>8.3}{:>6.2}{:>6.2}          {:>2}  ",
                    serial % 100_000,
                    atom_field,
                    name,
                    chain,
                    protein.residue_index[i] % 10_000,
                    insertion,
                    p[0],
                    p[1],
                    p[2],
                    1.0,
                    protein.b_factors[(i, k)].clamp(0.0, 999.99),
                    element(atom),
                );
                serial += 1;
            }
        }
        if let Some(last) = protein.len().checked_sub(1) {
            let _ = writeln!(
                out,
                "{:<80}",
                format!(
                    "TER   {:>5}      {:>3} {}{:>4}{}",
                    serial % 100_000,
                    residue_name(protein.aatype[last]),
                    chain,
                    protein.residue_index[last] % 10_000,
                    insertion_code(protein, last)
                )
            );
            // A TER record takes a serial number of its own.
            serial += 1;
        }
    }
    out.push_str(&format!("{:<80}\n{:<80}\n", "ENDMDL", "END"));
    out
}

fn insertion_code(protein: &Protein, i: usize) -> char {
    protein
        .insertion_codes
        .get(i)
        .and_then(|c| c.as_deref())
        .and_then(|c| c.chars().next())
        .unwrap_or(' ')
}

/// mmCIF text (PDBx): entity and polymer sequence tables, then `atom_site` with label and
/// author numbering; B-factors in `B_iso_or_equiv`.
pub fn to_mmcif(protein: &Protein, data_name: &str) -> String {
    complex_to_mmcif(std::slice::from_ref(protein), data_name)
}

/// mmCIF text of several chains (a complex): chains of one sequence are one entity (numbered
/// in order of first appearance), with the entity, polymer sequence and asym tables, then
/// `atom_site` with label and author numbering; B-factors in `B_iso_or_equiv`.
pub fn complex_to_mmcif(chains: &[Protein], data_name: &str) -> String {
    let block: String = data_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
        .collect();
    let block = if block.is_empty() { "ferrofold".to_string() } else { block };
    // Entities: distinct sequences in order of first appearance, with their chains.
    let mut entities: Vec<(String, Vec<usize>)> = Vec::new();
    let mut entity_of = Vec::with_capacity(chains.len());
    for (c, protein) in chains.iter().enumerate() {
        let sequence = protein.sequence();
        let e = match entities.iter().position(|(s, _)| *s == sequence) {
            Some(e) => e,
            None => {
                entities.push((sequence, Vec::new()));
                entities.len() - 1
            }
        };
        entities[e].1.push(c);
        entity_of.push(e + 1);
    }
    let mut out = String::new();
    let _ = writeln!(out, "data_{block}\n#\n_entry.id {block}\n#");
    out.push_str("loop_\n_entity.id\n_entity.type\n");
    for e in 1..=entities.len() {
        let _ = writeln!(out, "{e} polymer");
    }
    out.push_str(
        "#\nloop_\n_entity_poly.entity_id\n_entity_poly.type\n\
         _entity_poly.pdbx_seq_one_letter_code_can\n_entity_poly.pdbx_strand_id\n",
    );
    for (e, (sequence, members)) in entities.iter().enumerate() {
        let strands: Vec<String> =
            members.iter().map(|&c| pdb_chain_id(&chains[c]).to_string()).collect();
        let _ = writeln!(out, "{} 'polypeptide(L)' {sequence} {}", e + 1, strands.join(","));
    }
    out.push_str(
        "#\nloop_\n_entity_poly_seq.entity_id\n_entity_poly_seq.num\n_entity_poly_seq.mon_id\n",
    );
    for (e, (_, members)) in entities.iter().enumerate() {
        for (i, &a) in chains[members[0]].aatype.iter().enumerate() {
            let _ = writeln!(out, "{} {} {}", e + 1, i + 1, residue_name(a));
        }
    }
    out.push_str("#\nloop_\n_struct_asym.id\n_struct_asym.entity_id\n");
    for (protein, entity) in chains.iter().zip(&entity_of) {
        let _ = writeln!(out, "{} {entity}", pdb_chain_id(protein));
    }
    out.push_str(
        "#\nloop_\n_atom_site.group_PDB\n_atom_site.id\n_atom_site.type_symbol\n\
         _atom_site.label_atom_id\n_atom_site.label_alt_id\n_atom_site.label_comp_id\n\
         _atom_site.label_asym_id\n_atom_site.label_entity_id\n_atom_site.label_seq_id\n\
         _atom_site.pdbx_PDB_ins_code\n_atom_site.Cartn_x\n_atom_site.Cartn_y\n\
         _atom_site.Cartn_z\n_atom_site.occupancy\n_atom_site.B_iso_or_equiv\n\
         _atom_site.auth_seq_id\n_atom_site.auth_asym_id\n_atom_site.pdbx_PDB_model_num\n",
    );
    let mut serial = 1;
    for (protein, entity) in chains.iter().zip(&entity_of) {
        let chain = pdb_chain_id(protein);
        for i in 0..protein.len() {
            let name = residue_name(protein.aatype[i]);
            let insertion = match insertion_code(protein, i) {
                ' ' => '?',
                c => c,
            };
            for (k, atom) in ATOM_TYPES.iter().enumerate() {
                if protein.atom_mask[(i, k)] < 0.5 {
                    continue;
                }
                let p = protein.atom_positions.slice(ndarray::s![i, k, ..]);
                let _ = writeln!(
                    out,
                    "ATOM {serial} {} {atom} . {name} {chain} {entity} {} {insertion} {:.3} {:.3} {:.3} 1.00 {:.2} {} {chain} 1",
                    element(atom),
                    i + 1,
                    p[0],
                    p[1],
                    p[2],
                    protein.b_factors[(i, k)],
                    protein.residue_index[i],
                );
                serial += 1;
            }
        }
    }
    out.push_str("#\n");
    out
}
