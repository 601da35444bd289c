//! Residue constants: the amino-acid alphabet, the atom37 and atom14 atom layouts, rigid groups,
//! chi angles and ideal ("literature") geometry, as AlphaFold2 defines them.
//!
//! The tables are the published facts (Engh & Huber geometry, as tabulated by AlphaFold); the
//! derived arrays (masks, index maps, default frames) are computed from them once, lazily, and
//! checked number for number against DeepMind's arrays in `tests/residue_constants_parity.rs`.

use std::sync::OnceLock;

/// The 20 standard amino acids in AlphaFold's order (index = `aatype`).
pub const RESTYPES: [u8; 20] = *b"ARNDCQEGHILKMFPSTWYV";
/// Number of standard residue types.
pub const RESTYPE_NUM: usize = 20;
/// `aatype` of an unknown residue (`X`).
pub const UNK_RESTYPE_INDEX: usize = 20;
/// `aatype` values in the MSA alphabet: 20 amino acids, unknown, gap.
pub const MSA_GAP_INDEX: usize = 21;
/// Three-letter codes, indexed by `aatype` (20 standard + `UNK`).
pub const RESTYPE_3: [&str; 21] = [
    "ALA", "ARG", "ASN", "ASP", "CYS", "GLN", "GLU", "GLY", "HIS", "ILE", "LEU", "LYS", "MET",
    "PHE", "PRO", "SER", "THR", "TRP", "TYR", "VAL", "UNK",
];

/// The 37 atom names of the atom37 layout, in order.
pub const ATOM_TYPES: [&str; 37] = [
    "N", "CA", "C", "CB", "O", "CG", "CG1", "CG2", "OG", "OG1", "SG", "CD", "CD1", "CD2", "ND1",
    "ND2", "OD1", "OD2", "SD", "CE", "CE1", "CE2", "CE3", "NE", "NE1", "NE2", "OE1", "OE2", "CH2",
    "NH1", "NH2", "OH", "CZ", "CZ2", "CZ3", "NZ", "OXT",
];
/// Number of atom types in the atom37 layout.
pub const ATOM_TYPE_NUM: usize = 37;
/// Atom slots per residue in the compact atom14 layout.
pub const ATOM14_NUM: usize = 14;
/// Rigid groups per residue: backbone, pre-omega, phi, psi, chi1..chi4.
pub const RIGID_GROUP_NUM: usize = 8;

/// Index of an atom name in the atom37 layout.
pub fn atom_order(name: &str) -> Option<usize> {
    ATOM_TYPES.iter().position(|a| *a == name)
}

/// atom37 index of the backbone atoms, used everywhere.
pub const ATOM_N: usize = 0;
pub const ATOM_CA: usize = 1;
pub const ATOM_C: usize = 2;
pub const ATOM_CB: usize = 3;
pub const ATOM_O: usize = 4;

/// `aatype` of a one-letter code (`A`..`V` → 0..19); anything else → `None`.
pub fn restype_order(one_letter: u8) -> Option<usize> {
    RESTYPES.iter().position(|r| *r == one_letter)
}

/// `aatype` with unknown residues mapped to `X` (20), as AlphaFold's
/// `sequence_to_onehot(..., restype_order_with_x, map_unknown_to_x=True)` does.
pub fn restype_order_with_x(one_letter: u8) -> usize {
    restype_order(one_letter).unwrap_or(UNK_RESTYPE_INDEX)
}

/// One-letter code of a three-letter residue name (standard residues only).
pub fn restype_3to1(three_letter: &str) -> Option<u8> {
    RESTYPE_3[..RESTYPE_NUM].iter().position(|r| *r == three_letter).map(|i| RESTYPES[i])
}

/// The HHblits alphabet used for MSAs (`msa`, `template_aatype` raw features): letter → id.
/// Ambiguity codes collapse as in HHblits: `B`→D, `Z`→E, `U`→C, `J`/`O`/`X`→unknown, `-`→gap.
/// This order is alphabetical; `MAP_HHBLITS_AATYPE_TO_OUR_AATYPE` converts it.
pub fn hhblits_aa_to_id(letter: u8) -> Option<u8> {
    Some(match letter {
        b'A' => 0,
        b'C' | b'U' => 1,
        b'D' | b'B' => 2,
        b'E' | b'Z' => 3,
        b'F' => 4,
        b'G' => 5,
        b'H' => 6,
        b'I' => 7,
        b'K' => 8,
        b'L' => 9,
        b'M' => 10,
        b'N' => 11,
        b'P' => 12,
        b'Q' => 13,
        b'R' => 14,
        b'S' => 15,
        b'T' => 16,
        b'V' => 17,
        b'W' => 18,
        b'Y' => 19,
        b'X' | b'J' | b'O' => 20,
        b'-' => 21,
        _ => return None,
    })
}

