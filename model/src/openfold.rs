//! OpenFold checkpoints (`.pt`: a PyTorch `state_dict`) read under AlphaFold's parameter names.
//!
//! OpenFold names modules after its own classes (`evoformer.blocks.3.msa_att_row.mha.linear_q`)
//! and stores each block separately, with PyTorch's `[out, in]` linear weights. Reading one
//! renames every tensor to its AlphaFold path, stacks blocks on the leading axis, and transposes
//! linear weights back to `[in, out]`, so that the network loads it exactly as it loads
//! DeepMind's `.npz`. Attention projections keep their heads merged with the per-head channels
//! (`[in, heads × channels]`): the order of the values is AlphaFold's, only the split of that
//! axis is not in the file, and the network's configuration supplies it when loading (see
//! [`ParamFile::merged_head_axes`]).
//!
//! The name map follows OpenFold's weight import from AlphaFold (monomer models). Older OpenFold
//! checkpoints, written before its multimer refactoring, use a few other module names
//! (`core.tri_mul_out`, `template_angle_embedder`, ...); they are renamed first. Wrappers around
//! the state dict (`module.`, `model.`, a Lightning checkpoint's `state_dict` or `ema.params`)
//! are looked through, preferring the moving average where a checkpoint has both.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::error::{ModelError, Result};
use crate::params::{ParamFile, RawTensor};

/// Reads an OpenFold checkpoint as a parameter file under AlphaFold's names. Tensors whose
/// OpenFold name has no AlphaFold counterpart keep their name, so that loading lists them as
/// unexpected.
pub fn read_openfold_checkpoint(path: &Path) -> Result<ParamFile> {
    let err = |message: String| ModelError::ReadParams { path: path.to_path_buf(), message };
    let reader = burn_store::pytorch::PytorchReader::new(path)
        .map_err(|e| err(format!("not a readable PyTorch checkpoint: {e}")))?;
    let mut state: BTreeMap<String, RawTensor> = BTreeMap::new();
    for (name, snapshot) in reader.into_tensors() {
        let data = snapshot.to_data().map_err(|e| err(format!("{name}: {e:?}")))?;
        let shape = data.shape.to_vec();
        let data = data
            .convert::<f32>()
            .into_vec::<f32>()
            .map_err(|e| err(format!("{name}: not a float tensor ({e:?})")))?;
        state.insert(name, RawTensor { shape, data });
    }
    from_state_dict(state, &path.display().to_string())
        .map_err(|message| err(format!("not an OpenFold AlphaFold checkpoint: {message}")))
}

/// An OpenFold state dict (names as PyTorch flattens them) as a parameter file under
/// AlphaFold's names; `Err` with a message when blocks do not stack.
pub fn from_state_dict(
    state: BTreeMap<String, RawTensor>,
    source_name: &str,
) -> std::result::Result<ParamFile, String> {
    let state = unwrap_state_dict(state);
    if state.is_empty() {
        return Err("it holds no tensors".into());
    }
    let mut single: BTreeMap<String, RawTensor> = BTreeMap::new();
    let mut stacked: BTreeMap<String, BTreeMap<usize, RawTensor>> = BTreeMap::new();
    let mut merged_head_axes = BTreeSet::new();
    for (name, tensor) in state {
        let Some(target) = alphafold_name(&rename_deprecated(&name)) else {
            single.insert(name, tensor);
            continue;
        };
        let tensor = if target.transpose { transpose_matrix(tensor) } else { tensor };
        if target.merged_heads {
            merged_head_axes.insert(target.key.clone());
        }
        let duplicate = match target.block {
            Some(block) => {
                stacked.entry(target.key.clone()).or_default().insert(block, tensor).is_some()
            }
            None => single.insert(target.key.clone(), tensor).is_some(),
        };
        if duplicate {
            return Err(format!("two tensors map to {} (from {name})", target.key));
        }
    }
    for (key, blocks) in stacked {
        single.insert(key.clone(), stack_blocks(&key, blocks)?);
    }
    Ok(ParamFile { tensors: single, source_name: source_name.to_string(), merged_head_axes })
}

