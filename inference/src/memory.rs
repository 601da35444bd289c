//! Peak-memory estimate of one prediction, made before anything large is allocated, so that a
//! chain too long for the machine is refused with advice instead of being killed; and the
//! choice of chunk sizes when the user gives none.

use ferrofold_features::process::PipelineConfig;
use ferrofold_model::largest_tensor::TensorSizes;
use ferrofold_model::primitives::rows_per_tile;
use ferrofold_model::ModelConfig;

/// The sizes that drive memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemSize {
    pub residues: usize,
    /// Cluster rows fed to the Evoformer (template rows excluded).
    pub msa_rows: usize,
    pub extra_rows: usize,
}

impl ProblemSize {
    /// The sizes of a chain of `residues` with an alignment of `msa_rows` rows (the query
    /// included), as the input pipeline splits the rows into cluster and extra rows.
    pub fn of(residues: usize, msa_rows: usize, pipeline: &PipelineConfig) -> Self {
        Self::split(residues, msa_rows, pipeline.max_msa_clusters, pipeline.max_extra_msa)
    }

    /// The sizes with at most `clusters` cluster rows and `extra` extra rows (the rest of the
    /// alignment's rows, as both AlphaFold pipelines take them).
    pub fn split(residues: usize, msa_rows: usize, clusters: usize, extra: usize) -> Self {
        Self {
            residues,
            msa_rows: msa_rows.min(clusters),
            extra_rows: msa_rows.saturating_sub(clusters).min(extra),
        }
    }

    /// The shapes' sizes, with as many templates as AlphaFold's pipelines feed at most.
    pub fn tensor_sizes(&self, config: &ModelConfig) -> TensorSizes {
        TensorSizes {
            residues: self.residues,
            msa_rows: self.msa_rows,
            extra_rows: self.extra_rows,
            templates: if config.template.enabled { MAX_TEMPLATES } else { 0 },
        }
    }
}

/// Templates fed to the network at most (both pipelines' `max_templates`).
const MAX_TEMPLATES: usize = 4;

pub use ferrofold_model::largest_tensor::{Chunks, CHUNK_LADDER};

/// Estimated peak resident bytes of a float32 forward pass (parameters, live activations, the
/// largest temporary of any block, and the host copies of the outputs).
///
/// Element counts follow the shapes of the network's tensors; each term is an upper bound of
/// what is alive at once, so the sum is above the measured peak without a margin
/// (bench/RESULTS.md, "The memory estimate against measured peaks", has the comparison).
/// With `fused_attention` (the kernel runs on this backend), attention holds no scores: only
/// its projections and output, which are linear in the keys.
pub fn estimate_peak_bytes(
    size: ProblemSize,
    config: &ModelConfig,
    parameters: usize,
    fused_attention: bool,
) -> u64 {
    let r = size.residues as f64;
    let template_rows = if config.template.enabled { MAX_TEMPLATES as f64 } else { 0.0 };
    let s = size.msa_rows as f64 + template_rows;
    let e = size.extra_rows.max(1) as f64;
    let rows = |n: f64| config.chunk_size.map_or(n, |c| (c as f64).min(n));
    let keys = |n: f64| config.key_chunk_size.map_or(n, |k| (k as f64).min(n));
    let cm = config.msa_channel as f64;
    let cz = config.pair_channel as f64;
    let ce = config.extra_msa_channel as f64;
    let ev = &config.evoformer;
    let heads = |a: &ferrofold_model::config::AttentionConfig| a.num_head as f64;
    // An intermediate of `n` rows with `per_row` elements each, made a chunk (or tile) at a time.
    let tiled =
        |n: f64, per_row: f64| rows(n).min(rows_per_tile(per_row as usize) as f64) * per_row;

    // Representations alive across a block: input, residual sum, normalised copy, update.
    let live = 4.0 * (s * r * cm + r * r * cz + e * r * ce) + r * r * cz;
    // Softmax over logits holds logits, exponentials and weights at once; the fused kernel
    // keeps one tile of one query's scores in registers.
    let softmax = if fused_attention { 0.0 } else { 3.0 };
    let temporaries = [
        // MSA row attention with pair bias: projections + logits.
        4.0 * s * r * cm
            + softmax * rows(s) * heads(&ev.msa_row_attention_with_pair_bias) * r * keys(r),
        // MSA column attention.
        4.0 * s * r * cm + softmax * rows(r) * heads(&ev.msa_column_attention) * s * keys(s),
        // Extra-MSA row attention (the extra stack shares the Evoformer's head counts).
        4.0 * e * r * ce
            + softmax * rows(e) * heads(&ev.msa_row_attention_with_pair_bias) * r * keys(r),
        // Transitions (4× widening).
        tiled(s, 4.0 * r * cm),
        tiled(e, 4.0 * r * ce),
        tiled(r, 4.0 * r * cz),
        // Outer product mean: per-pair outer products before the output projection.
        tiled(r, r * (ev.outer_product_mean_channels as f64).powi(2))
            + 2.0 * e * r * ev.outer_product_mean_channels as f64,
        // Triangle multiplication: projections and gates.
        5.0 * r * r * ev.triangle_multiplication_channels as f64,
        // Triangle attention.
        4.0 * r * r * cz
            + softmax * rows(r) * heads(&ev.triangle_attention_starting_node) * r * keys(r),
    ]
    .into_iter()
    .fold(0.0, f64::max);
    // Outputs on the host in float64: pair representation, distogram and aligned-error logits,
    // aligned-error probabilities.
    let heads_bins = (config.heads.distogram_num_bins
        + 2 * config.heads.predicted_aligned_error_num_bins.unwrap_or(0))
        as f64;
    let outputs = 2.0 * r * r * (cz + heads_bins);
    let elements = parameters as f64 + live + temporaries + outputs;
    (elements * 4.0) as u64
}