/// HHblits id (alphabetical, `hhblits_aa_to_id`) → AlphaFold `aatype` (with 20 = X, 21 = gap).
pub const MAP_HHBLITS_AATYPE_TO_OUR_AATYPE: [usize; 22] =
    [0, 4, 3, 6, 13, 7, 8, 9, 11, 10, 12, 2, 14, 5, 1, 15, 16, 19, 17, 18, 20, 21];

/// The four atoms that define each chi angle, per residue type (`aatype` 0..19).
pub const CHI_ANGLES_ATOMS: [&[[&str; 4]]; 20] = [
    &[],
    &[
        ["N", "CA", "CB", "CG"],
        ["CA", "CB", "CG", "CD"],
        ["CB", "CG", "CD", "NE"],
        ["CG", "CD", "NE", "CZ"],
    ],
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "OD1"]],
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "OD1"]],
    &[["N", "CA", "CB", "SG"]],
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD"], ["CB", "CG", "CD", "OE1"]],
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD"], ["CB", "CG", "CD", "OE1"]],
    &[],
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "ND1"]],
    &[["N", "CA", "CB", "CG1"], ["CA", "CB", "CG1", "CD1"]],
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD1"]],
    &[
        ["N", "CA", "CB", "CG"],
        ["CA", "CB", "CG", "CD"],
        ["CB", "CG", "CD", "CE"],
        ["CG", "CD", "CE", "NZ"],
    ],
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "SD"], ["CB", "CG", "SD", "CE"]],
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD1"]],
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD"]],
    &[["N", "CA", "CB", "OG"]],
    &[["N", "CA", "CB", "OG1"]],
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD1"]],
    &[["N", "CA", "CB", "CG"], ["CA", "CB", "CG", "CD1"]],
    &[["N", "CA", "CB", "CG1"]],
];

/// 1.0 where a residue type has chi angle `k` (derived from `CHI_ANGLES_ATOMS`); `UNK` has none.
pub fn chi_angles_mask() -> [[f32; 4]; 21] {
    let mut mask = [[0.0; 4]; 21];
    for (restype, chis) in CHI_ANGLES_ATOMS.iter().enumerate() {
        mask[restype][..chis.len()].fill(1.0);
    }
    mask
}

/// Chi angles that are symmetric under a 180° rotation (the terminal ring/carboxyl flips):
/// ASP chi2, GLU chi3, PHE chi2, TYR chi2.
pub const CHI_PI_PERIODIC: [[bool; 4]; 21] = {
    let mut p = [[false; 4]; 21];
    p[3][1] = true; // ASP
    p[6][2] = true; // GLU
    p[13][1] = true; // PHE
    p[18][1] = true; // TYR
    p
};

