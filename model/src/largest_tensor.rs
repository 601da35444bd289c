//! The largest single tensor a float32 forward pass allocates.
//!
//! GPU backends cap one allocation: CubeCL's largest page is wgpu's storage-buffer binding limit
//! (128 MiB on Mesa's lavapipe and on many drivers without 64-bit shader indexing) and a quarter
//! of a CUDA device's memory. A tensor above the cap is never allocated: CubeCL's device thread
//! panics, catches it, and the pass goes on with garbage. So whoever runs the network on such a
//! device keeps every tensor under the cap, with row and key chunks where they help, or refuses
//! the problem ([`largest_tensor`] names the tensor that decides).

use crate::config::{AttentionConfig, ModelConfig};
use crate::embedders::template_embedder::TEMPLATE_PAIR_FEATURES;
use crate::primitives::rows_per_tile;

/// Row and key chunk sizes (`None`: unchunked).
pub type Chunks = (Option<usize>, Option<usize>);

/// Settings tried in order when the user fixes none (`predict`, the GPU bench): fastest first.
pub const CHUNK_LADDER: [Chunks; 5] = [
    (None, None),
    (Some(64), None),
    (Some(16), Some(512)),
    (Some(4), Some(128)),
    (Some(1), Some(32)),
];

/// The sizes that decide tensor shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorSizes {
    pub residues: usize,
    /// Cluster rows fed to the Evoformer (template rows excluded).
    pub msa_rows: usize,
    pub extra_rows: usize,
    pub templates: usize,
}

/// One tensor of the network, by what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LargestTensor {
    pub what: &'static str,
    pub bytes: u64,
    /// Whether smaller row or key chunks make it smaller.
    pub chunkable: bool,
}

/// The largest float32 tensor of a forward pass with `config`'s chunk sizes; with
/// `fused_attention` (the attention kernel runs on this backend) attention allocates no scores.
pub fn largest_tensor(
    size: TensorSizes,
    config: &ModelConfig,
    fused_attention: bool,
) -> LargestTensor {
    let r = size.residues;
    let t = if config.template.enabled { size.templates } else { 0 };
    let s = size.msa_rows + if config.template.embed_torsion_angles { t } else { 0 };
    let e = size.extra_rows;
    let rows = |n: usize| config.chunk_size.map_or(n, |c| c.clamp(1, n.max(1)));
    let keys = |n: usize| config.key_chunk_size.map_or(n, |k| k.clamp(1, n.max(1)));
    let ev = &config.evoformer;
    let (cm, cz, ce) = (config.msa_channel, config.pair_channel, config.extra_msa_channel);
    let projections = if ev.fused_triangle_projections { 2 } else { 1 };
    let fixed = |what, elements: usize| (what, elements, false);
    let chunked = |what, elements: usize| (what, elements, true);
    // An intermediate of `n` rows made a row chunk (or tile) at a time.
    let tiled = |n: usize, per_row: usize| rows(n).min(rows_per_tile(per_row)) * per_row;
    let mut tensors = vec![
        fixed("the MSA representation", s * r * cm),
        fixed("the extra-MSA representation", e * r * ce),
        fixed("the pair representation", r * r * cz),
        fixed(
            "the triangle multiplication's projections",
            projections * r * r * ev.triangle_multiplication_channels,
        ),
        fixed("the template pair features", t * r * r * TEMPLATE_PAIR_FEATURES),
        fixed(
            "the templates' pair activations",
            t * r * r * config.template.template_pair_stack.channels(),
        ),
        chunked("the MSA transition", tiled(s, r * cm * ev.msa_transition_factor)),
        chunked("the extra-MSA transition", tiled(e, r * ce * ev.msa_transition_factor)),
        chunked("the pair transition", tiled(r, r * cz * ev.pair_transition_factor)),
        chunked("the outer product mean", tiled(r, r * ev.outer_product_mean_channels.pow(2))),
    ];
    if !fused_attention {
        // burn's operations hold the scores [rows, heads, queries, keys]; a pair bias is added
        // to the mask bias over all keys before the keys are chunked.
        let scores =
            |a: &AttentionConfig, batch: usize, queries: usize, k: usize, pair_bias: bool| {
                rows(batch) * a.num_head * queries * if pair_bias { k } else { keys(k) }
            };
        let tri = &config.template.template_pair_stack;
        tensors.extend([
            chunked(
                "MSA row attention's scores",
                scores(&ev.msa_row_attention_with_pair_bias, s, r, r, true),
            ),
            chunked(
                "MSA column attention's scores",
                scores(&ev.msa_column_attention, r, s, s, false),
            ),
            chunked(
                "extra-MSA row attention's scores",
                scores(&ev.msa_row_attention_with_pair_bias, e, r, r, true),
            ),
            chunked(
                "triangle attention's scores",
                scores(&ev.triangle_attention_starting_node, r, r, r, true),
            ),
            chunked(
                "the templates' triangle attention's scores",
                if t > 0 {
                    scores(&tri.triangle_attention_starting_node, r, r, r, true)
                } else {
                    0
                },
            ),
        ]);
    }
    let (what, elements, chunkable) =
        tensors.into_iter().max_by_key(|&(_, elements, _)| elements).expect("tensors listed");
    LargestTensor { what, bytes: elements as u64 * 4, chunkable }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(residues: usize) -> TensorSizes {
        TensorSizes { residues, msa_rows: 128, extra_rows: 256, templates: 1 }
    }

    #[test]
    fn burns_attention_scores_decide_until_chunked_and_the_kernel_removes_them() {
        let mut config = ModelConfig::preset("model_1_ptm").unwrap();
        // Extra-MSA row attention: 256 rows × 8 heads × 256 × 256 scores.
        let reference = largest_tensor(sizes(256), &config, false);
        assert_eq!(reference.what, "extra-MSA row attention's scores");
        assert_eq!(reference.bytes, 256 * 8 * 256 * 256 * 4);
        // With the kernel, and the transitions and the outer product mean made 8 MiB tiles at a
        // time, the MSA representation (128 rows + 1 template row): no chunking helps.
        let fused = largest_tensor(sizes(256), &config, true);
        assert_eq!((fused.what, fused.bytes), ("the MSA representation", 129 * 256 * 256 * 4));
        assert!(!fused.chunkable);
        // Chunks of 16 rows leave the MSA representation (128 rows + 1 template row) largest.
        config.chunk_size = Some(16);
        let chunked = largest_tensor(sizes(256), &config, false);
        assert_eq!((chunked.what, chunked.bytes), ("the MSA representation", 129 * 256 * 256 * 4));
        assert!(!chunked.chunkable);
    }

    #[test]
    fn an_extra_msa_too_large_for_the_buffer_cannot_be_chunked_away() {
        let mut config = ModelConfig::preset("model_1_ptm").unwrap();
        config.chunk_size = Some(1);
        config.key_chunk_size = Some(32);
        let size = TensorSizes { residues: 304, msa_rows: 512, extra_rows: 5120, templates: 4 };
        let largest = largest_tensor(size, &config, true);
        assert_eq!(largest.what, "the extra-MSA representation");
        assert_eq!(largest.bytes, 5120 * 304 * 64 * 4);
        assert!(!largest.chunkable);
    }
}
