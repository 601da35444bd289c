//! The network's hyper-parameters as typed data, with AlphaFold's named presets.

use burn::config::Config;

use ferrofold_features::process::PipelineConfig;

use crate::error::ModelError;

#[derive(Config, Debug, PartialEq)]
pub struct AttentionConfig {
    pub num_head: usize,
    /// Total query/key width over all heads; the query's channels when absent.
    pub key_dim: Option<usize>,
    /// Total value width over all heads; the memory's channels when absent.
    pub value_dim: Option<usize>,
    pub gating: bool,
}

impl AttentionConfig {
    pub fn gated(num_head: usize) -> Self {
        Self { num_head, key_dim: None, value_dim: None, gating: true }
    }
}

/// One Evoformer block (also the extra-MSA block, which uses global column attention).
#[derive(Config, Debug, PartialEq)]
pub struct EvoformerBlockConfig {
    pub msa_row_attention_with_pair_bias: AttentionConfig,
    pub msa_column_attention: AttentionConfig,
    pub msa_transition_factor: usize,
    pub outer_product_mean_channels: usize,
    pub triangle_multiplication_channels: usize,
    pub triangle_attention_starting_node: AttentionConfig,
    pub triangle_attention_ending_node: AttentionConfig,
    pub pair_transition_factor: usize,
    /// AlphaFold-Multimer: the outer product mean opens the block, before MSA row attention.
    #[config(default = false)]
    pub outer_product_mean_first: bool,
    /// AlphaFold-Multimer v2.3's fused triangle-multiplication weights
    /// (`fuse_projection_weights`).
    #[config(default = false)]
    pub fused_triangle_projections: bool,
}

#[derive(Config, Debug, PartialEq)]
pub struct TemplatePairStackConfig {
    pub num_block: usize,
    pub triangle_attention_starting_node: AttentionConfig,
    pub triangle_attention_ending_node: AttentionConfig,
    pub triangle_multiplication_channels: usize,
    pub pair_transition_factor: usize,
    /// AlphaFold-Multimer's order: triangle multiplications before triangle attention.
    #[config(default = false)]
    pub triangle_multiplication_first: bool,
    /// AlphaFold-Multimer v2.3's fused triangle-multiplication weights.
    #[config(default = false)]
    pub fused_triangle_projections: bool,
}

impl TemplatePairStackConfig {
    /// The template pair representation's width (AlphaFold takes it from the ending-node
    /// attention's value width).
    pub fn channels(&self) -> usize {
        self.triangle_attention_ending_node.value_dim.unwrap_or(64)
    }
}

/// Distance bins: `num_bins` lower edges evenly from `min_bin` to `max_bin` (Å).
#[derive(Config, Debug, PartialEq)]
pub struct DistogramBins {
    pub min_bin: f64,
    pub max_bin: f64,
    pub num_bins: usize,
}

#[derive(Config, Debug, PartialEq)]
pub struct TemplateConfig {
    pub enabled: bool,
    pub embed_torsion_angles: bool,
    pub dgram_features: DistogramBins,
    pub attention: AttentionConfig,
    pub template_pair_stack: TemplatePairStackConfig,
}

#[derive(Config, Debug, PartialEq)]
pub struct StructureModuleConfig {
    pub num_layer: usize,
    pub num_channel: usize,
    pub num_head: usize,
    pub num_scalar_qk: usize,
    pub num_scalar_v: usize,
    pub num_point_qk: usize,
    pub num_point_v: usize,
    pub num_layer_in_transition: usize,
    pub position_scale: f64,
    pub sidechain_num_channel: usize,
    pub sidechain_num_residual_block: usize,
}

#[derive(Config, Debug, PartialEq)]
pub struct HeadsConfig {
    pub distogram_num_bins: usize,
    pub distogram_first_break: f64,
    pub distogram_last_break: f64,
    pub masked_msa_num_output: usize,
    pub predicted_lddt_num_channels: usize,
    pub predicted_lddt_num_bins: usize,
    /// The predicted-aligned-error head (the `_ptm` presets): number of bins.
    pub predicted_aligned_error_num_bins: Option<usize>,
    pub predicted_aligned_error_max_error_bin: f64,
}