/// Atom names of the atom14 layout per residue type (`""` = empty slot); `UNK` has none.
pub const RESTYPE_ATOM14_NAMES: [[&str; 14]; 21] = [
    ["N", "CA", "C", "O", "CB", "", "", "", "", "", "", "", "", ""],
    ["N", "CA", "C", "O", "CB", "CG", "CD", "NE", "CZ", "NH1", "NH2", "", "", ""],
    ["N", "CA", "C", "O", "CB", "CG", "OD1", "ND2", "", "", "", "", "", ""],
    ["N", "CA", "C", "O", "CB", "CG", "OD1", "OD2", "", "", "", "", "", ""],
    ["N", "CA", "C", "O", "CB", "SG", "", "", "", "", "", "", "", ""],
    ["N", "CA", "C", "O", "CB", "CG", "CD", "OE1", "NE2", "", "", "", "", ""],
    ["N", "CA", "C", "O", "CB", "CG", "CD", "OE1", "OE2", "", "", "", "", ""],
    ["N", "CA", "C", "O", "", "", "", "", "", "", "", "", "", ""],
    ["N", "CA", "C", "O", "CB", "CG", "ND1", "CD2", "CE1", "NE2", "", "", "", ""],
    ["N", "CA", "C", "O", "CB", "CG1", "CG2", "CD1", "", "", "", "", "", ""],
    ["N", "CA", "C", "O", "CB", "CG", "CD1", "CD2", "", "", "", "", "", ""],
    ["N", "CA", "C", "O", "CB", "CG", "CD", "CE", "NZ", "", "", "", "", ""],
    ["N", "CA", "C", "O", "CB", "CG", "SD", "CE", "", "", "", "", "", ""],
    ["N", "CA", "C", "O", "CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ", "", "", ""],
    ["N", "CA", "C", "O", "CB", "CG", "CD", "", "", "", "", "", "", ""],
    ["N", "CA", "C", "O", "CB", "OG", "", "", "", "", "", "", "", ""],
    ["N", "CA", "C", "O", "CB", "OG1", "CG2", "", "", "", "", "", "", ""],
    ["N", "CA", "C", "O", "CB", "CG", "CD1", "CD2", "NE1", "CE2", "CE3", "CZ2", "CZ3", "CH2"],
    ["N", "CA", "C", "O", "CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ", "OH", "", ""],
    ["N", "CA", "C", "O", "CB", "CG1", "CG2", "", "", "", "", "", "", ""],
    ["", "", "", "", "", "", "", "", "", "", "", "", "", ""],
];

/// Pairs of atoms that are chemically equivalent and may be swapped (naming ambiguity), by `aatype`.
pub fn residue_atom_renaming_swaps(restype: usize) -> &'static [(&'static str, &'static str)] {
    match restype {
        3 => &[("OD1", "OD2")],
        6 => &[("OE1", "OE2")],
        13 | 18 => &[("CD1", "CD2"), ("CE1", "CE2")],
        _ => &[],
    }
}

/// Van der Waals radius (Å) of an element, by the first letter of an atom name.
pub fn van_der_waals_radius(element: u8) -> Option<f64> {
    match element {
        b'C' => Some(1.7),
        b'N' => Some(1.55),
        b'O' => Some(1.52),
        b'S' => Some(1.8),
        _ => None,
    }
}

/// Peptide-bond geometry between consecutive residues, as (mean, standard deviation);
/// index 0 is for a non-proline next residue, index 1 for proline.
pub const BETWEEN_RES_BOND_LENGTH_C_N: [f64; 2] = [1.329, 1.341];
pub const BETWEEN_RES_BOND_LENGTH_STDDEV_C_N: [f64; 2] = [0.014, 0.016];
/// cos(angle CA-C-N) as (mean, stddev).
pub const BETWEEN_RES_COS_ANGLES_CA_C_N: [f64; 2] = [-0.4473, 0.0311];
/// cos(angle C-N-CA) as (mean, stddev).
pub const BETWEEN_RES_COS_ANGLES_C_N_CA: [f64; 2] = [-0.5203, 0.0353];
/// Distance between consecutive CA atoms with a trans peptide bond (Å).
pub const CA_CA: f64 = 3.80209737096;

/// An atom's ideal position in the local frame of its rigid group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiteratureAtom {
    pub name: &'static str,
    /// Rigid group: 0 backbone, 3 psi (O), 4..7 chi1..chi4.
    pub group: usize,
    /// Position (Å) in the group's frame.
    pub position: [f64; 3],
}

const fn lit(name: &'static str, group: usize, position: [f64; 3]) -> LiteratureAtom {
    LiteratureAtom { name, group, position }
}

