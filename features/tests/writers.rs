//! PDB and mmCIF written by ferrofold read back (with pdbtbx) as the chain that was written.

use ferrofold_features::protein::{parse_structure, read_structure, Protein, StructureFormat};
use ferrofold_features::writers::{complex_to_mmcif, complex_to_pdb, to_mmcif, to_pdb};
use ferrofold_tests::data;

fn assert_same_chain(read_back: &Protein, original: &Protein, what: &str) {
    assert_eq!(read_back.aatype, original.aatype, "{what}: aatype");
    assert_eq!(read_back.residue_index, original.residue_index, "{what}: numbering");
    assert_eq!(read_back.atom_mask, original.atom_mask, "{what}: atoms");
    let position_error = (&read_back.atom_positions - &original.atom_positions)
        .iter()
        .fold(0.0f64, |m, d| m.max(d.abs()));
    // Three decimals in both formats.
    assert!(position_error <= 5e-4, "{what}: positions off by {position_error}");
    let b_error =
        (&read_back.b_factors - &original.b_factors).iter().fold(0.0f64, |m, d| m.max(d.abs()));
    assert!(b_error <= 5e-3, "{what}: B-factors off by {b_error}");
}

#[test]
fn written_structures_read_back_unchanged() {
    for key in ["1UBQ_A", "1AKE_A"] {
        let original = read_structure(&data(&format!("{key}.pdb")), None).unwrap();
        let pdb = to_pdb(&original, &["written by a test".to_string()]);
        assert!(pdb.lines().all(|l| l.len() == 80), "PDB lines are 80 columns");
        assert!(pdb.contains("\nTER ") && pdb.trim_end().ends_with("END"));
        let from_pdb = parse_structure(&pdb, StructureFormat::Pdb, None, "written.pdb").unwrap();
        assert_same_chain(&from_pdb, &original, &format!("{key} PDB"));

        let cif = to_mmcif(&original, key);
        let from_cif = parse_structure(&cif, StructureFormat::Mmcif, None, "written.cif").unwrap();
        assert_same_chain(&from_cif, &original, &format!("{key} mmCIF"));
    }
}

/// A complex (two chains of different sequence, and a copy of the first: two entities) reads
/// back chain by chain from both formats, with TER after each chain and one entity per sequence.
#[test]
fn written_complexes_read_back_chain_by_chain() {
    let mut first = read_structure(&data("1UBQ_A.pdb"), None).unwrap();
    first.chain_id = "A".into();
    let mut second = read_structure(&data("5PTI_A.pdb"), None).unwrap();
    second.chain_id = "B".into();
    let mut copy = first.clone();
    copy.chain_id = "C".into();
    // Moved away from the first copy (absent atoms stay at the origin, as read).
    for ((i, atom, _), x) in copy.atom_positions.indexed_iter_mut() {
        *x += 30.0 * copy.atom_mask[(i, atom)];
    }
    let chains = [first, second, copy];

    let pdb = complex_to_pdb(&chains, &[]);
    assert_eq!(pdb.lines().filter(|l| l.starts_with("TER ")).count(), 3);
    let cif = complex_to_mmcif(&chains, "complex");
    assert!(cif.contains("1 'polypeptide(L)' ") && cif.contains(" A,C\n"), "entities: {cif:.600}");
    for chain in &chains {
        for (text, format) in [(&pdb, StructureFormat::Pdb), (&cif, StructureFormat::Mmcif)] {
            let read = parse_structure(text, format, Some(&chain.chain_id), "complex").unwrap();
            assert_same_chain(&read, chain, &format!("chain {} {format:?}", chain.chain_id));
        }
    }
}