/// The model's own tensors: a Lightning checkpoint's moving average (`ema.params`) when
/// present, else its `state_dict`, else everything; without `module.`/`model.` prefixes.
fn unwrap_state_dict(state: BTreeMap<String, RawTensor>) -> BTreeMap<String, RawTensor> {
    let prefix = ["ema.params.", "state_dict."]
        .into_iter()
        .find(|p| state.keys().any(|name| name.starts_with(p)));
    state
        .into_iter()
        .filter_map(|(name, tensor)| {
            let mut name = match prefix {
                Some(p) => name.strip_prefix(p)?.to_string(),
                None => name,
            };
            while let Some(rest) =
                name.strip_prefix("module.").or_else(|| name.strip_prefix("model."))
            {
                name = rest.to_string();
            }
            Some((name, tensor))
        })
        .collect()
}

/// Module names of OpenFold checkpoints from before its multimer refactoring, renamed to the
/// current ones.
fn rename_deprecated(name: &str) -> String {
    let mut name = name
        .replace("template_angle_embedder", "template_single_embedder")
        .replace("core.msa_transition", "msa_transition")
        .replace("core.outer_product_mean", "outer_product_mean")
        .replace("core.tri_", "pair_stack.tri_")
        .replace("core.pair_transition", "pair_stack.pair_transition");
    for points in ["ipa.linear_q_points", "ipa.linear_kv_points"] {
        if let Some(at) = name.find(points) {
            let rest = &name[at + points.len()..];
            if !rest.starts_with(".linear") {
                name = format!("{}{points}.linear{rest}", &name[..at]);
            }
        }
    }
    if name.starts_with("template") && !name.starts_with("template_embedder") {
        name = format!("template_embedder.{name}");
    }
    name
}

/// Where an OpenFold tensor goes in AlphaFold's layout.
#[derive(Debug, PartialEq)]
struct Target {
    /// Full AlphaFold key (`alphafold/alphafold_iteration/<scope>//<name>`).
    key: String,
    /// Index in the layer stack, for tensors of repeated blocks.
    block: Option<usize>,
    /// PyTorch's `[out, in]` linear weight, to be transposed.
    transpose: bool,
    /// Attention heads merged with their channels (see [`ParamFile::merged_head_axes`]).
    merged_heads: bool,
}

/// What kind of OpenFold module an AlphaFold scope corresponds to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Linear,
    LayerNorm,
    /// OpenFold's `Attention` (`linear_q/k/v/g/o`).
    Attention,
    /// OpenFold's `GlobalAttention`: keys and values have a single head.
    GlobalAttention,
    /// The outer product mean's output projection (`output_w`/`output_b` in the scope).
    OuterProductOutput,
    /// A bias-free projection stored as `<scope>//feat_2d_weights`.
    PairBias,
    /// Invariant point attention's per-head point weights (`head_weights`).
    PointWeights,
}

const ROOT: &str = "alphafold/alphafold_iteration";
const TEMPLATE_EMBEDDING: &str = "evoformer/template_embedding/single_template_embedding";

/// The AlphaFold name of an OpenFold state-dict entry, or `None` if it has none.
fn alphafold_name(name: &str) -> Option<Target> {
    let (module, leaf) = name.rsplit_once('.')?;
    // Repeated blocks: the stack's scope, the block index and the module inside the block.
    let stacks = [
        ("evoformer.blocks.", "evoformer/evoformer_iteration", "pair_stack."),
        ("extra_msa_stack.blocks.", "evoformer/extra_msa_stack", "pair_stack."),
        (
            "template_embedder.template_pair_stack.blocks.",
            "evoformer/template_embedding/single_template_embedding/template_pair_stack/__layer_stack_no_state",
            "",
        ),
    ];
    let (scope, kind, block) = match stacks.iter().find(|(p, _, _)| module.starts_with(p)) {
        Some((prefix, stack_scope, pair_prefix)) => {
            let (index, inner) = module[prefix.len()..].split_once('.')?;
            let (scope, kind) = block_module(inner, pair_prefix)?;
            (format!("{stack_scope}/{scope}"), kind, Some(index.parse().ok()?))
        }
        None => {
            let (scope, kind) = top_level_module(module)?;
            (scope, kind, None)
        }
    };
    let (name, transpose, merged_heads) = leaf_name(kind, module, leaf)?;
    Some(Target { key: format!("{ROOT}/{scope}//{name}"), block, transpose, merged_heads })
}

