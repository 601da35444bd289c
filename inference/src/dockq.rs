//! DockQ (Basu & Wallner 2016) of a two-chain interface, with the definitions of the DockQ
//! program (v2): residues matched per chain by sequence; a native contact is a residue pair of
//! the two chains with heavy atoms closer than 5 Å; interface residues are those with a heavy
//! atom within 10 Å of the other chain in the native; iRMSD over the interface's backbone atoms
//! (N, CA, C, O) after superposition; LRMSD over the smaller chain's backbone after superposing
//! on the larger's; DockQ = (Fnat + 1/(1 + (iRMSD/1.5)²) + 1/(1 + (LRMSD/8.5)²)) / 3.

use nalgebra::Vector3;

use ferrofold_features::protein::Protein;

use crate::score::{align_sequences, kabsch, Superposition};

const CONTACT: f64 = 5.0;
const INTERFACE: f64 = 10.0;
/// atom37 indices of N, CA, C and O.
const BACKBONE: [usize; 4] = [0, 1, 2, 4];

/// Interface scores of a model's two chains against the native's.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct InterfaceScores {
    pub dockq: f64,
    /// Fraction of the native's contacts the model has.
    pub fnat: f64,
    /// Interface backbone RMSD after superposition on it (Å).
    pub irmsd: f64,
    /// Ligand (smaller chain) backbone RMSD after superposition on the receptor (Å).
    pub lrmsd: f64,
    pub native_contacts: usize,
    pub model_contacts: usize,
    /// Native contacts the model reproduces.
    pub correct_contacts: usize,
}

/// Pairs (model residue, native residue) of one chain: the identical residues of the
/// sequence alignment.
fn matched_residues(model: &Protein, native: &Protein) -> Vec<(usize, usize)> {
    let (a, b) = (model.sequence(), native.sequence());
    if a == b {
        return (0..model.len()).map(|i| (i, i)).collect();
    }
    align_sequences(a.as_bytes(), b.as_bytes())
        .into_iter()
        .filter(|&(i, j)| model.aatype[i] == native.aatype[j])
        .collect()
}

fn atom(protein: &Protein, residue: usize, atom: usize) -> Option<Vector3<f64>> {
    (protein.atom_mask[(residue, atom)] > 0.5).then(|| {
        let p = protein.atom_positions.slice(ndarray::s![residue, atom, ..]);
        Vector3::new(p[0], p[1], p[2])
    })
}

fn heavy_atoms(protein: &Protein, residue: usize) -> Vec<Vector3<f64>> {
    (0..protein.atom_mask.ncols()).filter_map(|k| atom(protein, residue, k)).collect()
}

/// Squared shortest heavy-atom distance between residues `a` of `first` and `b` of `second`,
/// for every pair of the given residues: [a][b].
fn residue_distances(first: &[Vec<Vector3<f64>>], second: &[Vec<Vector3<f64>>]) -> Vec<Vec<f64>> {
    first
        .iter()
        .map(|x| {
            second
                .iter()
                .map(|y| {
                    x.iter()
                        .flat_map(|p| y.iter().map(move |q| (p - q).norm_squared()))
                        .fold(f64::INFINITY, f64::min)
                })
                .collect()
        })
        .collect()
}

/// The superposition of `mobile` onto `target`, every point counted.
fn fit(mobile: &[Vector3<f64>], target: &[Vector3<f64>]) -> Superposition {
    kabsch(mobile, target, &(0..mobile.len()).collect::<Vec<_>>())
}

/// RMSD of `mobile` moved by `superposition` to `target`.
fn rmsd(superposition: &Superposition, mobile: &[Vector3<f64>], target: &[Vector3<f64>]) -> f64 {
    let sum: f64 =
        mobile.iter().zip(target).map(|(m, t)| (superposition.apply(m) - t).norm_squared()).sum();
    (sum / mobile.len().max(1) as f64).sqrt()
}