/// Dropout rates of training, AlphaFold's (`dropout_rate` of each module; those not listed
/// are 0). Applied only while gradients are recorded (see `primitives::dropout`).
#[derive(Config, Debug, PartialEq)]
pub struct DropoutConfig {
    /// MSA row attention with pair bias, shared across MSA rows (Evoformer and extra-MSA
    /// stack): 0.15.
    pub msa_row_attention: f64,
    /// Triangle multiplicative updates and triangle attention, shared across rows (columns for
    /// the ending-node attention), in the Evoformer, extra-MSA and template pair stacks: 0.25.
    pub triangle: f64,
    /// The structure module's activations after attention and after the transition: 0.1.
    pub structure_module: f64,
}

impl DropoutConfig {
    pub fn alphafold() -> Self {
        Self { msa_row_attention: 0.15, triangle: 0.25, structure_module: 0.1 }
    }

    /// No dropout (deterministic training, e.g. finite-difference checks).
    pub fn none() -> Self {
        Self { msa_row_attention: 0.0, triangle: 0.0, structure_module: 0.0 }
    }
}

#[derive(Config, Debug, PartialEq)]
pub struct ModelConfig {
    pub name: String,
    pub msa_channel: usize,
    pub pair_channel: usize,
    pub extra_msa_channel: usize,
    pub seq_channel: usize,
    pub evoformer_num_block: usize,
    pub extra_msa_stack_num_block: usize,
    pub max_relative_feature: usize,
    pub prev_pos: DistogramBins,
    pub evoformer: EvoformerBlockConfig,
    pub template: TemplateConfig,
    pub structure_module: StructureModuleConfig,
    pub heads: HeadsConfig,
    /// Recycling iterations after the first pass (the batch's leading dimension is this + 1).
    pub num_recycle: usize,
    /// Batch chunk of every attention and transition (AlphaFold's `subbatch_size`); none: whole.
    pub chunk_size: Option<usize>,
    /// Keys per step inside attention (memory-efficient attention); none: all keys at once.
    pub key_chunk_size: Option<usize>,
    /// Attention's implementation (fused kernel where the backend has one, or burn's operations).
    #[config(default = "AttentionKernel::Fused")]
    pub attention_kernel: AttentionKernel,
    /// Dropout in training.
    #[config(default = "DropoutConfig::alphafold()")]
    pub dropout: DropoutConfig,
    /// AlphaFold-Multimer (v2.3): chain-relative positions, the multimer template embedder and
    /// structure module, the MSA sampled inside each recycle; `None`: the monomer network.
    #[config(default = "None")]
    pub multimer: Option<MultimerConfig>,
}

/// What AlphaFold-Multimer adds to the network's settings (DeepMind's v2.3.2 `CONFIG_MULTIMER`).
#[derive(Config, Debug, PartialEq)]
pub struct MultimerConfig {
    /// Residue-number offsets within a chain are clipped to ±this (32).
    pub max_relative_idx: usize,
    /// Symmetry-id offsets between copies of one entity are clipped to ±this (2).
    pub max_relative_chain: usize,
    /// MSA cluster centres per recycle (508).
    pub num_msa: usize,
    /// Extra MSA rows per recycle (2,048; 1,152 for models 4 and 5).
    pub num_extra_msa: usize,
    /// Recycling stops early once the CA distance matrix moves by at most this (Å, RMS over
    /// residue pairs) from one recycle to the next, then runs one last iteration (0.5).
    pub recycle_early_stop_tolerance: f64,
}

impl MultimerConfig {
    /// Width of the relative encoding: residue offset bins and the other-chain bin, the
    /// same-entity bit, symmetry-id offset bins and the other-entity bin (73 for AlphaFold's).
    pub fn relative_encoding_width(&self) -> usize {
        2 * self.max_relative_idx + 2 + 1 + 2 * self.max_relative_chain + 2
    }
}

/// The most recycling iterations a run may ask for (ColabFold's largest choice). More gives
/// nothing and, since every iteration's features are sampled up front, only costs memory.
pub const MAX_RECYCLES: usize = 48;