/// The AlphaFold name of a leaf (`weight`, `bias`, ...) of a module of `kind`, whether it is
/// transposed, and whether its heads stay merged.
fn leaf_name(kind: Kind, module: &str, leaf: &str) -> Option<(&'static str, bool, bool)> {
    Some(match (kind, leaf) {
        (Kind::Linear, "weight") => ("weights", true, false),
        (Kind::Linear, "bias") => ("bias", false, false),
        (Kind::LayerNorm, "weight") => ("scale", false, false),
        (Kind::LayerNorm, "bias") => ("offset", false, false),
        (Kind::OuterProductOutput, "weight") => ("output_w", true, true),
        (Kind::OuterProductOutput, "bias") => ("output_b", false, false),
        (Kind::PairBias, "weight") => ("feat_2d_weights", true, false),
        (Kind::PointWeights, "head_weights") => ("trainable_point_weights", false, false),
        (Kind::Attention | Kind::GlobalAttention, _) => {
            let projection = module.rsplit('.').next()?;
            let single_head = kind == Kind::GlobalAttention;
            match (projection, leaf) {
                ("linear_q", "weight") => ("query_w", true, true),
                ("linear_k", "weight") => ("key_w", true, !single_head),
                ("linear_v", "weight") => ("value_w", true, !single_head),
                ("linear_g", "weight") => ("gating_w", true, true),
                ("linear_g", "bias") => ("gating_b", false, true),
                ("linear_o", "weight") => ("output_w", true, true),
                ("linear_o", "bias") => ("output_b", false, false),
                _ => return None,
            }
        }
        _ => return None,
    })
}

