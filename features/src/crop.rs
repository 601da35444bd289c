//! Training crops: which residues of a chain a training example keeps. Contiguous crops
//! (AlphaFold's monomer training) take a random window; spatial crops take the residues
//! nearest to a random residue, so that distant parts of the sequence that touch in space are
//! seen together.

use ndarray::ArrayView2;
use rand::Rng;

/// How a crop is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CropMode {
    Contiguous,
    Spatial,
}

impl std::str::FromStr for CropMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "contiguous" => Ok(Self::Contiguous),
            "spatial" => Ok(Self::Spatial),
            other => Err(format!("unknown crop mode `{other}` (contiguous or spatial)")),
        }
    }
}

/// A random window of `crop_size` residues of `residues` (all of them if the chain is shorter).
pub fn contiguous_crop(residues: usize, crop_size: usize, rng: &mut impl Rng) -> Vec<usize> {
    if residues <= crop_size {
        return (0..residues).collect();
    }
    let start = rng.random_range(0..=residues - crop_size);
    (start..start + crop_size).collect()
}

/// The `crop_size` residues whose Cα (`ca` [N, 3], present where `ca_mask` is 1) lies nearest
/// to the Cα of a random residue, in sequence order. Residues without Cα come last; ties go to
/// the earlier residue.
pub fn spatial_crop(
    ca: ArrayView2<f64>,
    ca_mask: &[f64],
    crop_size: usize,
    rng: &mut impl Rng,
) -> Vec<usize> {
    let residues = ca_mask.len();
    if residues <= crop_size {
        return (0..residues).collect();
    }
    let with_ca: Vec<usize> = (0..residues).filter(|&i| ca_mask[i] > 0.0).collect();
    if with_ca.is_empty() {
        return contiguous_crop(residues, crop_size, rng);
    }
    let center = with_ca[rng.random_range(0..with_ca.len())];
    let distance = |i: usize| {
        if ca_mask[i] > 0.0 {
            (0..3).map(|k| (ca[(i, k)] - ca[(center, k)]).powi(2)).sum::<f64>().sqrt()
        } else {
            f64::INFINITY
        }
    };
    let mut order: Vec<(f64, usize)> = (0..residues).map(|i| (distance(i), i)).collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut keep: Vec<usize> = order.into_iter().take(crop_size).map(|(_, i)| i).collect();
    keep.sort_unstable();
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn contiguous_crops_are_windows_inside_the_chain() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..50 {
            let crop = contiguous_crop(100, 30, &mut rng);
            assert_eq!(crop.len(), 30);
            assert!(crop.windows(2).all(|w| w[1] == w[0] + 1));
            assert!(*crop.last().unwrap() < 100);
        }
        assert_eq!(contiguous_crop(10, 30, &mut rng), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn spatial_crops_keep_the_nearest_residues() {
        // Residues on a line, 3.8 Å apart, except that residue 90 sits next to residue 5.
        let mut ca = Array2::<f64>::zeros((100, 3));
        for i in 0..100 {
            ca[(i, 0)] = 3.8 * i as f64;
        }
        ca[(90, 0)] = 3.8 * 5.0;
        ca[(90, 1)] = 1.0;
        let mask = vec![1.0; 100];
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for _ in 0..20 {
            let crop = spatial_crop(ca.view(), &mask, 20, &mut rng);
            assert_eq!(crop.len(), 20);
            assert!(crop.windows(2).all(|w| w[1] > w[0]), "sorted, no repeats");
            // Whatever the centre, the crop is a ball: anything nearer than the farthest kept
            // residue is kept.
            let center_dist =
                |c: usize, i: usize| (ca[(i, 0)] - ca[(c, 0)]).hypot(ca[(i, 1)] - ca[(c, 1)]);
            let kept_center = (0..100).find(|&c| {
                let far = crop.iter().map(|&i| center_dist(c, i)).fold(0.0, f64::max);
                (0..100).all(|i| crop.contains(&i) || center_dist(c, i) >= far)
            });
            assert!(kept_center.is_some(), "{crop:?} is not the neighbourhood of any residue");
        }
        let near_five = (0..200)
            .map(|_| spatial_crop(ca.view(), &mask, 20, &mut rng))
            .find(|c| c.contains(&5) && c.contains(&10))
            .expect("some crop is centred near residue 5");
        assert!(near_five.contains(&90), "residue 90 is 1 Å from residue 5: {near_five:?}");
    }
}
