//! Which chain a training step sees: AlphaFold samples chains with probability inversely
//! proportional to the size of their sequence cluster (so that each cluster is seen about
//! equally often, not each redundant copy) and favours long chains up to 512 residues
//! (Jumper et al. 2021, Suppl. Sec. 1.2.5); a second source (distillation) can be mixed in at a
//! fixed ratio.

use std::collections::BTreeMap;
use std::path::Path;

use rand::Rng;

use crate::error::{DataError, Result};

/// Cluster of each member from an mmseqs2 `easy-cluster` `*_cluster.tsv` (representative, tab,
/// member per line).
pub fn read_clusters(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let mut clusters = BTreeMap::new();
    for (number, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let mut fields = line.split('\t');
        match (fields.next(), fields.next()) {
            (Some(representative), Some(member)) => {
                clusters.insert(member.trim().to_string(), representative.trim().to_string());
            }
            _ => {
                return Err(DataError::Invalid {
                    path: path.to_path_buf(),
                    message: format!("line {}: expected `representative<TAB>member`", number + 1),
                })
            }
        }
    }
    Ok(clusters)
}

/// AlphaFold's per-chain sampling weight: 1 / cluster size × max(min(length, 512), 256) / 512.
pub fn chain_weight(length: usize, cluster_size: usize) -> f64 {
    let length_factor = (length.clamp(256, 512)) as f64 / 512.0;
    length_factor / cluster_size.max(1) as f64
}

/// Draws chain indices with AlphaFold's weights. Chains missing from the cluster map form
/// clusters of their own.
#[derive(Debug, Clone)]
pub struct WeightedSampler {
    cumulative: Vec<f64>,
}

impl WeightedSampler {
    /// `chains`: (id, length) of each chain, in the order indices refer to.
    pub fn new(chains: &[(String, usize)], clusters: &BTreeMap<String, String>) -> Self {
        let cluster_of = |id: &String| clusters.get(id).cloned().unwrap_or_else(|| id.clone());
        let mut sizes: BTreeMap<String, usize> = BTreeMap::new();
        for (id, _) in chains {
            *sizes.entry(cluster_of(id)).or_default() += 1;
        }
        let mut total = 0.0;
        let cumulative = chains
            .iter()
            .map(|(id, length)| {
                total += chain_weight(*length, sizes[&cluster_of(id)]);
                total
            })
            .collect();
        Self { cumulative }
    }

    /// Uniform weights.
    pub fn uniform(count: usize) -> Self {
        Self { cumulative: (1..=count).map(|i| i as f64).collect() }
    }

    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }

    /// One chain index.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let total = *self.cumulative.last().expect("at least one chain");
        let x = rng.random_range(0.0..total);
        self.cumulative.partition_point(|&c| c <= x).min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn each_cluster_is_drawn_about_equally_often() {
        // Cluster A has 9 redundant members, cluster B one; all 300 residues long.
        let mut chains: Vec<(String, usize)> = (0..9).map(|i| (format!("a{i}"), 300)).collect();
        chains.push(("b0".into(), 300));
        let clusters: BTreeMap<String, String> =
            chains.iter().map(|(id, _)| (id.clone(), id[..1].to_string())).collect();
        let sampler = WeightedSampler::new(&chains, &clusters);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let draws = 20_000;
        let b = (0..draws).filter(|_| sampler.sample(&mut rng) == 9).count();
        let fraction = b as f64 / draws as f64;
        assert!((fraction - 0.5).abs() < 0.02, "cluster B drawn {fraction}");
    }

    #[test]
    fn long_chains_weigh_more_up_to_512() {
        assert_eq!(chain_weight(100, 1), 0.5);
        assert_eq!(chain_weight(384, 1), 0.75);
        assert_eq!(chain_weight(2000, 1), 1.0);
        assert_eq!(chain_weight(2000, 4), 0.25);
    }

    #[test]
    fn cluster_files_are_read_and_bad_lines_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.tsv");
        std::fs::write(&path, "A\tA\nA\tB\nC\tC\n").unwrap();
        let clusters = read_clusters(&path).unwrap();
        assert_eq!(clusters["B"], "A");
        std::fs::write(&path, "A\tA\nbroken\n").unwrap();
        assert!(read_clusters(&path).unwrap_err().to_string().contains("line 2"));
    }
}