/// A module inside an Evoformer, extra-MSA or template pair block (`pair_prefix` is where the
/// block keeps its pair operations: `pair_stack.`, or nothing in the template pair stack).
fn block_module(inner: &str, pair_prefix: &str) -> Option<(String, Kind)> {
    use Kind::*;
    // Attention modules are matched on their parent (`...mha`), the projection comes later.
    let attention = |parent: &str| inner.strip_prefix(parent).filter(|r| r.starts_with(".linear_"));
    if attention("msa_att_row.mha").is_some() {
        return Some(("msa_row_attention_with_pair_bias/attention".into(), Attention));
    }
    if attention("msa_att_col._msa_att.mha").is_some() {
        return Some(("msa_column_attention/attention".into(), Attention));
    }
    if attention("msa_att_col.global_attention").is_some() {
        return Some(("msa_column_global_attention/attention".into(), GlobalAttention));
    }
    let fixed: Option<(&str, Kind)> = match inner {
        "msa_att_row.layer_norm_m" => {
            Some(("msa_row_attention_with_pair_bias/query_norm", LayerNorm))
        }
        "msa_att_row.layer_norm_z" => {
            Some(("msa_row_attention_with_pair_bias/feat_2d_norm", LayerNorm))
        }
        "msa_att_row.linear_z" => Some(("msa_row_attention_with_pair_bias", PairBias)),
        "msa_att_col._msa_att.layer_norm_m" => Some(("msa_column_attention/query_norm", LayerNorm)),
        "msa_att_col.layer_norm_m" => Some(("msa_column_global_attention/query_norm", LayerNorm)),
        "msa_transition.layer_norm" => Some(("msa_transition/input_layer_norm", LayerNorm)),
        "msa_transition.linear_1" => Some(("msa_transition/transition1", Linear)),
        "msa_transition.linear_2" => Some(("msa_transition/transition2", Linear)),
        "outer_product_mean.layer_norm" => Some(("outer_product_mean/layer_norm_input", LayerNorm)),
        "outer_product_mean.linear_1" => Some(("outer_product_mean/left_projection", Linear)),
        "outer_product_mean.linear_2" => Some(("outer_product_mean/right_projection", Linear)),
        "outer_product_mean.linear_out" => Some(("outer_product_mean", OuterProductOutput)),
        _ => None,
    };
    if let Some((scope, kind)) = fixed {
        return Some((scope.into(), kind));
    }
    let pair = inner.strip_prefix(pair_prefix)?;
    let (operation, module) = pair.split_once('.')?;
    match operation {
        "tri_mul_out" | "tri_mul_in" => {
            let outgoing = operation == "tri_mul_out";
            // AlphaFold swaps the roles of the two projections in the incoming update; OpenFold
            // names them after the pseudocode.
            let (a, b) = if outgoing { ("left", "right") } else { ("right", "left") };
            let (name, kind) = match module {
                "layer_norm_in" => ("layer_norm_input".to_string(), LayerNorm),
                "layer_norm_out" => ("center_layer_norm".to_string(), LayerNorm),
                "linear_a_p" => (format!("{a}_projection"), Linear),
                "linear_b_p" => (format!("{b}_projection"), Linear),
                "linear_a_g" => (format!("{a}_gate"), Linear),
                "linear_b_g" => (format!("{b}_gate"), Linear),
                "linear_z" => ("output_projection".to_string(), Linear),
                "linear_g" => ("gating_linear".to_string(), Linear),
                _ => return None,
            };
            let scope = if outgoing {
                "triangle_multiplication_outgoing"
            } else {
                "triangle_multiplication_incoming"
            };
            Some((format!("{scope}/{name}"), kind))
        }
        "tri_att_start" | "tri_att_end" => {
            let scope = if operation == "tri_att_start" {
                "triangle_attention_starting_node"
            } else {
                "triangle_attention_ending_node"
            };
            match module {
                "layer_norm" => Some((format!("{scope}/query_norm"), LayerNorm)),
                "linear" => Some((scope.to_string(), PairBias)),
                m if m.starts_with("mha.linear_") => {
                    Some((format!("{scope}/attention"), Attention))
                }
                _ => None,
            }
        }
        "pair_transition" => {
            let name = match module {
                "layer_norm" => {
                    return Some(("pair_transition/input_layer_norm".into(), LayerNorm))
                }
                "linear_1" => "transition1",
                "linear_2" => "transition2",
                _ => return None,
            };
            Some((format!("pair_transition/{name}"), Linear))
        }
        _ => None,
    }
}