/// Bytes available to this process: the smallest of the memory the kernel reports as
/// available, the cgroup's limit, and what the process's address-space and data limits
/// (`ulimit -v`, `ulimit -d`) leave beyond what it already maps.
pub fn available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let available = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)?;
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok());
    let rlimit = match (
        std::fs::read_to_string("/proc/self/limits"),
        std::fs::read_to_string("/proc/self/status"),
    ) {
        (Ok(limits), Ok(status)) => rlimit_headroom(&limits, &status),
        _ => None,
    };
    Some([Some(available), cgroup, rlimit].into_iter().flatten().min().unwrap_or(available))
}

/// What the soft address-space and data-segment limits (`/proc/self/limits`) leave beyond the
/// process's current virtual size and data segment (`/proc/self/status`); None when unlimited.
fn rlimit_headroom(limits: &str, status: &str) -> Option<u64> {
    let soft_limit = |name: &str| {
        limits
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    let in_use = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    let address_space =
        soft_limit("Max address space").map(|l| l.saturating_sub(in_use("VmSize:")));
    let data = soft_limit("Max data size").map(|l| l.saturating_sub(in_use("VmData:")));
    [address_space, data].into_iter().flatten().min()
}

/// A size as people read it: GiB with a decimal, whole MiB, KiB with a decimal, or bytes.
pub fn human_bytes(bytes: u64) -> String {
    let unit = |shift: u32| bytes as f64 / (1u64 << shift) as f64;
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", unit(30))
    } else if bytes >= 1 << 20 {
        format!("{:.0} MiB", unit(20))
    } else if bytes >= 1 << 10 {
        format!("{:.1} KiB", unit(10))
    } else {
        format!("{bytes} B")
    }
}

