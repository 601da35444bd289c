//! AlphaFold's filters on training chains (Jumper et al. 2021, Suppl. Sec. 1.2.5): resolution,
//! release-date cut-off, length, and low-complexity chains dominated by one residue type.

use serde::{Deserialize, Serialize};

use crate::chain::ChainEntry;

/// Which chains to keep; each criterion is also a flag of the commands that filter (clap).
/// `None` switches a criterion off. The defaults are AlphaFold's: resolution ≤ 9 Å, no residue
/// type above 80%, at least 10 residues.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, clap::Parser)]
#[serde(default, deny_unknown_fields)]
pub struct ChainFilter {
    /// Only chains of at most this resolution (Å); chains without one (NMR, predictions) pass
    /// unless `require_resolution`.
    #[arg(long, default_value = "9")]
    pub max_resolution: Option<f64>,
    /// Leave out chains whose file states no resolution.
    #[arg(long)]
    pub require_resolution: bool,
    /// Only chains released strictly before this date (YYYY-MM-DD); chains without a date fail.
    #[arg(long)]
    pub released_before: Option<String>,
    #[arg(long, default_value = "10")]
    pub min_length: Option<usize>,
    #[arg(long)]
    pub max_length: Option<usize>,
    /// At most this fraction of the residues of one type (AlphaFold: 0.8).
    #[arg(long, default_value = "0.8")]
    pub max_single_residue_fraction: Option<f64>,
}

impl Default for ChainFilter {
    /// The defaults of the flags above.
    fn default() -> Self {
        <Self as clap::Parser>::parse_from(["filter"])
    }
}

impl ChainFilter {
    /// `None` if `entry` passes, else the first reason it fails.
    pub fn rejects(&self, entry: &ChainEntry) -> Option<String> {
        let known_resolution = entry.resolution > 0.0;
        if self.require_resolution && !known_resolution {
            return Some("no resolution".into());
        }
        if let (Some(max), true) = (self.max_resolution, known_resolution) {
            if entry.resolution > max {
                return Some(format!("resolution {:.2} Å > {max} Å", entry.resolution));
            }
        }
        if let Some(cutoff) = &self.released_before {
            match &entry.release_date {
                Some(date) if date < cutoff => {}
                Some(date) => return Some(format!("released {date}, not before {cutoff}")),
                None => return Some("no release date".into()),
            }
        }
        if self.min_length.is_some_and(|min| entry.length < min) {
            return Some(format!(
                "{} residues, fewer than {}",
                entry.length,
                self.min_length.unwrap()
            ));
        }
        if self.max_length.is_some_and(|max| entry.length > max) {
            return Some(format!(
                "{} residues, more than {}",
                entry.length,
                self.max_length.unwrap()
            ));
        }
        if let Some(max) = self.max_single_residue_fraction {
            let mut counts = [0usize; 256];
            for b in entry.sequence.bytes() {
                counts[b as usize] += 1;
            }
            let top = counts.iter().max().copied().unwrap_or(0);
            let fraction = top as f64 / entry.sequence.len().max(1) as f64;
            if fraction > max {
                return Some(format!("{:.0}% of one residue type", fraction * 100.0));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sequence: &str, resolution: f64, date: Option<&str>) -> ChainEntry {
        ChainEntry {
            id: "X".into(),
            shard: String::new(),
            length: sequence.len(),
            sequence: sequence.into(),
            resolution,
            release_date: date.map(String::from),
            msa_rows: 0,
            source: String::new(),
            checksum: None,
        }
    }

    #[test]
    fn each_criterion_rejects_what_it_should() {
        let f =
            ChainFilter { released_before: Some("2018-04-30".into()), ..ChainFilter::default() };
        assert_eq!(f.rejects(&entry("MKTAYIAKQRQISFVKSHFSRQ", 1.8, Some("2010-01-01"))), None);
        assert!(f
            .rejects(&entry("MKTAYIAKQRQISFVKSHFSRQ", 9.5, Some("2010-01-01")))
            .unwrap()
            .contains("resolution"));
        assert!(f
            .rejects(&entry("MKTAYIAKQRQISFVKSHFSRQ", 1.8, Some("2019-01-01")))
            .unwrap()
            .contains("released"));
        assert!(f.rejects(&entry("MKTAYIAKQRQISFVKSHFSRQ", 1.8, None)).unwrap().contains("date"));
        assert!(f.rejects(&entry("MKTAY", 1.8, Some("2010-01-01"))).unwrap().contains("fewer"));
        assert!(f
            .rejects(&entry("QQQQQQQQQQQQQQQQQQQA", 1.8, Some("2010-01-01")))
            .unwrap()
            .contains("one residue"));
        // NMR (no resolution) passes unless a resolution is required.
        let nmr = entry("MKTAYIAKQRQISFVKSHFSRQ", 0.0, Some("2010-01-01"));
        assert_eq!(f.rejects(&nmr), None);
        assert!(ChainFilter { require_resolution: true, ..f }.rejects(&nmr).is_some());
    }
}