/// Ideal atom positions per residue type (`aatype` 0..19), each in its rigid group's frame.
/// The backbone frame has CA at the origin, C on the +x axis and N in the xy plane.
pub const RIGID_GROUP_ATOM_POSITIONS: [&[LiteratureAtom]; 20] = [
    // ALA
    &[
        lit("N", 0, [-0.525, 1.363, 0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.526, -0.0, -0.0]),
        lit("CB", 0, [-0.529, -0.774, -1.205]),
        lit("O", 3, [0.627, 1.062, 0.0]),
    ],
    // ARG
    &[
        lit("N", 0, [-0.524, 1.362, -0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.525, -0.0, -0.0]),
        lit("CB", 0, [-0.524, -0.778, -1.209]),
        lit("O", 3, [0.626, 1.062, 0.0]),
        lit("CG", 4, [0.616, 1.39, -0.0]),
        lit("CD", 5, [0.564, 1.414, 0.0]),
        lit("NE", 6, [0.539, 1.357, -0.0]),
        lit("NH1", 7, [0.206, 2.301, 0.0]),
        lit("NH2", 7, [2.078, 0.978, -0.0]),
        lit("CZ", 7, [0.758, 1.093, -0.0]),
    ],
    // ASN
    &[
        lit("N", 0, [-0.536, 1.357, 0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.526, -0.0, -0.0]),
        lit("CB", 0, [-0.531, -0.787, -1.2]),
        lit("O", 3, [0.625, 1.062, 0.0]),
        lit("CG", 4, [0.584, 1.399, 0.0]),
        lit("ND2", 5, [0.593, -1.188, 0.001]),
        lit("OD1", 5, [0.633, 1.059, 0.0]),
    ],
    // ASP
    &[
        lit("N", 0, [-0.525, 1.362, -0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.527, 0.0, -0.0]),
        lit("CB", 0, [-0.526, -0.778, -1.208]),
        lit("O", 3, [0.626, 1.062, -0.0]),
        lit("CG", 4, [0.593, 1.398, -0.0]),
        lit("OD1", 5, [0.61, 1.091, 0.0]),
        lit("OD2", 5, [0.592, -1.101, -0.003]),
    ],
    // CYS
    &[
        lit("N", 0, [-0.522, 1.362, -0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.524, 0.0, 0.0]),
        lit("CB", 0, [-0.519, -0.773, -1.212]),
        lit("O", 3, [0.625, 1.062, -0.0]),
        lit("SG", 4, [0.728, 1.653, 0.0]),
    ],
    // GLN
    &[
        lit("N", 0, [-0.526, 1.361, -0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.526, 0.0, 0.0]),
        lit("CB", 0, [-0.525, -0.779, -1.207]),
        lit("O", 3, [0.626, 1.062, -0.0]),
        lit("CG", 4, [0.615, 1.393, 0.0]),
        lit("CD", 5, [0.587, 1.399, -0.0]),
        lit("NE2", 6, [0.593, -1.189, -0.001]),
        lit("OE1", 6, [0.634, 1.06, 0.0]),
    ],
    // GLU
    &[
        lit("N", 0, [-0.528, 1.361, 0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.526, -0.0, -0.0]),
        lit("CB", 0, [-0.526, -0.781, -1.207]),
        lit("O", 3, [0.626, 1.062, 0.0]),
        lit("CG", 4, [0.615, 1.392, 0.0]),
        lit("CD", 5, [0.6, 1.397, 0.0]),
        lit("OE1", 6, [0.607, 1.095, -0.0]),
        lit("OE2", 6, [0.589, -1.104, -0.001]),
    ],
    // GLY
    &[
        lit("N", 0, [-0.572, 1.337, 0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.517, -0.0, -0.0]),
        lit("O", 3, [0.626, 1.062, -0.0]),
    ],
    // HIS
    &[
        lit("N", 0, [-0.527, 1.36, 0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.525, 0.0, 0.0]),
        lit("CB", 0, [-0.525, -0.778, -1.208]),
        lit("O", 3, [0.625, 1.063, 0.0]),
        lit("CG", 4, [0.6, 1.37, -0.0]),
        lit("CD2", 5, [0.889, -1.021, 0.003]),
        lit("ND1", 5, [0.744, 1.16, -0.0]),
        lit("CE1", 5, [2.03, 0.851, 0.002]),
        lit("NE2", 5, [2.145, -0.466, 0.004]),
    ],
    // ILE
    &[
        lit("N", 0, [-0.493, 1.373, -0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.527, -0.0, -0.0]),
        lit("CB", 0, [-0.536, -0.793, -1.213]),
        lit("O", 3, [0.627, 1.062, -0.0]),
        lit("CG1", 4, [0.534, 1.437, -0.0]),
        lit("CG2", 4, [0.54, -0.785, -1.199]),
        lit("CD1", 5, [0.619, 1.391, 0.0]),
    ],
    // LEU
    &[
        lit("N", 0, [-0.52, 1.363, 0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.525, -0.0, -0.0]),
        lit("CB", 0, [-0.522, -0.773, -1.214]),
        lit("O", 3, [0.625, 1.063, -0.0]),
        lit("CG", 4, [0.678, 1.371, 0.0]),
        lit("CD1", 5, [0.53, 1.43, -0.0]),
        lit("CD2", 5, [0.535, -0.774, 1.2]),
    ],
    // LYS
    &[
        lit("N", 0, [-0.526, 1.362, -0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.526, 0.0, 0.0]),
        lit("CB", 0, [-0.524, -0.778, -1.208]),
        lit("O", 3, [0.626, 1.062, -0.0]),
        lit("CG", 4, [0.619, 1.39, 0.0]),
        lit("CD", 5, [0.559, 1.417, 0.0]),
        lit("CE", 6, [0.56, 1.416, 0.0]),
        lit("NZ", 7, [0.554, 1.387, 0.0]),
    ],
    // MET
    &[
        lit("N", 0, [-0.521, 1.364, -0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.525, 0.0, 0.0]),
        lit("CB", 0, [-0.523, -0.776, -1.21]),
        lit("O", 3, [0.625, 1.062, -0.0]),
        lit("CG", 4, [0.613, 1.391, -0.0]),
        lit("SD", 5, [0.703, 1.695, 0.0]),
        lit("CE", 6, [0.32, 1.786, -0.0]),
    ],
    // PHE
    &[
        lit("N", 0, [-0.518, 1.363, 0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.524, 0.0, -0.0]),
        lit("CB", 0, [-0.525, -0.776, -1.212]),
        lit("O", 3, [0.626, 1.062, -0.0]),
        lit("CG", 4, [0.607, 1.377, 0.0]),
        lit("CD1", 5, [0.709, 1.195, -0.0]),
        lit("CD2", 5, [0.706, -1.196, 0.0]),
        lit("CE1", 5, [2.102, 1.198, -0.0]),
        lit("CE2", 5, [2.098, -1.201, -0.0]),
        lit("CZ", 5, [2.794, -0.003, -0.001]),
    ],
    // PRO
    &[
        lit("N", 0, [-0.566, 1.351, -0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.527, -0.0, 0.0]),
        lit("CB", 0, [-0.546, -0.611, -1.293]),
        lit("O", 3, [0.621, 1.066, 0.0]),
        lit("CG", 4, [0.382, 1.445, 0.0]),
        lit("CD", 5, [0.477, 1.424, 0.0]),
    ],
    // SER
    &[
        lit("N", 0, [-0.529, 1.36, -0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.525, -0.0, -0.0]),
        lit("CB", 0, [-0.518, -0.777, -1.211]),
        lit("O", 3, [0.626, 1.062, -0.0]),
        lit("OG", 4, [0.503, 1.325, 0.0]),
    ],
    // THR
    &[
        lit("N", 0, [-0.517, 1.364, 0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.526, 0.0, -0.0]),
        lit("CB", 0, [-0.516, -0.793, -1.215]),
        lit("O", 3, [0.626, 1.062, 0.0]),
        lit("CG2", 4, [0.55, -0.718, -1.228]),
        lit("OG1", 4, [0.472, 1.353, 0.0]),
    ],
    // TRP
    &[
        lit("N", 0, [-0.521, 1.363, 0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.525, -0.0, 0.0]),
        lit("CB", 0, [-0.523, -0.776, -1.212]),
        lit("O", 3, [0.627, 1.062, 0.0]),
        lit("CG", 4, [0.609, 1.37, -0.0]),
        lit("CD1", 5, [0.824, 1.091, 0.0]),
        lit("CD2", 5, [0.854, -1.148, -0.005]),
        lit("CE2", 5, [2.186, -0.678, -0.007]),
        lit("CE3", 5, [0.622, -2.53, -0.007]),
        lit("NE1", 5, [2.14, 0.69, -0.004]),
        lit("CH2", 5, [3.028, -2.89, -0.013]),
        lit("CZ2", 5, [3.283, -1.543, -0.011]),
        lit("CZ3", 5, [1.715, -3.389, -0.011]),
    ],
    // TYR
    &[
        lit("N", 0, [-0.522, 1.362, 0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.524, -0.0, -0.0]),
        lit("CB", 0, [-0.522, -0.776, -1.213]),
        lit("O", 3, [0.627, 1.062, -0.0]),
        lit("CG", 4, [0.607, 1.382, -0.0]),
        lit("CD1", 5, [0.716, 1.195, -0.0]),
        lit("CD2", 5, [0.713, -1.194, -0.001]),
        lit("CE1", 5, [2.107, 1.2, -0.002]),
        lit("CE2", 5, [2.104, -1.201, -0.003]),
        lit("OH", 5, [4.168, -0.002, -0.005]),
        lit("CZ", 5, [2.791, -0.001, -0.003]),
    ],
    // VAL
    &[
        lit("N", 0, [-0.494, 1.373, -0.0]),
        lit("CA", 0, [0.0, 0.0, 0.0]),
        lit("C", 0, [1.527, -0.0, -0.0]),
        lit("CB", 0, [-0.533, -0.795, -1.213]),
        lit("O", 3, [0.627, 1.062, -0.0]),
        lit("CG1", 4, [0.54, 1.429, -0.0]),
        lit("CG2", 4, [0.533, -0.776, 1.203]),
    ],
];

