//! Ideal covalent geometry of the amino acids (Engh & Huber bond lengths and angles, as AlphaFold
//! tabulates them), and the per-residue atom14 distance bounds that the structural-violation
//! loss derives from them.

use crate::residue_constants::{
    van_der_waals_radius, ATOM14_NUM, RESTYPE_3, RESTYPE_ATOM14_NAMES, RESTYPE_NUM,
};

/// A covalent bond of one residue type: mean length and standard deviation in Å.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bond {
    pub residue: &'static str,
    pub atoms: [&'static str; 2],
    pub length: f64,
    pub stddev: f64,
}

/// A bond angle of one residue type (atoms in order, the vertex in the middle), in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BondAngle {
    pub residue: &'static str,
    pub atoms: [&'static str; 3],
    pub degrees: f64,
    pub stddev_degrees: f64,
}

const fn bond(
    residue: &'static str,
    a: &'static str,
    b: &'static str,
    length: f64,
    stddev: f64,
) -> Bond {
    Bond { residue, atoms: [a, b], length, stddev }
}

const fn angle(
    residue: &'static str,
    atoms: [&'static str; 3],
    degrees: f64,
    stddev_degrees: f64,
) -> BondAngle {
    BondAngle { residue, atoms, degrees, stddev_degrees }
}

pub const BOND_LENGTHS: [Bond; 153] = [
    bond("ALA", "CA", "CB", 1.520, 0.021),
    bond("ALA", "N", "CA", 1.459, 0.020),
    bond("ALA", "CA", "C", 1.525, 0.026),
    bond("ALA", "C", "O", 1.229, 0.019),
    bond("ARG", "CA", "CB", 1.535, 0.022),
    bond("ARG", "CB", "CG", 1.521, 0.027),
    bond("ARG", "CG", "CD", 1.515, 0.025),
    bond("ARG", "CD", "NE", 1.460, 0.017),
    bond("ARG", "NE", "CZ", 1.326, 0.013),
    bond("ARG", "CZ", "NH1", 1.326, 0.013),
    bond("ARG", "CZ", "NH2", 1.326, 0.013),
    bond("ARG", "N", "CA", 1.459, 0.020),
    bond("ARG", "CA", "C", 1.525, 0.026),
    bond("ARG", "C", "O", 1.229, 0.019),
    bond("ASN", "CA", "CB", 1.527, 0.026),
    bond("ASN", "CB", "CG", 1.506, 0.023),
    bond("ASN", "CG", "OD1", 1.235, 0.022),
    bond("ASN", "CG", "ND2", 1.324, 0.025),
    bond("ASN", "N", "CA", 1.459, 0.020),
    bond("ASN", "CA", "C", 1.525, 0.026),
    bond("ASN", "C", "O", 1.229, 0.019),
    bond("ASP", "CA", "CB", 1.535, 0.022),
    bond("ASP", "CB", "CG", 1.513, 0.021),
    bond("ASP", "CG", "OD1", 1.249, 0.023),
    bond("ASP", "CG", "OD2", 1.249, 0.023),
    bond("ASP", "N", "CA", 1.459, 0.020),
    bond("ASP", "CA", "C", 1.525, 0.026),
    bond("ASP", "C", "O", 1.229, 0.019),
    bond("CYS", "CA", "CB", 1.526, 0.013),
    bond("CYS", "CB", "SG", 1.812, 0.016),
    bond("CYS", "N", "CA", 1.459, 0.020),
    bond("CYS", "CA", "C", 1.525, 0.026),
    bond("CYS", "C", "O", 1.229, 0.019),
    bond("GLU", "CA", "CB", 1.535, 0.022),
    bond("GLU", "CB", "CG", 1.517, 0.019),
    bond("GLU", "CG", "CD", 1.515, 0.015),
    bond("GLU", "CD", "OE1", 1.252, 0.011),
    bond("GLU", "CD", "OE2", 1.252, 0.011),
    bond("GLU", "N", "CA", 1.459, 0.020),
    bond("GLU", "CA", "C", 1.525, 0.026),
    bond("GLU", "C", "O", 1.229, 0.019),
    bond("GLN", "CA", "CB", 1.535, 0.022),
    bond("GLN", "CB", "CG", 1.521, 0.027),
    bond("GLN", "CG", "CD", 1.506, 0.023),
    bond("GLN", "CD", "OE1", 1.235, 0.022),
    bond("GLN", "CD", "NE2", 1.324, 0.025),
    bond("GLN", "N", "CA", 1.459, 0.020),
    bond("GLN", "CA", "C", 1.525, 0.026),
    bond("GLN", "C", "O", 1.229, 0.019),
    bond("GLY", "N", "CA", 1.456, 0.015),
    bond("GLY", "CA", "C", 1.514, 0.016),
    bond("GLY", "C", "O", 1.232, 0.016),
    bond("HIS", "CA", "CB", 1.535, 0.022),
    bond("HIS", "CB", "CG", 1.492, 0.016),
    bond("HIS", "CG", "ND1", 1.369, 0.015),
    bond("HIS", "CG", "CD2", 1.353, 0.017),
    bond("HIS", "ND1", "CE1", 1.343, 0.025),
    bond("HIS", "CD2", "NE2", 1.415, 0.021),
    bond("HIS", "CE1", "NE2", 1.322, 0.023),
    bond("HIS", "N", "CA", 1.459, 0.020),
    bond("HIS", "CA", "C", 1.525, 0.026),
    bond("HIS", "C", "O", 1.229, 0.019),
    bond("ILE", "CA", "CB", 1.544, 0.023),
    bond("ILE", "CB", "CG1", 1.536, 0.028),
    bond("ILE", "CB", "CG2", 1.524, 0.031),
    bond("ILE", "CG1", "CD1", 1.500, 0.069),
    bond("ILE", "N", "CA", 1.459, 0.020),
    bond("ILE", "CA", "C", 1.525, 0.026),
    bond("ILE", "C", "O", 1.229, 0.019),
    bond("LEU", "CA", "CB", 1.533, 0.023),
    bond("LEU", "CB", "CG", 1.521, 0.029),
    bond("LEU", "CG", "CD1", 1.514, 0.037),
    bond("LEU", "CG", "CD2", 1.514, 0.037),
    bond("LEU", "N", "CA", 1.459, 0.020),
    bond("LEU", "CA", "C", 1.525, 0.026),
    bond("LEU", "C", "O", 1.229, 0.019),
    bond("LYS", "CA", "CB", 1.535, 0.022),
    bond("LYS", "CB", "CG", 1.521, 0.027),
    bond("LYS", "CG", "CD", 1.520, 0.034),
    bond("LYS", "CD", "CE", 1.508, 0.025),
    bond("LYS", "CE", "NZ", 1.486, 0.025),
    bond("LYS", "N", "CA", 1.459, 0.020),
    bond("LYS", "CA", "C", 1.525, 0.026),
    bond("LYS", "C", "O", 1.229, 0.019),
    bond("MET", "CA", "CB", 1.535, 0.022),
    bond("MET", "CB", "CG", 1.509, 0.032),
    bond("MET", "CG", "SD", 1.807, 0.026),
    bond("MET", "SD", "CE", 1.774, 0.056),
    bond("MET", "N", "CA", 1.459, 0.020),
    bond("MET", "CA", "C", 1.525, 0.026),
    bond("MET", "C", "O", 1.229, 0.019),
    bond("PHE", "CA", "CB", 1.535, 0.022),
    bond("PHE", "CB", "CG", 1.509, 0.017),
    bond("PHE", "CG", "CD1", 1.383, 0.015),
    bond("PHE", "CG", "CD2", 1.383, 0.015),
    bond("PHE", "CD1", "CE1", 1.388, 0.020),
    bond("PHE", "CD2", "CE2", 1.388, 0.020),
    bond("PHE", "CE1", "CZ", 1.369, 0.019),
    bond("PHE", "CE2", "CZ", 1.369, 0.019),
    bond("PHE", "N", "CA", 1.459, 0.020),
    bond("PHE", "CA", "C", 1.525, 0.026),
    bond("PHE", "C", "O", 1.229, 0.019),
    bond("PRO", "CA", "CB", 1.531, 0.020),
    bond("PRO", "CB", "CG", 1.495, 0.050),
    bond("PRO", "CG", "CD", 1.502, 0.033),
    bond("PRO", "CD", "N", 1.474, 0.014),
    bond("PRO", "N", "CA", 1.468, 0.017),
    bond("PRO", "CA", "C", 1.524, 0.020),
    bond("PRO", "C", "O", 1.228, 0.020),
    bond("SER", "CA", "CB", 1.525, 0.015),
    bond("SER", "CB", "OG", 1.418, 0.013),
    bond("SER", "N", "CA", 1.459, 0.020),
    bond("SER", "CA", "C", 1.525, 0.026),
    bond("SER", "C", "O", 1.229, 0.019),
    bond("THR", "CA", "CB", 1.529, 0.026),
    bond("THR", "CB", "OG1", 1.428, 0.020),
    bond("THR", "CB", "CG2", 1.519, 0.033),
    bond("THR", "N", "CA", 1.459, 0.020),
    bond("THR", "CA", "C", 1.525, 0.026),
    bond("THR", "C", "O", 1.229, 0.019),
    bond("TRP", "CA", "CB", 1.535, 0.022),
    bond("TRP", "CB", "CG", 1.498, 0.018),
    bond("TRP", "CG", "CD1", 1.363, 0.014),
    bond("TRP", "CG", "CD2", 1.432, 0.017),
    bond("TRP", "CD1", "NE1", 1.375, 0.017),
    bond("TRP", "NE1", "CE2", 1.371, 0.013),
    bond("TRP", "CD2", "CE2", 1.409, 0.012),
    bond("TRP", "CD2", "CE3", 1.399, 0.015),
    bond("TRP", "CE2", "CZ2", 1.393, 0.017),
    bond("TRP", "CE3", "CZ3", 1.380, 0.017),
    bond("TRP", "CZ2", "CH2", 1.369, 0.019),
    bond("TRP", "CZ3", "CH2", 1.396, 0.016),
    bond("TRP", "N", "CA", 1.459, 0.020),
    bond("TRP", "CA", "C", 1.525, 0.026),
    bond("TRP", "C", "O", 1.229, 0.019),
    bond("TYR", "CA", "CB", 1.535, 0.022),
    bond("TYR", "CB", "CG", 1.512, 0.015),
    bond("TYR", "CG", "CD1", 1.387, 0.013),
    bond("TYR", "CG", "CD2", 1.387, 0.013),
    bond("TYR", "CD1", "CE1", 1.389, 0.015),
    bond("TYR", "CD2", "CE2", 1.389, 0.015),
    bond("TYR", "CE1", "CZ", 1.381, 0.013),
    bond("TYR", "CE2", "CZ", 1.381, 0.013),
    bond("TYR", "CZ", "OH", 1.374, 0.017),
    bond("TYR", "N", "CA", 1.459, 0.020),
    bond("TYR", "CA", "C", 1.525, 0.026),
    bond("TYR", "C", "O", 1.229, 0.019),
    bond("VAL", "CA", "CB", 1.543, 0.021),
    bond("VAL", "CB", "CG1", 1.524, 0.021),
    bond("VAL", "CB", "CG2", 1.524, 0.021),
    bond("VAL", "N", "CA", 1.459, 0.020),
    bond("VAL", "CA", "C", 1.525, 0.026),
    bond("VAL", "C", "O", 1.229, 0.019),
];
pub const BOND_ANGLES: [BondAngle; 174] = [
    angle("ALA", ["N", "CA", "CB"], 110.1, 1.4),
    angle("ALA", ["CB", "CA", "C"], 110.1, 1.5),
    angle("ALA", ["N", "CA", "C"], 111.0, 2.7),
    angle("ALA", ["CA", "C", "O"], 120.1, 2.1),
    angle("ARG", ["N", "CA", "CB"], 110.6, 1.8),
    angle("ARG", ["CB", "CA", "C"], 110.4, 2.0),
    angle("ARG", ["CA", "CB", "CG"], 113.4, 2.2),
    angle("ARG", ["CB", "CG", "CD"], 111.6, 2.6),
    angle("ARG", ["CG", "CD", "NE"], 111.8, 2.1),
    angle("ARG", ["CD", "NE", "CZ"], 123.6, 1.4),
    angle("ARG", ["NE", "CZ", "NH1"], 120.3, 0.5),
    angle("ARG", ["NE", "CZ", "NH2"], 120.3, 0.5),
    angle("ARG", ["NH1", "CZ", "NH2"], 119.4, 1.1),
    angle("ARG", ["N", "CA", "C"], 111.0, 2.7),
    angle("ARG", ["CA", "C", "O"], 120.1, 2.1),
    angle("ASN", ["N", "CA", "CB"], 110.6, 1.8),
    angle("ASN", ["CB", "CA", "C"], 110.4, 2.0),
    angle("ASN", ["CA", "CB", "CG"], 113.4, 2.2),
    angle("ASN", ["CB", "CG", "ND2"], 116.7, 2.4),
    angle("ASN", ["CB", "CG", "OD1"], 121.6, 2.0),
    angle("ASN", ["ND2", "CG", "OD1"], 121.9, 2.3),
    angle("ASN", ["N", "CA", "C"], 111.0, 2.7),
    angle("ASN", ["CA", "C", "O"], 120.1, 2.1),
    angle("ASP", ["N", "CA", "CB"], 110.6, 1.8),
    angle("ASP", ["CB", "CA", "C"], 110.4, 2.0),
    angle("ASP", ["CA", "CB", "CG"], 113.4, 2.2),
    angle("ASP", ["CB", "CG", "OD1"], 118.3, 0.9),
    angle("ASP", ["CB", "CG", "OD2"], 118.3, 0.9),
    angle("ASP", ["OD1", "CG", "OD2"], 123.3, 1.9),
    angle("ASP", ["N", "CA", "C"], 111.0, 2.7),
    angle("ASP", ["CA", "C", "O"], 120.1, 2.1),
    angle("CYS", ["N", "CA", "CB"], 110.8, 1.5),
    angle("CYS", ["CB", "CA", "C"], 111.5, 1.2),
    angle("CYS", ["CA", "CB", "SG"], 114.2, 1.1),
    angle("CYS", ["N", "CA", "C"], 111.0, 2.7),
    angle("CYS", ["CA", "C", "O"], 120.1, 2.1),
    angle("GLU", ["N", "CA", "CB"], 110.6, 1.8),
    angle("GLU", ["CB", "CA", "C"], 110.4, 2.0),
    angle("GLU", ["CA", "CB", "CG"], 113.4, 2.2),
    angle("GLU", ["CB", "CG", "CD"], 114.2, 2.7),
    angle("GLU", ["CG", "CD", "OE1"], 118.3, 2.0),
    angle("GLU", ["CG", "CD", "OE2"], 118.3, 2.0),
    angle("GLU", ["OE1", "CD", "OE2"], 123.3, 1.2),
    angle("GLU", ["N", "CA", "C"], 111.0, 2.7),
    angle("GLU", ["CA", "C", "O"], 120.1, 2.1),
    angle("GLN", ["N", "CA", "CB"], 110.6, 1.8),
    angle("GLN", ["CB", "CA", "C"], 110.4, 2.0),
    angle("GLN", ["CA", "CB", "CG"], 113.4, 2.2),
    angle("GLN", ["CB", "CG", "CD"], 111.6, 2.6),
    angle("GLN", ["CG", "CD", "OE1"], 121.6, 2.0),
    angle("GLN", ["CG", "CD", "NE2"], 116.7, 2.4),
    angle("GLN", ["OE1", "CD", "NE2"], 121.9, 2.3),
    angle("GLN", ["N", "CA", "C"], 111.0, 2.7),
    angle("GLN", ["CA", "C", "O"], 120.1, 2.1),
    angle("GLY", ["N", "CA", "C"], 113.1, 2.5),
    angle("GLY", ["CA", "C", "O"], 120.6, 1.8),
    angle("HIS", ["N", "CA", "CB"], 110.6, 1.8),
    angle("HIS", ["CB", "CA", "C"], 110.4, 2.0),
    angle("HIS", ["CA", "CB", "CG"], 113.6, 1.7),
    angle("HIS", ["CB", "CG", "ND1"], 123.2, 2.5),
    angle("HIS", ["CB", "CG", "CD2"], 130.8, 3.1),
    angle("HIS", ["CG", "ND1", "CE1"], 108.2, 1.4),
    angle("HIS", ["ND1", "CE1", "NE2"], 109.9, 2.2),
    angle("HIS", ["CE1", "NE2", "CD2"], 106.6, 2.5),
    angle("HIS", ["NE2", "CD2", "CG"], 109.2, 1.9),
    angle("HIS", ["CD2", "CG", "ND1"], 106.0, 1.4),
    angle("HIS", ["N", "CA", "C"], 111.0, 2.7),
    angle("HIS", ["CA", "C", "O"], 120.1, 2.1),
    angle("ILE", ["N", "CA", "CB"], 110.8, 2.3),
    angle("ILE", ["CB", "CA", "C"], 111.6, 2.0),
    angle("ILE", ["CA", "CB", "CG1"], 111.0, 1.9),
    angle("ILE", ["CB", "CG1", "CD1"], 113.9, 2.8),
    angle("ILE", ["CA", "CB", "CG2"], 110.9, 2.0),
    angle("ILE", ["CG1", "CB", "CG2"], 111.4, 2.2),
    angle("ILE", ["N", "CA", "C"], 111.0, 2.7),
    angle("ILE", ["CA", "C", "O"], 120.1, 2.1),
    angle("LEU", ["N", "CA", "CB"], 110.4, 2.0),
    angle("LEU", ["CB", "CA", "C"], 110.2, 1.9),
    angle("LEU", ["CA", "CB", "CG"], 115.3, 2.3),
    angle("LEU", ["CB", "CG", "CD1"], 111.0, 1.7),
    angle("LEU", ["CB", "CG", "CD2"], 111.0, 1.7),
    angle("LEU", ["CD1", "CG", "CD2"], 110.5, 3.0),
    angle("LEU", ["N", "CA", "C"], 111.0, 2.7),
    angle("LEU", ["CA", "C", "O"], 120.1, 2.1),
    angle("LYS", ["N", "CA", "CB"], 110.6, 1.8),
    angle("LYS", ["CB", "CA", "C"], 110.4, 2.0),
    angle("LYS", ["CA", "CB", "CG"], 113.4, 2.2),
    angle("LYS", ["CB", "CG", "CD"], 111.6, 2.6),
    angle("LYS", ["CG", "CD", "CE"], 111.9, 3.0),
    angle("LYS", ["CD", "CE", "NZ"], 111.7, 2.3),
    angle("LYS", ["N", "CA", "C"], 111.0, 2.7),
    angle("LYS", ["CA", "C", "O"], 120.1, 2.1),
    angle("MET", ["N", "CA", "CB"], 110.6, 1.8),
    angle("MET", ["CB", "CA", "C"], 110.4, 2.0),
    angle("MET", ["CA", "CB", "CG"], 113.3, 1.7),
    angle("MET", ["CB", "CG", "SD"], 112.4, 3.0),
    angle("MET", ["CG", "SD", "CE"], 100.2, 1.6),
    angle("MET", ["N", "CA", "C"], 111.0, 2.7),
    angle("MET", ["CA", "C", "O"], 120.1, 2.1),
    angle("PHE", ["N", "CA", "CB"], 110.6, 1.8),
    angle("PHE", ["CB", "CA", "C"], 110.4, 2.0),
    angle("PHE", ["CA", "CB", "CG"], 113.9, 2.4),
    angle("PHE", ["CB", "CG", "CD1"], 120.8, 0.7),
    angle("PHE", ["CB", "CG", "CD2"], 120.8, 0.7),
    angle("PHE", ["CD1", "CG", "CD2"], 118.3, 1.3),
    angle("PHE", ["CG", "CD1", "CE1"], 120.8, 1.1),
    angle("PHE", ["CG", "CD2", "CE2"], 120.8, 1.1),
    angle("PHE", ["CD1", "CE1", "CZ"], 120.1, 1.2),
    angle("PHE", ["CD2", "CE2", "CZ"], 120.1, 1.2),
    angle("PHE", ["CE1", "CZ", "CE2"], 120.0, 1.8),
    angle("PHE", ["N", "CA", "C"], 111.0, 2.7),
    angle("PHE", ["CA", "C", "O"], 120.1, 2.1),
    angle("PRO", ["N", "CA", "CB"], 103.3, 1.2),
    angle("PRO", ["CB", "CA", "C"], 111.7, 2.1),
    angle("PRO", ["CA", "CB", "CG"], 104.8, 1.9),
    angle("PRO", ["CB", "CG", "CD"], 106.5, 3.9),
    angle("PRO", ["CG", "CD", "N"], 103.2, 1.5),
    angle("PRO", ["CA", "N", "CD"], 111.7, 1.4),
    angle("PRO", ["N", "CA", "C"], 112.1, 2.6),
    angle("PRO", ["CA", "C", "O"], 120.2, 2.4),
    angle("SER", ["N", "CA", "CB"], 110.5, 1.5),
    angle("SER", ["CB", "CA", "C"], 110.1, 1.9),
    angle("SER", ["CA", "CB", "OG"], 111.2, 2.7),
    angle("SER", ["N", "CA", "C"], 111.0, 2.7),
    angle("SER", ["CA", "C", "O"], 120.1, 2.1),
    angle("THR", ["N", "CA", "CB"], 110.3, 1.9),
    angle("THR", ["CB", "CA", "C"], 111.6, 2.7),
    angle("THR", ["CA", "CB", "OG1"], 109.0, 2.1),
    angle("THR", ["CA", "CB", "CG2"], 112.4, 1.4),
    angle("THR", ["OG1", "CB", "CG2"], 110.0, 2.3),
    angle("THR", ["N", "CA", "C"], 111.0, 2.7),
    angle("THR", ["CA", "C", "O"], 120.1, 2.1),
    angle("TRP", ["N", "CA", "CB"], 110.6, 1.8),
    angle("TRP", ["CB", "CA", "C"], 110.4, 2.0),
    angle("TRP", ["CA", "CB", "CG"], 113.7, 1.9),
    angle("TRP", ["CB", "CG", "CD1"], 127.0, 1.3),
    angle("TRP", ["CB", "CG", "CD2"], 126.6, 1.3),
    angle("TRP", ["CD1", "CG", "CD2"], 106.3, 0.8),
    angle("TRP", ["CG", "CD1", "NE1"], 110.1, 1.0),
    angle("TRP", ["CD1", "NE1", "CE2"], 109.0, 0.9),
    angle("TRP", ["NE1", "CE2", "CD2"], 107.3, 1.0),
    angle("TRP", ["CE2", "CD2", "CG"], 107.3, 0.8),
    angle("TRP", ["CG", "CD2", "CE3"], 133.9, 0.9),
    angle("TRP", ["NE1", "CE2", "CZ2"], 130.4, 1.1),
    angle("TRP", ["CE3", "CD2", "CE2"], 118.7, 1.2),
    angle("TRP", ["CD2", "CE2", "CZ2"], 122.3, 1.2),
    angle("TRP", ["CE2", "CZ2", "CH2"], 117.4, 1.0),
    angle("TRP", ["CZ2", "CH2", "CZ3"], 121.6, 1.2),
    angle("TRP", ["CH2", "CZ3", "CE3"], 121.2, 1.1),
    angle("TRP", ["CZ3", "CE3", "CD2"], 118.8, 1.3),
    angle("TRP", ["N", "CA", "C"], 111.0, 2.7),
    angle("TRP", ["CA", "C", "O"], 120.1, 2.1),
    angle("TYR", ["N", "CA", "CB"], 110.6, 1.8),
    angle("TYR", ["CB", "CA", "C"], 110.4, 2.0),
    angle("TYR", ["CA", "CB", "CG"], 113.4, 1.9),
    angle("TYR", ["CB", "CG", "CD1"], 121.0, 0.6),
    angle("TYR", ["CB", "CG", "CD2"], 121.0, 0.6),
    angle("TYR", ["CD1", "CG", "CD2"], 117.9, 1.1),
    angle("TYR", ["CG", "CD1", "CE1"], 121.3, 0.8),
    angle("TYR", ["CG", "CD2", "CE2"], 121.3, 0.8),
    angle("TYR", ["CD1", "CE1", "CZ"], 119.8, 0.9),
    angle("TYR", ["CD2", "CE2", "CZ"], 119.8, 0.9),
    angle("TYR", ["CE1", "CZ", "CE2"], 119.8, 1.6),
    angle("TYR", ["CE1", "CZ", "OH"], 120.1, 2.7),
    angle("TYR", ["CE2", "CZ", "OH"], 120.1, 2.7),
    angle("TYR", ["N", "CA", "C"], 111.0, 2.7),
    angle("TYR", ["CA", "C", "O"], 120.1, 2.1),
    angle("VAL", ["N", "CA", "CB"], 111.5, 2.2),
    angle("VAL", ["CB", "CA", "C"], 111.4, 1.9),
    angle("VAL", ["CA", "CB", "CG1"], 110.9, 1.5),
    angle("VAL", ["CA", "CB", "CG2"], 110.9, 1.5),
    angle("VAL", ["CG1", "CB", "CG2"], 110.9, 1.6),
    angle("VAL", ["N", "CA", "C"], 111.0, 2.7),
    angle("VAL", ["CA", "C", "O"], 120.1, 2.1),
];

/// Lower and upper bounds on the distance of every atom14 pair within a residue type:
/// \[21\]\[14\]\[14\] each (`UNK` and absent slots: zero).
#[derive(Debug, Clone)]
pub struct Atom14DistanceBounds {
    pub lower: Vec<[[f64; ATOM14_NUM]; ATOM14_NUM]>,
    pub upper: Vec<[[f64; ATOM14_NUM]; ATOM14_NUM]>,
}

/// A bond angle turned into the distance between its outer atoms (law of cosines), with the
/// standard deviation propagated from the angle's and both bonds' deviations.
fn virtual_bond(angle: &BondAngle) -> Bond {
    let find = |a: &str, b: &str| {
        BOND_LENGTHS
            .iter()
            .find(|x| x.residue == angle.residue && (x.atoms == [a, b] || x.atoms == [b, a]))
            .expect("every angle's bonds are tabulated")
    };
    let [a1, a2, a3] = angle.atoms;
    let (b1, b2) = (find(a1, a2), find(a2, a3));
    let gamma = angle.degrees.to_radians();
    let gamma_stddev = angle.stddev_degrees.to_radians();
    let length =
        (b1.length.powi(2) + b2.length.powi(2) - 2.0 * b1.length * b2.length * gamma.cos()).sqrt();
    let outer = 0.5 / length;
    let d_gamma = 2.0 * b1.length * b2.length * gamma.sin() * outer;
    let d_b1 = (2.0 * b1.length - 2.0 * b2.length * gamma.cos()) * outer;
    let d_b2 = (2.0 * b2.length - 2.0 * b1.length * gamma.cos()) * outer;
    let stddev = ((d_gamma * gamma_stddev).powi(2)
        + (d_b1 * b1.stddev).powi(2)
        + (d_b2 * b2.stddev).powi(2))
    .sqrt();
    Bond { residue: angle.residue, atoms: [a1, a3], length, stddev }
}

/// Non-bonded pairs may not come closer than the sum of their van der Waals radii less
/// `overlap_tolerance`; bonded pairs (and the outer atoms of a bond angle) must stay within
/// `bond_length_tolerance_factor` standard deviations of the ideal length.
pub fn atom14_distance_bounds(
    overlap_tolerance: f64,
    bond_length_tolerance_factor: f64,
) -> Atom14DistanceBounds {
    let zero = [[0.0; ATOM14_NUM]; ATOM14_NUM];
    let mut bounds = Atom14DistanceBounds { lower: vec![zero; 21], upper: vec![zero; 21] };
    for restype in 0..RESTYPE_NUM {
        let names = &RESTYPE_ATOM14_NAMES[restype];
        let radius = |name: &str| {
            van_der_waals_radius(name.as_bytes()[0]).expect("protein atoms are C, N, O or S")
        };
        for (i, a) in names.iter().enumerate().filter(|(_, n)| !n.is_empty()) {
            for (j, b) in names.iter().enumerate().filter(|(_, n)| !n.is_empty()) {
                if i != j {
                    bounds.lower[restype][i][j] = radius(a) + radius(b) - overlap_tolerance;
                    bounds.upper[restype][i][j] = 1e10;
                }
            }
        }
        let resname = RESTYPE_3[restype];
        let bonds = BOND_LENGTHS.iter().filter(|b| b.residue == resname).copied();
        let virtual_bonds = BOND_ANGLES.iter().filter(|a| a.residue == resname).map(virtual_bond);
        for b in bonds.chain(virtual_bonds) {
            let slot = |name: &str| {
                names.iter().position(|n| *n == name).expect("bond atoms are atom14 atoms")
            };
            let (i, j) = (slot(b.atoms[0]), slot(b.atoms[1]));
            let lower = b.length - bond_length_tolerance_factor * b.stddev;
            let upper = b.length + bond_length_tolerance_factor * b.stddev;
            bounds.lower[restype][i][j] = lower;
            bounds.lower[restype][j][i] = lower;
            bounds.upper[restype][i][j] = upper;
            bounds.upper[restype][j][i] = upper;
        }
    }
    bounds
}