/// The backbone atoms present in both model and native residues of `pairs`, as two lists.
fn backbone(
    model: &Protein,
    native: &Protein,
    pairs: impl Iterator<Item = (usize, usize)>,
) -> (Vec<Vector3<f64>>, Vec<Vector3<f64>>) {
    let mut out = (Vec::new(), Vec::new());
    for (i, j) in pairs {
        for k in BACKBONE {
            if let (Some(a), Some(b)) = (atom(model, i, k), atom(native, j, k)) {
                out.0.push(a);
                out.1.push(b);
            }
        }
    }
    out
}

/// DockQ of `model`'s chains against `native`'s (chain k of the model is chain k of the
/// native); `None` when the native's chains do not touch or too few atoms match.
pub fn dockq(model: [&Protein; 2], native: [&Protein; 2]) -> Option<InterfaceScores> {
    let all_native: Vec<Vec<Vec<Vector3<f64>>>> =
        native.iter().map(|p| (0..p.len()).map(|r| heavy_atoms(p, r)).collect()).collect();
    let cutoff = CONTACT * CONTACT;
    let native_contacts = residue_distances(&all_native[0], &all_native[1])
        .iter()
        .flatten()
        .filter(|&&d| d < cutoff)
        .count();
    if native_contacts == 0 {
        return None;
    }
    let matched: Vec<Vec<(usize, usize)>> =
        (0..2).map(|c| matched_residues(model[c], native[c])).collect();
    let atoms_of = |protein: &Protein, side: fn(&(usize, usize)) -> usize, c: usize| {
        matched[c].iter().map(|pair| heavy_atoms(protein, side(pair))).collect::<Vec<_>>()
    };
    let model_side = |pair: &(usize, usize)| pair.0;
    let native_side = |pair: &(usize, usize)| pair.1;
    let model_distances =
        residue_distances(&atoms_of(model[0], model_side, 0), &atoms_of(model[1], model_side, 1));
    let native_distances = residue_distances(
        &atoms_of(native[0], native_side, 0),
        &atoms_of(native[1], native_side, 1),
    );
    let (mut model_contacts, mut correct_contacts) = (0, 0);
    let mut interface = [std::collections::BTreeSet::new(), std::collections::BTreeSet::new()];
    for (a, (model_row, native_row)) in model_distances.iter().zip(&native_distances).enumerate() {
        for (b, (&m, &n)) in model_row.iter().zip(native_row).enumerate() {
            model_contacts += usize::from(m < cutoff);
            correct_contacts += usize::from(m < cutoff && n < cutoff);
            if n < INTERFACE * INTERFACE {
                interface[0].insert(a);
                interface[1].insert(b);
            }
        }
    }
    let fnat = correct_contacts as f64 / native_contacts as f64;

    let (mut interface_model, mut interface_native) = (Vec::new(), Vec::new());
    for c in 0..2 {
        let (m, n) = backbone(model[c], native[c], interface[c].iter().map(|&k| matched[c][k]));
        interface_model.extend(m);
        interface_native.extend(n);
    }
    if interface_model.len() < 3 {
        return None;
    }
    let irmsd =
        rmsd(&fit(&interface_model, &interface_native), &interface_model, &interface_native);

    // The larger native chain is the receptor (the second on a tie, as DockQ).
    let receptor = usize::from(native[0].len() <= native[1].len());
    let ligand = 1 - receptor;
    let whole = |c: usize| backbone(model[c], native[c], matched[c].iter().copied());
    let (receptor_model, receptor_native) = whole(receptor);
    let (ligand_model, ligand_native) = whole(ligand);
    if receptor_model.len() < 3 || ligand_model.is_empty() {
        return None;
    }
    let on_receptor = fit(&receptor_model, &receptor_native);
    let lrmsd = rmsd(&on_receptor, &ligand_model, &ligand_native);
    let dockq =
        (fnat + 1.0 / (1.0 + (irmsd / 1.5).powi(2)) + 1.0 / (1.0 + (lrmsd / 8.5).powi(2))) / 3.0;
    Some(InterfaceScores {
        dockq,
        fnat,
        irmsd,
        lrmsd,
        native_contacts,
        model_contacts,
        correct_contacts,
    })
}