/// Arrays derived from the tables above, computed once.
#[derive(Debug, Clone)]
pub struct DerivedConstants {
    /// 1.0 where residue type `r` has atom37 atom `a`: [21, 37].
    pub restype_atom37_mask: [[f32; ATOM_TYPE_NUM]; 21],
    /// 1.0 where residue type `r` has an atom in atom14 slot `i`: [21, 14].
    pub restype_atom14_mask: [[f32; ATOM14_NUM]; 21],
    /// atom37 index of atom14 slot `i` (0 for empty slots): [21, 14].
    pub restype_atom14_to_atom37: [[usize; ATOM14_NUM]; 21],
    /// atom14 slot of atom37 atom `a` (0 where the residue has no such atom): [21, 37].
    pub restype_atom37_to_atom14: [[usize; ATOM_TYPE_NUM]; 21],
    /// atom37 indices of the four atoms of each chi angle (zeros where absent): [20, 4, 4].
    pub chi_angles_atom_indices: [[[usize; 4]; 4]; 20],
    /// Rigid group of each atom37 atom (0 where absent): [21, 37].
    pub restype_atom37_to_rigid_group: [[usize; ATOM_TYPE_NUM]; 21],
    /// Literature position of each atom37 atom in its group's frame: [21, 37, 3].
    pub restype_atom37_rigid_group_positions: [[[f64; 3]; ATOM_TYPE_NUM]; 21],
    /// Rigid group of each atom14 slot: [21, 14].
    pub restype_atom14_to_rigid_group: [[usize; ATOM14_NUM]; 21],
    /// Literature position of each atom14 slot in its group's frame: [21, 14, 3].
    pub restype_atom14_rigid_group_positions: [[[f64; 3]; ATOM14_NUM]; 21],
    /// Default transform (4×4, homogeneous) from each rigid group's frame to its parent frame
    /// (backbone for groups 0–4, the previous chi group for chi2–chi4): [21, 8, 4, 4].
    /// `UNK` and absent chi groups are all zeros, as in AlphaFold.
    pub restype_rigid_group_default_frame: [[[[f64; 4]; 4]; RIGID_GROUP_NUM]; 21],
}