/// Names of the presets [`ModelConfig::preset`] knows.
pub const PRESETS: [&str; 23] = [
    "model_1",
    "model_2",
    "model_3",
    "model_4",
    "model_5",
    "model_1_ptm",
    "model_2_ptm",
    "model_3_ptm",
    "model_4_ptm",
    "model_5_ptm",
    "model_1_multimer_v3",
    "model_2_multimer_v3",
    "model_3_multimer_v3",
    "model_4_multimer_v3",
    "model_5_multimer_v3",
    "model_1_multimer_v2",
    "model_2_multimer_v2",
    "model_3_multimer_v2",
    "model_4_multimer_v2",
    "model_5_multimer_v2",
    "reduced",
    "small",
    "reduced_multimer",
];

impl ModelConfig {
    /// Channels of the per-residue target features: residue type one-hot (21), and in the
    /// monomer AlphaFold2's between-segment bit.
    pub fn target_feat_width(&self) -> usize {
        if self.multimer.is_some() {
            21
        } else {
            22
        }
    }

    /// The input pipeline AlphaFold pairs with this network (its `data` config): models 1–4
    /// see 5,120 extra sequences, model 5 (and `reduced`) 1,024; the models with templates
    /// give 4 of the 512 cluster rows to template torsions.
    pub fn data_pipeline(&self, num_recycle: usize) -> PipelineConfig {
        let number = self
            .name
            .strip_prefix("model_")
            .and_then(|n| n.trim_end_matches("_ptm").parse::<usize>().ok());
        let mut pipeline = PipelineConfig { num_recycle, ..PipelineConfig::default() };
        if matches!(number, Some(1..=4)) {
            pipeline.max_extra_msa = 5120;
        }
        if self.template.enabled && number.is_some() {
            pipeline.max_msa_clusters -= 4;
        }
        pipeline
    }

    /// AlphaFold's `model_1` … `model_5` (and `_ptm`) networks, and `reduced`: `model_1_ptm`
    /// narrowed for tests (the preset of `tests/fixtures/reference/reduced_s0`).
    pub fn preset(name: &str) -> crate::error::Result<Self> {
        let unknown = || ModelError::UnknownPreset(name.to_string(), PRESETS.join(", "));
        if name == "reduced" {
            return Ok(Self::reduced());
        }
        if name == "small" {
            return Ok(Self::small());
        }
        if name == "reduced_multimer" {
            return Ok(Self::reduced_multimer());
        }
        for (suffix, v3) in [("_multimer_v3", true), ("_multimer_v2", false)] {
            if let Some(number) = name
                .strip_prefix("model_")
                .and_then(|rest| rest.strip_suffix(suffix))
                .and_then(|n| n.parse::<usize>().ok())
            {
                return match number {
                    1..=5 => Ok(Self::multimer(name, number, v3)),
                    _ => Err(unknown()),
                };
            }
        }
        let (base, ptm) = match name.strip_suffix("_ptm") {
            Some(base) => (base, true),
            None => (name, false),
        };
        let number: usize =
            base.strip_prefix("model_").and_then(|n| n.parse().ok()).ok_or_else(unknown)?;
        if !(1..=5).contains(&number) {
            return Err(unknown());
        }
        let mut config = Self::full(name, ptm);
        // Models 3–5 were trained without templates.
        config.template.enabled = number <= 2;
        Ok(config)
    }