/// A module outside the repeated blocks.
fn top_level_module(module: &str) -> Option<(String, Kind)> {
    use Kind::*;
    const FOLD: &str = "structure_module/fold_iteration";
    if let Some(rest) = module.strip_prefix("structure_module.") {
        // Haiku numbers repeated names within a scope: `transition`, `transition_1`, ...
        let numbered = |base: &str, index: usize| {
            if index == 0 {
                base.to_string()
            } else {
                format!("{base}_{index}")
            }
        };
        if let Some(layer) = rest.strip_prefix("transition.layers.") {
            // Each OpenFold transition layer holds three of AlphaFold's `transition` linears.
            let (layer, linear) = layer.split_once(".linear_")?;
            let index =
                3 * layer.parse::<usize>().ok()? + linear.parse::<usize>().ok()?.checked_sub(1)?;
            return Some((format!("{FOLD}/{}", numbered("transition", index)), Linear));
        }
        if let Some(block) = rest.strip_prefix("angle_resnet.layers.") {
            let (block, linear) = block.split_once(".linear_")?;
            let base = match linear {
                "1" => "resblock1",
                "2" => "resblock2",
                _ => return None,
            };
            let name = numbered(base, block.parse().ok()?);
            return Some((format!("{FOLD}/rigid_sidechain/{name}"), Linear));
        }
        let outside_fold = match rest {
            "layer_norm_s" => Some(("single_layer_norm", LayerNorm)),
            "linear_in" => Some(("initial_projection", Linear)),
            "layer_norm_z" => Some(("pair_layer_norm", LayerNorm)),
            _ => None,
        };
        if let Some((name, kind)) = outside_fold {
            return Some((format!("structure_module/{name}"), kind));
        }
        let (scope, kind) = match rest {
            "ipa" => ("invariant_point_attention", PointWeights),
            "ipa.linear_q" => ("invariant_point_attention/q_scalar", Linear),
            "ipa.linear_kv" => ("invariant_point_attention/kv_scalar", Linear),
            "ipa.linear_q_points.linear" => ("invariant_point_attention/q_point_local", Linear),
            "ipa.linear_kv_points.linear" => ("invariant_point_attention/kv_point_local", Linear),
            "ipa.linear_b" => ("invariant_point_attention/attention_2d", Linear),
            "ipa.linear_out" => ("invariant_point_attention/output_projection", Linear),
            "layer_norm_ipa" => ("attention_layer_norm", LayerNorm),
            "transition.layer_norm" => ("transition_layer_norm", LayerNorm),
            "bb_update.linear" => ("affine_update", Linear),
            "angle_resnet.linear_in" => ("rigid_sidechain/input_projection", Linear),
            "angle_resnet.linear_initial" => ("rigid_sidechain/input_projection_1", Linear),
            "angle_resnet.linear_out" => ("rigid_sidechain/unnormalized_angles", Linear),
            _ => return None,
        };
        return Some((format!("{FOLD}/{scope}"), kind));
    }
    if module.starts_with("template_embedder.template_pointwise_att.mha.linear_") {
        return Some(("evoformer/template_embedding/attention".into(), Attention));
    }
    let (scope, kind) = match module {
        "input_embedder.linear_tf_m" => ("evoformer/preprocess_1d", Linear),
        "input_embedder.linear_msa_m" => ("evoformer/preprocess_msa", Linear),
        "input_embedder.linear_tf_z_i" => ("evoformer/left_single", Linear),
        "input_embedder.linear_tf_z_j" => ("evoformer/right_single", Linear),
        // DeepMind's spelling.
        "input_embedder.linear_relpos" => ("evoformer/pair_activiations", Linear),
        "recycling_embedder.linear" => ("evoformer/prev_pos_linear", Linear),
        "recycling_embedder.layer_norm_m" => ("evoformer/prev_msa_first_row_norm", LayerNorm),
        "recycling_embedder.layer_norm_z" => ("evoformer/prev_pair_norm", LayerNorm),
        "extra_msa_embedder.linear" => ("evoformer/extra_msa_activations", Linear),
        "evoformer.linear" => ("evoformer/single_activations", Linear),
        "template_embedder.template_single_embedder.linear_1" => {
            ("evoformer/template_single_embedding", Linear)
        }
        "template_embedder.template_single_embedder.linear_2" => {
            ("evoformer/template_projection", Linear)
        }
        "template_embedder.template_pair_embedder.linear" => {
            return Some((format!("{TEMPLATE_EMBEDDING}/embedding2d"), Linear))
        }
        "template_embedder.template_pair_stack.layer_norm" => {
            return Some((format!("{TEMPLATE_EMBEDDING}/output_layer_norm"), LayerNorm))
        }
        "aux_heads.plddt.layer_norm" => ("predicted_lddt_head/input_layer_norm", LayerNorm),
        "aux_heads.plddt.linear_1" => ("predicted_lddt_head/act_0", Linear),
        "aux_heads.plddt.linear_2" => ("predicted_lddt_head/act_1", Linear),
        "aux_heads.plddt.linear_3" => ("predicted_lddt_head/logits", Linear),
        "aux_heads.distogram.linear" => ("distogram_head/half_logits", Linear),
        "aux_heads.experimentally_resolved.linear" => {
            ("experimentally_resolved_head/logits", Linear)
        }
        "aux_heads.masked_msa.linear" => ("masked_msa_head/logits", Linear),
        "aux_heads.tm.linear" => ("predicted_aligned_error_head/logits", Linear),
        _ => return None,
    };
    Some((scope.to_string(), kind))
}