/// The derived arrays, computed on first use.
pub fn derived() -> &'static DerivedConstants {
    static DERIVED: OnceLock<DerivedConstants> = OnceLock::new();
    DERIVED.get_or_init(compute_derived)
}

fn literature_position(restype: usize, atom: &str) -> [f64; 3] {
    RIGID_GROUP_ATOM_POSITIONS[restype]
        .iter()
        .find(|a| a.name == atom)
        .map(|a| a.position)
        .unwrap_or_else(|| panic!("no literature position for {atom} in {}", RESTYPE_3[restype]))
}

pub(crate) fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub(crate) fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn normalized(a: [f64; 3]) -> [f64; 3] {
    let n = dot(a, a).sqrt();
    [a[0] / n, a[1] / n, a[2] / n]
}

/// Homogeneous transform whose x axis points along `ex`, whose y axis is `ey` made orthogonal
/// to x (Gram–Schmidt), and whose origin is `translation`.
fn rigid_transformation_4x4(ex: [f64; 3], ey: [f64; 3], translation: [f64; 3]) -> [[f64; 4]; 4] {
    let ex = normalized(ex);
    let proj = dot(ey, ex);
    let ey = normalized([ey[0] - proj * ex[0], ey[1] - proj * ex[1], ey[2] - proj * ex[2]]);
    let ez = cross(ex, ey);
    let mut m = [[0.0; 4]; 4];
    for row in 0..3 {
        m[row] = [ex[row], ey[row], ez[row], translation[row]];
    }
    m[3][3] = 1.0;
    m
}

