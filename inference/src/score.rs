//! Structure comparison on Cα atoms, as `ferrofold score PRED REF` reports it: lDDT-Cα,
//! TM-score, GDT-TS and RMSD, over the residues the two chains share by sequence alignment.
//!
//! TM-score and GDT-TS follow the TM-score program (Zhang & Skolnick 2004): scores are
//! normalised by the reference's length; the superposition is searched from fragments of
//! decreasing length, each refined by re-superposing on the residues it brings close. lDDT-Cα
//! follows Mariani et al. 2013 (15 Å inclusion radius, thresholds 0.5/1/2/4 Å, no
//! superposition), averaged over all reference pairs as OpenStructure and biotite do.

use nalgebra::{Matrix3, Vector3};

use ferrofold_features::protein::Protein;
use ferrofold_features::residue_constants::ATOM_CA;

/// Scores of a model against a reference.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Scores {
    pub lddt_ca: f64,
    pub tm_score: f64,
    pub gdt_ts: f64,
    /// Over all aligned Cα after optimal superposition (Å).
    pub rmsd: f64,
    /// Residues with a Cα in both chains that the sequence alignment pairs.
    pub aligned: usize,
    /// Reference residues with a Cα (the normalisation length).
    pub reference_length: usize,
}

/// Pairs (model index, reference index) of a global sequence alignment (Needleman–Wunsch:
/// +2 identity, −1 mismatch, −2 per gap), for chains whose sequences differ.
pub fn align_sequences(model: &[u8], reference: &[u8]) -> Vec<(usize, usize)> {
    let (n, m) = (model.len(), reference.len());
    let gap = -2i32;
    let mut score = vec![vec![0i32; m + 1]; n + 1];
    for (i, row) in score.iter_mut().enumerate() {
        row[0] = gap * i as i32;
    }
    for (j, cell) in score[0].iter_mut().enumerate() {
        *cell = gap * j as i32;
    }
    for i in 1..=n {
        for j in 1..=m {
            let pair = if model[i - 1] == reference[j - 1] { 2 } else { -1 };
            score[i][j] =
                (score[i - 1][j - 1] + pair).max(score[i - 1][j] + gap).max(score[i][j - 1] + gap);
        }
    }
    let (mut i, mut j) = (n, m);
    let mut pairs = Vec::new();
    while i > 0 && j > 0 {
        let pair = if model[i - 1] == reference[j - 1] { 2 } else { -1 };
        if score[i][j] == score[i - 1][j - 1] + pair {
            pairs.push((i - 1, j - 1));
            i -= 1;
            j -= 1;
        } else if score[i][j] == score[i - 1][j] + gap {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    pairs.reverse();
    pairs
}

fn ca(protein: &Protein, i: usize) -> Option<Vector3<f64>> {
    (protein.atom_mask[(i, ATOM_CA)] > 0.5).then(|| {
        let p = protein.atom_positions.slice(ndarray::s![i, ATOM_CA, ..]);
        Vector3::new(p[0], p[1], p[2])
    })
}

/// A rotation and translation applied as `rotation · x + translation`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Superposition {
    rotation: Matrix3<f64>,
    translation: Vector3<f64>,
}

impl Superposition {
    pub(crate) fn apply(&self, x: &Vector3<f64>) -> Vector3<f64> {
        self.rotation * x + self.translation
    }
}

/// Least-squares superposition of `mobile[k]` onto `target[k]` over `subset` (Kabsch).
pub(crate) fn kabsch(
    mobile: &[Vector3<f64>],
    target: &[Vector3<f64>],
    subset: &[usize],
) -> Superposition {
    let count = subset.len().max(1) as f64;
    let centre = |points: &[Vector3<f64>]| {
        subset.iter().fold(Vector3::zeros(), |acc, &k| acc + points[k]) / count
    };
    let (mobile_centre, target_centre) = (centre(mobile), centre(target));
    let mut covariance = Matrix3::zeros();
    for &k in subset {
        covariance += (target[k] - target_centre) * (mobile[k] - mobile_centre).transpose();
    }
    let svd = covariance.svd(true, true);
    let (u, v_t) = (svd.u.expect("requested"), svd.v_t.expect("requested"));
    // Keep a proper rotation (no reflection).
    let sign = (u * v_t).determinant().signum();
    let correction = Matrix3::from_diagonal(&Vector3::new(1.0, 1.0, sign));
    let rotation = u * correction * v_t;
    Superposition { rotation, translation: target_centre - rotation * mobile_centre }
}

/// TM-score's d0 for a reference of `length` residues.
fn tm_d0(length: usize) -> f64 {
    if length > 21 {
        (1.24 * ((length - 15) as f64).cbrt() - 1.8).max(0.5)
    } else {
        0.5
    }
}

/// The best TM-score and GDT-TS over superpositions seeded from fragments.
fn search_superpositions(
    model: &[Vector3<f64>],
    reference: &[Vector3<f64>],
    reference_length: usize,
) -> (f64, f64) {
    let n = model.len();
    let d0 = tm_d0(reference_length);
    let d0_search = d0.clamp(4.5, 8.0);
    let cutoffs = [1.0, 2.0, 4.0, 8.0];
    let mut best_tm = 0f64;
    let mut best_gdt = [0usize; 4];
    let evaluate = |sup: &Superposition, best_tm: &mut f64, best_gdt: &mut [usize; 4]| {
        let distances: Vec<f64> =
            (0..n).map(|k| (sup.apply(&model[k]) - reference[k]).norm()).collect();
        let tm: f64 = distances.iter().map(|d| 1.0 / (1.0 + (d / d0).powi(2))).sum::<f64>()
            / reference_length as f64;
        *best_tm = best_tm.max(tm);
        for (c, cutoff) in cutoffs.iter().enumerate() {
            best_gdt[c] = best_gdt[c].max(distances.iter().filter(|&&d| d <= *cutoff).count());
        }
        distances
    };
    let mut fragment = n;
    let smallest = 4.min(n);
    loop {
        // Seeds at every start, as the TM-score program's: sparser starts miss superpositions
        // that put more residues under a GDT cutoff.
        let mut start = 0;
        while start + fragment <= n {
            let seed: Vec<usize> = (start..start + fragment).collect();
            // Refine twice: around TM-score's search radius and around each GDT cutoff.
            for radius in std::iter::once(d0_search).chain(cutoffs) {
                let mut subset = seed.clone();
                for _ in 0..20 {
                    if subset.len() < 3 {
                        break;
                    }
                    let sup = kabsch(model, reference, &subset);
                    let distances = evaluate(&sup, &mut best_tm, &mut best_gdt);
                    let next: Vec<usize> = (0..n).filter(|&k| distances[k] < radius).collect();
                    if next == subset {
                        break;
                    }
                    subset = next;
                }
            }
            start += 1;
        }
        if fragment <= smallest {
            break;
        }
        fragment = (fragment / 2).max(smallest);
    }
    let gdt_ts = best_gdt.iter().map(|&c| c as f64).sum::<f64>() / (4.0 * reference_length as f64);
    (best_tm, gdt_ts)
}

/// lDDT on Cα: for every reference pair closer than 15 Å, the fraction of thresholds (0.5, 1,
/// 2, 4 Å) within which the model keeps its distance, averaged over pairs.
fn lddt_ca(model: &[Vector3<f64>], reference: &[Vector3<f64>]) -> f64 {
    let mut preserved = 0.0;
    let mut pairs = 0.0;
    for i in 0..reference.len() {
        for j in 0..reference.len() {
            if i == j {
                continue;
            }
            let d_ref = (reference[i] - reference[j]).norm();
            if d_ref >= 15.0 {
                continue;
            }
            let error = ((model[i] - model[j]).norm() - d_ref).abs();
            pairs += 1.0;
            preserved += [0.5, 1.0, 2.0, 4.0].iter().filter(|&&t| error < t).count() as f64 / 4.0;
        }
    }
    if pairs == 0.0 {
        0.0
    } else {
        preserved / pairs
    }
}

/// Compares `model` with `reference`; `None` when they share fewer than 3 Cα atoms.
pub fn score(model: &Protein, reference: &Protein) -> Option<Scores> {
    let model_sequence = model.sequence();
    let reference_sequence = reference.sequence();
    let pairs = if model_sequence == reference_sequence {
        (0..model.len()).map(|i| (i, i)).collect()
    } else {
        align_sequences(model_sequence.as_bytes(), reference_sequence.as_bytes())
    };
    let (mut model_ca, mut reference_ca) = (Vec::new(), Vec::new());
    for (i, j) in pairs {
        if let (Some(a), Some(b)) = (ca(model, i), ca(reference, j)) {
            model_ca.push(a);
            reference_ca.push(b);
        }
    }
    let reference_length = (0..reference.len()).filter(|&j| ca(reference, j).is_some()).count();
    if model_ca.len() < 3 {
        return None;
    }
    let all: Vec<usize> = (0..model_ca.len()).collect();
    let sup = kabsch(&model_ca, &reference_ca, &all);
    let rmsd = (all
        .iter()
        .map(|&k| (sup.apply(&model_ca[k]) - reference_ca[k]).norm_squared())
        .sum::<f64>()
        / all.len() as f64)
        .sqrt();
    let (tm_score, gdt_ts) = search_superpositions(&model_ca, &reference_ca, reference_length);
    Some(Scores {
        lddt_ca: lddt_ca(&model_ca, &reference_ca),
        tm_score,
        gdt_ts,
        rmsd,
        aligned: model_ca.len(),
        reference_length,
    })
}