/// `[rows, cols]` → `[cols, rows]`; other ranks are left as they are (and then fail the shape
/// check with their name).
fn transpose_matrix(tensor: RawTensor) -> RawTensor {
    let [rows, cols] = tensor.shape[..] else { return tensor };
    let mut data = vec![0.0; tensor.data.len()];
    for r in 0..rows {
        for c in 0..cols {
            data[c * rows + r] = tensor.data[r * cols + c];
        }
    }
    RawTensor { shape: vec![cols, rows], data }
}

/// Blocks `0..n` of one parameter stacked on a new leading axis.
fn stack_blocks(
    key: &str,
    blocks: BTreeMap<usize, RawTensor>,
) -> std::result::Result<RawTensor, String> {
    let count = blocks.len();
    let shape = blocks.values().next().map(|t| t.shape.clone()).unwrap_or_default();
    let mut data = Vec::with_capacity(count * shape.iter().product::<usize>());
    for (expected, (index, tensor)) in blocks.into_iter().enumerate() {
        if index != expected {
            return Err(format!("{key}: block {expected} is missing (found block {index})"));
        }
        if tensor.shape != shape {
            return Err(format!(
                "{key}: block {index} has shape {:?}, block 0 has {shape:?}",
                tensor.shape
            ));
        }
        data.extend(tensor.data);
    }
    let mut stacked_shape = vec![count];
    stacked_shape.extend(shape);
    Ok(RawTensor { shape: stacked_shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Option<(String, Option<usize>, bool, bool)> {
        alphafold_name(&rename_deprecated(name)).map(|t| {
            (
                t.key.trim_start_matches("alphafold/alphafold_iteration/").to_string(),
                t.block,
                t.transpose,
                t.merged_heads,
            )
        })
    }

    #[test]
    fn incoming_triangle_update_swaps_the_projections() {
        let out = key("evoformer.blocks.4.pair_stack.tri_mul_out.linear_a_p.weight").unwrap();
        assert_eq!(out.0, "evoformer/evoformer_iteration/triangle_multiplication_outgoing/left_projection//weights");
        assert_eq!((out.1, out.2), (Some(4), true));
        let incoming = key("evoformer.blocks.4.pair_stack.tri_mul_in.linear_a_p.weight").unwrap();
        assert_eq!(incoming.0, "evoformer/evoformer_iteration/triangle_multiplication_incoming/right_projection//weights");
        let gate = key("evoformer.blocks.0.pair_stack.tri_mul_in.linear_b_g.bias").unwrap();
        assert_eq!(
            gate.0,
            "evoformer/evoformer_iteration/triangle_multiplication_incoming/left_gate//bias"
        );
    }

    #[test]
    fn deprecated_names_map_like_current_ones() {
        for (old, new) in [
            (
                "evoformer.blocks.1.core.tri_mul_out.linear_z.weight",
                "evoformer.blocks.1.pair_stack.tri_mul_out.linear_z.weight",
            ),
            (
                "evoformer.blocks.1.core.msa_transition.linear_1.bias",
                "evoformer.blocks.1.msa_transition.linear_1.bias",
            ),
            (
                "template_angle_embedder.linear_1.weight",
                "template_embedder.template_single_embedder.linear_1.weight",
            ),
            (
                "template_pair_stack.blocks.0.tri_att_end.linear.weight",
                "template_embedder.template_pair_stack.blocks.0.tri_att_end.linear.weight",
            ),
            (
                "structure_module.ipa.linear_kv_points.weight",
                "structure_module.ipa.linear_kv_points.linear.weight",
            ),
        ] {
            assert_eq!(rename_deprecated(old), new);
            assert!(key(old).is_some(), "{old}");
            assert_eq!(key(old), key(new));
        }
    }

    #[test]
    fn global_attention_keys_have_one_head_and_queries_are_merged() {
        let k =
            key("extra_msa_stack.blocks.0.msa_att_col.global_attention.linear_k.weight").unwrap();
        assert_eq!(k.0, "evoformer/extra_msa_stack/msa_column_global_attention/attention//key_w");
        assert_eq!((k.2, k.3), (true, false));
        let q =
            key("extra_msa_stack.blocks.0.msa_att_col.global_attention.linear_q.weight").unwrap();
        assert_eq!((q.2, q.3), (true, true));
    }

    #[test]
    fn structure_module_numbering_follows_haiku() {
        assert_eq!(
            key("structure_module.transition.layers.0.linear_3.weight").unwrap().0,
            "structure_module/fold_iteration/transition_2//weights"
        );
        assert_eq!(
            key("structure_module.angle_resnet.layers.1.linear_1.bias").unwrap().0,
            "structure_module/fold_iteration/rigid_sidechain/resblock1_1//bias"
        );
        assert_eq!(
            key("structure_module.ipa.head_weights").unwrap().0,
            "structure_module/fold_iteration/invariant_point_attention//trainable_point_weights"
        );
    }

    #[test]
    fn unknown_names_have_no_alphafold_name() {
        for name in [
            "evoformer.blocks.0.msa_att_row.mha.linear_q.bias",
            "evoformer.blocks.x.msa_transition.linear_1.weight",
            "structure_module.transition.layers.0.linear_0.weight",
            "aux_heads.plddt.linear_4.weight",
            "weight",
        ] {
            assert_eq!(key(name), None, "{name}");
        }
    }

    #[test]
    fn wrappers_are_looked_through_and_the_average_preferred() {
        let t = || RawTensor { shape: vec![1], data: vec![1.0] };
        let state: BTreeMap<String, RawTensor> = [
            ("state_dict.model.evoformer.linear.bias".to_string(), t()),
            (
                "ema.params.evoformer.linear.bias".to_string(),
                RawTensor { shape: vec![1], data: vec![2.0] },
            ),
        ]
        .into();
        let file = from_state_dict(state, "x").unwrap();
        let bias =
            &file.tensors["alphafold/alphafold_iteration/evoformer/single_activations//bias"];
        assert_eq!(bias.data, vec![2.0]);
        let state: BTreeMap<String, RawTensor> =
            [("module.model.evoformer.linear.bias".to_string(), t())].into();
        assert_eq!(from_state_dict(state, "x").unwrap().tensors.len(), 1);
    }

    #[test]
    fn blocks_must_be_contiguous_and_alike() {
        let t = |n| RawTensor { shape: vec![n], data: vec![0.0; n] };
        let state: BTreeMap<String, RawTensor> = [
            ("evoformer.blocks.0.msa_transition.linear_1.bias".to_string(), t(4)),
            ("evoformer.blocks.2.msa_transition.linear_1.bias".to_string(), t(4)),
        ]
        .into();
        let message = from_state_dict(state, "x").unwrap_err();
        assert!(message.contains("block 1 is missing"), "{message}");
        let state: BTreeMap<String, RawTensor> = [
            ("evoformer.blocks.0.msa_transition.linear_1.bias".to_string(), t(4)),
            ("evoformer.blocks.1.msa_transition.linear_1.bias".to_string(), t(5)),
        ]
        .into();
        assert!(from_state_dict(state, "x").unwrap_err().contains("block 1 has shape [5]"));
    }

    #[test]
    fn linear_weights_are_transposed() {
        let t =
            transpose_matrix(RawTensor { shape: vec![2, 3], data: vec![0., 1., 2., 3., 4., 5.] });
        assert_eq!(t.shape, vec![3, 2]);
        assert_eq!(t.data, vec![0., 3., 1., 4., 2., 5.]);
    }
}