pub fn describe(chunks: Chunks) -> String {
    match chunks {
        (None, None) => "no chunking".into(),
        (rows, keys) => format!(
            "--chunk-size {} --key-chunk-size {}",
            rows.map_or("none".into(), |r| r.to_string()),
            keys.map_or("none".into(), |k| k.to_string())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The estimate must not fall below the peak of the full network at 384 residues
    /// (bench/RESULTS.md, "Peak memory at 384 residues": model_1_ptm, 512 + 1,024 rows, chunk
    /// 4, key chunk 128; 2.0 GiB, from a measured run with 2 of the 48 blocks plus the others'
    /// parameters) and should not overshoot it wildly, or long chains would be refused
    /// needlessly.
    #[test]
    fn estimate_brackets_the_measured_peak_at_384_residues() {
        let mut config = ModelConfig::preset("model_1_ptm").unwrap();
        config.chunk_size = Some(4);
        config.key_chunk_size = Some(128);
        let size = ProblemSize { residues: 384, msa_rows: 512, extra_rows: 1024 };
        let estimate =
            estimate_peak_bytes(size, &config, 93_200_000, false) as f64 / (1u64 << 30) as f64;
        eprintln!("estimate {estimate:.2} GiB");
        assert!((2.0..4.0).contains(&estimate), "estimate {estimate:.2} GiB vs measured 2.0 GiB");
    }

    /// The peaks of `predict` with the bundled model measured at 313–600 residues
    /// (bench/RESULTS.md, "The memory estimate against measured peaks": residues, alignment
    /// rows, peak MiB): the estimate must stay above each, by at most 15%.
    #[test]
    fn estimate_is_within_15_percent_above_the_measured_peaks_of_the_bundled_model() {
        let config = ModelConfig::preset(crate::bundled::PRESET).unwrap();
        let parameters = crate::bundled::params().unwrap().parameter_count();
        let pipeline = config.data_pipeline(0);
        let measured = [(313, 1, 898.0), (313, 256, 1392.0), (450, 1, 2397.0), (450, 256, 2707.0)];
        let measured = measured.into_iter().chain([(600, 1, 5254.0), (600, 256, 5418.0)]);
        for (residues, rows, peak_mib) in measured {
            let size = ProblemSize::of(residues, rows, &pipeline);
            let estimate = estimate_peak_bytes(size, &config, parameters, false) as f64 / 1048576.0;
            let ratio = estimate / peak_mib;
            assert!((1.0..=1.15).contains(&ratio), "{residues} × {rows}: {ratio:.3}");
        }
    }

    #[test]
    fn address_space_and_data_limits_bound_the_headroom() {
        let status = "Name:\tferrofold\nVmSize:\t  200000 kB\nVmData:\t   50000 kB\n";
        let unlimited =
            "Limit                     Soft Limit           Hard Limit           Units\n\
             Max data size             unlimited            unlimited            bytes\n\
             Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(rlimit_headroom(unlimited, status), None);
        let limited = unlimited.replacen(
            "Max address space         unlimited",
            "Max address space         1048576000",
            1,
        );
        assert_eq!(rlimit_headroom(&limited, status), Some(1_048_576_000 - 200_000 * 1024));
        let both = limited.replacen(
            "Max data size             unlimited",
            "Max data size             104857600",
            1,
        );
        assert_eq!(rlimit_headroom(&both, status), Some(104_857_600 - 50_000 * 1024));
    }

    #[test]
    fn chunking_lowers_the_estimate_and_length_raises_it() {
        let mut config = ModelConfig::preset("model_1_ptm").unwrap();
        let size = ProblemSize { residues: 1000, msa_rows: 512, extra_rows: 5120 };
        let unchunked = estimate_peak_bytes(size, &config, 93_200_000, false);
        config.chunk_size = Some(4);
        config.key_chunk_size = Some(128);
        let chunked = estimate_peak_bytes(size, &config, 93_200_000, false);
        assert!(chunked * 4 < unchunked, "{chunked} vs {unchunked}");
        let longer = ProblemSize { residues: 2000, ..size };
        assert!(estimate_peak_bytes(longer, &config, 93_200_000, false) > 2 * chunked);
    }

    /// Unchunked, burn's attention holds `heads × N³` scores (triangle attention), so with a
    /// shallow alignment doubling the chain multiplies the estimate by nearly 8; the fused
    /// kernel holds none, and what remains grows as N² (pair activations).
    #[test]
    fn fused_attention_removes_the_cubic_term() {
        let config = ModelConfig::preset("model_1_ptm").unwrap();
        let estimate = |residues, fused| {
            let size = ProblemSize { residues, msa_rows: 64, extra_rows: 0 };
            estimate_peak_bytes(size, &config, 93_200_000, fused) as f64
        };
        assert!(estimate(2000, false) / estimate(1000, false) > 6.0);
        assert!(estimate(2000, true) / estimate(1000, true) < 4.5);
        assert!(estimate(1000, true) * 3.0 < estimate(1000, false));
    }
}