    fn full(name: &str, ptm: bool) -> Self {
        let triangle_attention =
            |key_dim| AttentionConfig { num_head: 4, key_dim, value_dim: key_dim, gating: true };
        Self {
            name: name.to_string(),
            msa_channel: 256,
            pair_channel: 128,
            extra_msa_channel: 64,
            seq_channel: 384,
            evoformer_num_block: 48,
            extra_msa_stack_num_block: 4,
            max_relative_feature: 32,
            prev_pos: DistogramBins { min_bin: 3.25, max_bin: 20.75, num_bins: 15 },
            evoformer: EvoformerBlockConfig {
                msa_row_attention_with_pair_bias: AttentionConfig::gated(8),
                msa_column_attention: AttentionConfig::gated(8),
                msa_transition_factor: 4,
                outer_product_mean_channels: 32,
                triangle_multiplication_channels: 128,
                triangle_attention_starting_node: triangle_attention(None),
                triangle_attention_ending_node: triangle_attention(None),
                pair_transition_factor: 4,
                outer_product_mean_first: false,
                fused_triangle_projections: false,
            },
            template: TemplateConfig {
                enabled: true,
                embed_torsion_angles: true,
                dgram_features: DistogramBins { min_bin: 3.25, max_bin: 50.75, num_bins: 39 },
                attention: AttentionConfig {
                    num_head: 4,
                    key_dim: Some(64),
                    value_dim: Some(64),
                    gating: false,
                },
                template_pair_stack: TemplatePairStackConfig {
                    num_block: 2,
                    triangle_attention_starting_node: triangle_attention(Some(64)),
                    triangle_attention_ending_node: triangle_attention(Some(64)),
                    triangle_multiplication_channels: 64,
                    pair_transition_factor: 2,
                    triangle_multiplication_first: false,
                    fused_triangle_projections: false,
                },
            },
            structure_module: StructureModuleConfig {
                num_layer: 8,
                num_channel: 384,
                num_head: 12,
                num_scalar_qk: 16,
                num_scalar_v: 16,
                num_point_qk: 4,
                num_point_v: 8,
                num_layer_in_transition: 3,
                position_scale: 10.0,
                sidechain_num_channel: 128,
                sidechain_num_residual_block: 2,
            },
            heads: HeadsConfig {
                distogram_num_bins: 64,
                distogram_first_break: 2.3125,
                distogram_last_break: 21.6875,
                masked_msa_num_output: 23,
                predicted_lddt_num_channels: 128,
                predicted_lddt_num_bins: 50,
                predicted_aligned_error_num_bins: ptm.then_some(64),
                predicted_aligned_error_max_error_bin: 31.0,
            },
            num_recycle: 3,
            chunk_size: None,
            key_chunk_size: None,
            attention_kernel: AttentionKernel::Fused,
            dropout: DropoutConfig::alphafold(),
            multimer: None,
        }
    }

    /// AlphaFold-Multimer `model_{number}_multimer_v3` (or `_v2`: separate triangle-
    /// multiplication weights, 252 cluster centres and 1,152 extra rows): DeepMind's v2.3.2
    /// configs.
    fn multimer(name: &str, number: usize, v3: bool) -> Self {
        let mut c = Self::full(name, true);
        c.evoformer.outer_product_mean_first = true;
        c.evoformer.fused_triangle_projections = v3;
        let t = &mut c.template;
        t.embed_torsion_angles = true;
        let stack = &mut t.template_pair_stack;
        stack.triangle_multiplication_first = true;
        stack.fused_triangle_projections = v3;
        c.heads.masked_msa_num_output = 22;
        c.structure_module.position_scale = 20.0;
        c.num_recycle = 20;
        c.multimer = Some(MultimerConfig {
            max_relative_idx: 32,
            max_relative_chain: 2,
            num_msa: if v3 { 508 } else { 252 },
            num_extra_msa: if v3 && number <= 3 { 2048 } else { 1152 },
            recycle_early_stop_tolerance: 0.5,
        });
        c
    }

    /// `model_1_multimer_v3` narrowed as `tools/reference/make_multimer_ref.py` narrows it (the
    /// preset of `tests/fixtures/reference/multimer_2hhb`).
    fn reduced_multimer() -> Self {
        let mut c = Self::multimer("reduced_multimer", 1, true);
        c.msa_channel = 16;
        c.pair_channel = 8;
        c.seq_channel = 12;
        c.extra_msa_channel = 8;
        c.evoformer_num_block = 2;
        c.extra_msa_stack_num_block = 1;
        let e = &mut c.evoformer;
        for attention in [
            &mut e.msa_row_attention_with_pair_bias,
            &mut e.msa_column_attention,
            &mut e.triangle_attention_starting_node,
            &mut e.triangle_attention_ending_node,
        ] {
            attention.num_head = 2;
        }
        e.outer_product_mean_channels = 4;
        e.triangle_multiplication_channels = 6;
        let stack = &mut c.template.template_pair_stack;
        stack.num_block = 1;
        for attention in
            [&mut stack.triangle_attention_starting_node, &mut stack.triangle_attention_ending_node]
        {
            *attention =
                AttentionConfig { num_head: 2, key_dim: Some(8), value_dim: Some(8), gating: true };
        }
        stack.triangle_multiplication_channels = 6;
        let s = &mut c.structure_module;
        s.num_layer = 2;
        s.num_channel = 12;
        s.num_head = 2;
        s.num_scalar_qk = 4;
        s.num_point_qk = 3;
        s.num_scalar_v = 4;
        s.num_point_v = 5;
        s.sidechain_num_channel = 8;
        c.heads.predicted_lddt_num_channels = 8;
        let m = c.multimer.as_mut().expect("a multimer preset");
        m.num_msa = 16;
        m.num_extra_msa = 24;
        c
    }