fn identity_4x4() -> [[f64; 4]; 4] {
    let mut m = [[0.0; 4]; 4];
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    m
}

fn compute_derived() -> DerivedConstants {
    let mut d = DerivedConstants {
        restype_atom37_mask: [[0.0; ATOM_TYPE_NUM]; 21],
        restype_atom14_mask: [[0.0; ATOM14_NUM]; 21],
        restype_atom14_to_atom37: [[0; ATOM14_NUM]; 21],
        restype_atom37_to_atom14: [[0; ATOM_TYPE_NUM]; 21],
        chi_angles_atom_indices: [[[0; 4]; 4]; 20],
        restype_atom37_to_rigid_group: [[0; ATOM_TYPE_NUM]; 21],
        restype_atom37_rigid_group_positions: [[[0.0; 3]; ATOM_TYPE_NUM]; 21],
        restype_atom14_to_rigid_group: [[0; ATOM14_NUM]; 21],
        restype_atom14_rigid_group_positions: [[[0.0; 3]; ATOM14_NUM]; 21],
        restype_rigid_group_default_frame: [[[[0.0; 4]; 4]; RIGID_GROUP_NUM]; 21],
    };
    let atom37 = |name: &str| atom_order(name).expect("atom name from the constant tables");
    for (restype, names) in RESTYPE_ATOM14_NAMES.iter().enumerate() {
        for (slot, name) in names.iter().enumerate().filter(|(_, n)| !n.is_empty()) {
            let a = atom37(name);
            d.restype_atom14_mask[restype][slot] = 1.0;
            d.restype_atom37_mask[restype][a] = 1.0;
            d.restype_atom14_to_atom37[restype][slot] = a;
            d.restype_atom37_to_atom14[restype][a] = slot;
        }
    }
    for (restype, chis) in CHI_ANGLES_ATOMS.iter().enumerate() {
        for (k, atoms) in chis.iter().enumerate() {
            d.chi_angles_atom_indices[restype][k] = atoms.map(atom37);
        }
    }
    for (restype, atoms) in RIGID_GROUP_ATOM_POSITIONS.iter().enumerate() {
        for atom in atoms.iter() {
            let a = atom37(atom.name);
            d.restype_atom37_to_rigid_group[restype][a] = atom.group;
            d.restype_atom37_rigid_group_positions[restype][a] = atom.position;
            let slot = RESTYPE_ATOM14_NAMES[restype]
                .iter()
                .position(|n| *n == atom.name)
                .expect("every literature atom has an atom14 slot");
            d.restype_atom14_to_rigid_group[restype][slot] = atom.group;
            d.restype_atom14_rigid_group_positions[restype][slot] = atom.position;
        }
        let pos = |name: &str| literature_position(restype, name);
        let frames = &mut d.restype_rigid_group_default_frame[restype];
        frames[0] = identity_4x4(); // backbone
        frames[1] = identity_4x4(); // pre-omega: a placeholder identity in AlphaFold
        frames[2] = rigid_transformation_4x4(sub(pos("N"), pos("CA")), [1.0, 0.0, 0.0], pos("N"));
        frames[3] =
            rigid_transformation_4x4(sub(pos("C"), pos("CA")), sub(pos("CA"), pos("N")), pos("C"));
        let chis = CHI_ANGLES_ATOMS[restype];
        if let Some(chi1) = chis.first() {
            let [b0, b1, b2, _] = chi1.map(pos);
            frames[4] = rigid_transformation_4x4(sub(b2, b1), sub(b0, b1), b2);
        }
        // chi2..chi4 frames hang off the previous chi frame: the rotation axis runs from that
        // frame's origin to the third atom of the chi angle.
        for (k, chi) in chis.iter().enumerate().skip(1) {
            let axis_end = pos(chi[2]);
            frames[4 + k] = rigid_transformation_4x4(axis_end, [-1.0, 0.0, 0.0], axis_end);
        }
    }
    d
}