    /// A narrow `model_3_ptm` (no templates) that trains on a CPU: 4 Evoformer blocks of
    /// 32 MSA / 32 pair channels, a full-depth (8-layer) structure module of 64 channels; the
    /// architecture of the project's bundled model.
    fn small() -> Self {
        let mut c = Self::full("small", true);
        c.template.enabled = false;
        c.msa_channel = 32;
        c.pair_channel = 32;
        c.extra_msa_channel = 16;
        c.seq_channel = 64;
        c.evoformer_num_block = 4;
        c.extra_msa_stack_num_block = 1;
        let e = &mut c.evoformer;
        e.msa_row_attention_with_pair_bias.num_head = 4;
        e.msa_column_attention.num_head = 4;
        e.outer_product_mean_channels = 8;
        e.triangle_multiplication_channels = 32;
        e.triangle_attention_starting_node.num_head = 2;
        e.triangle_attention_ending_node.num_head = 2;
        let s = &mut c.structure_module;
        s.num_channel = 64;
        s.num_head = 4;
        s.num_scalar_qk = 8;
        s.num_scalar_v = 8;
        s.num_point_qk = 4;
        s.num_point_v = 4;
        s.sidechain_num_channel = 32;
        c.heads.predicted_lddt_num_channels = 32;
        c
    }

    fn reduced() -> Self {
        let mut c = Self::full("reduced", true);
        c.msa_channel = 16;
        c.pair_channel = 8;
        c.extra_msa_channel = 8;
        c.seq_channel = 32;
        c.evoformer_num_block = 2;
        c.extra_msa_stack_num_block = 1;
        let e = &mut c.evoformer;
        e.msa_row_attention_with_pair_bias.num_head = 2;
        e.msa_column_attention.num_head = 2;
        e.outer_product_mean_channels = 4;
        e.triangle_multiplication_channels = 8;
        e.triangle_attention_starting_node.num_head = 2;
        e.triangle_attention_ending_node.num_head = 2;
        let t = &mut c.template;
        t.attention =
            AttentionConfig { num_head: 2, key_dim: Some(8), value_dim: Some(8), gating: false };
        let tp = &mut t.template_pair_stack;
        for attention in
            [&mut tp.triangle_attention_starting_node, &mut tp.triangle_attention_ending_node]
        {
            *attention =
                AttentionConfig { num_head: 2, key_dim: Some(8), value_dim: Some(8), gating: true };
        }
        tp.triangle_multiplication_channels = 8;
        let s = &mut c.structure_module;
        s.num_layer = 2;
        s.num_channel = 32;
        s.num_head = 2;
        s.num_scalar_qk = 4;
        s.num_scalar_v = 4;
        s.num_point_qk = 2;
        s.num_point_v = 2;
        s.sidechain_num_channel = 8;
        c.heads.predicted_lddt_num_channels = 8;
        c
    }
}

/// Which implementation computes attention's `softmax(q·kᵀ + biases)·v` and its gate.
#[derive(burn::config::Config, Debug, Copy, PartialEq, Eq)]
pub enum AttentionKernel {
    /// burn's tensor operations, on every backend: the reference the kernel is tested against.
    Reference,
    /// ferrofold's fused CubeCL kernel (`kernels`) where the backend has it (wgpu and cuda,
    /// float32, forward and backward); elsewhere the reference operations.
    Fused,
}

// Written out: burn's `Config` derive re-emits the enum without `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for AttentionKernel {
    fn default() -> Self {
        Self::Fused
    }
}
