//! AlphaFold-Multimer's own blocks against DeepMind's v2.3.2 modules run alone
//! (`tools/reference/make_multimer_block_fixtures.py`: reduced widths, random parameters in
//! `multimer_block_params.npz`, seeded random inputs with masked positions). Float32 within
//! 1e-5 relative of DeepMind's float32 run, float64 within 1e-12 of its float64 run (the
//! template embedder: float32 only, as DeepMind's geometry code).

use burn::prelude::*;
use ferrofold_features::feature_dict::FeatureDict;
use ferrofold_model::batch::{
    multimer_relative_encoding, multimer_template_pair_features, multimer_template_single_features,
    residue_tables,
};
use ferrofold_model::config::{
    AttentionConfig, DistogramBins, DropoutConfig, EvoformerBlockConfig, StructureModuleConfig,
    TemplateConfig, TemplatePairStackConfig,
};
use ferrofold_model::embedders::multimer_template_embedder::MultimerTemplateSingleEmbedding;
use ferrofold_model::embedders::MultimerTemplateEmbedding;
use ferrofold_model::evoformer::{EvoformerBlock, MsaPair, TriangleMultiplication};
use ferrofold_model::heads::{predicted_interface_tm_score, predicted_tm_score};
use ferrofold_model::host::{host_tensor, to_array};
use ferrofold_model::params::ParamBuilder;
use ferrofold_model::plan::StageContext;
use ferrofold_model::primitives::{Chunking, Dropout, Linear, LinearInit};
use ferrofold_model::structure::{MultimerInvariantPointAttention, MultimerStructureModule, Rigid};
use ferrofold_model::{CpuF32, CpuF64, ParamFile};
use ferrofold_tests::fixtures;

const MSA_CHANNELS: usize = 16;
const PAIR_CHANNELS: usize = 8;

fn evoformer_config() -> EvoformerBlockConfig {
    let attention = AttentionConfig::gated(2);
    EvoformerBlockConfig {
        msa_row_attention_with_pair_bias: attention.clone(),
        msa_column_attention: attention.clone(),
        msa_transition_factor: 4,
        outer_product_mean_channels: 4,
        triangle_multiplication_channels: 6,
        triangle_attention_starting_node: attention.clone(),
        triangle_attention_ending_node: attention,
        pair_transition_factor: 4,
        outer_product_mean_first: true,
        fused_triangle_projections: true,
    }
}

fn template_config() -> TemplateConfig {
    let attention =
        AttentionConfig { num_head: 2, key_dim: Some(8), value_dim: Some(8), gating: true };
    TemplateConfig {
        enabled: true,
        embed_torsion_angles: true,
        dgram_features: DistogramBins { min_bin: 3.25, max_bin: 50.75, num_bins: 39 },
        attention: attention.clone(),
        template_pair_stack: TemplatePairStackConfig {
            num_block: 2,
            triangle_attention_starting_node: attention.clone(),
            triangle_attention_ending_node: attention,
            triangle_multiplication_channels: 6,
            pair_transition_factor: 2,
            triangle_multiplication_first: true,
            fused_triangle_projections: true,
        },
    }
}

fn check_blocks<B: Backend>(precision: &str, tolerance: f64) {
    let device = B::Device::default();
    let reference = fixtures().join("reference");
    let params = ParamFile::read(&reference.join("multimer_block_params.npz")).unwrap();
    let fixtures =
        FeatureDict::load_npz(&reference.join(format!("multimer_blocks_{precision}.npz"))).unwrap();
    let input = |key: &str| -> ndarray::ArrayD<f64> {
        fixtures.get(key).unwrap_or_else(|| panic!("{key} missing")).to_f64()
    };
    let tensor = |key: &str| host_tensor::<B, 3>(input(key), &device);
    let mask = |key: &str| host_tensor::<B, 2>(input(key), &device);
    let check = |key: &str, ours: ndarray::ArrayD<f64>| {
        ferrofold_tests::check(&format!("{precision} {key}"), &ours, &input(key), tolerance);
    };
    let column = |block: &str, name: &str| -> Vec<f64> {
        input(&format!("{block}/{name}")).iter().copied().collect()
    };
    let b = "relative_encoding";
    let relative_features = multimer_relative_encoding(
        &column(b, "residue_index"),
        &column(b, "asym_id"),
        &column(b, "entity_id"),
        &column(b, "sym_id"),
        32,
        2,
    );

    // Every block first, then the file's check: every parameter read, with its shape.
    let mut builder = ParamBuilder::<B>::from_file(&params, &device);
    let triangle_multiplications = [true, false].map(|outgoing| {
        TriangleMultiplication::new(&mut builder, outgoing, PAIR_CHANNELS, 6, true)
    });
    let evoformer_block = builder.scope("evoformer_iteration", |b| {
        EvoformerBlock::new(
            b,
            &evoformer_config(),
            MSA_CHANNELS,
            PAIR_CHANNELS,
            false,
            &DropoutConfig::none(),
        )
    });
    let width = relative_features.dim().2;
    let position_activations = builder.scope("evoformer", |b| {
        b.scope("~_relative_encoding", |b| {
            Linear::new(b, "position_activations", width, PAIR_CHANNELS, LinearInit::Default)
        })
    });
    let template_embedder = MultimerTemplateEmbedding::new(
        &mut builder,
        &template_config(),
        8,
        PAIR_CHANNELS,
        &DropoutConfig::none(),
    );
    let ipa_config = StructureModuleConfig {
        num_layer: 1,
        num_channel: 12,
        num_head: 2,
        num_scalar_qk: 4,
        num_scalar_v: 4,
        num_point_qk: 3,
        num_point_v: 5,
        num_layer_in_transition: 3,
        position_scale: 20.0,
        sidechain_num_channel: 8,
        sidechain_num_residual_block: 2,
    };
    let ipa = MultimerInvariantPointAttention::new(&mut builder, &ipa_config, PAIR_CHANNELS);
    let structure_config = StructureModuleConfig { num_layer: 2, ..ipa_config.clone() };
    let structure_module =
        MultimerStructureModule::new(&mut builder, &structure_config, 12, PAIR_CHANNELS, 0.0);
    let template_single_embedding =
        builder.scope("evoformer", |b| MultimerTemplateSingleEmbedding::new(b, MSA_CHANNELS));
    builder.finish("multimer blocks").unwrap();

    for (block, name) in triangle_multiplications
        .iter()
        .zip(["triangle_multiplication_outgoing", "triangle_multiplication_incoming"])
    {
        let output =
            block.forward(tensor(&format!("{name}/pair")), mask(&format!("{name}/pair_mask")));
        check(&format!("{name}/output"), to_array(output));
    }

    let b = "evoformer_iteration";
    let output = evoformer_block.forward(
        MsaPair { msa: tensor(&format!("{b}/msa")), pair: tensor(&format!("{b}/pair")) },
        mask(&format!("{b}/msa_mask")),
        mask(&format!("{b}/pair_mask")),
        &StageContext::inference(Chunking::default()),
    );
    check(&format!("{b}/output_msa"), to_array(output.msa));
    check(&format!("{b}/output_pair"), to_array(output.pair));

    let output =
        position_activations.forward(host_tensor::<B, 3>(relative_features.into_dyn(), &device));
    check("relative_encoding/output", to_array(output));

    // The template embedder: DeepMind's geometry runs in float32 only.
    let b = "template_embedding";
    if fixtures.get(&format!("{b}/output")).is_some() {
        let aatype = input(&format!("{b}/template_aatype"));
        let positions = input(&format!("{b}/template_all_atom_positions"));
        let atom_mask = input(&format!("{b}/template_all_atom_mask"));
        let same_chain = input(&format!("{b}/multichain_mask_2d"));
        let same_chain = same_chain.view().into_dimensionality::<ndarray::Ix2>().unwrap();
        let templates: Vec<_> = (0..aatype.shape()[0])
            .map(|t| {
                let aatype = aatype.index_axis(ndarray::Axis(0), t).mapv(|a| a as i32);
                let positions = positions.index_axis(ndarray::Axis(0), t);
                let atom_mask = atom_mask.index_axis(ndarray::Axis(0), t);
                multimer_template_pair_features(
                    aatype.into_dimensionality().unwrap().view(),
                    positions.into_dimensionality().unwrap(),
                    atom_mask.into_dimensionality().unwrap(),
                    same_chain,
                    &template_config().dgram_features,
                )
            })
            .collect();
        let output = template_embedder.forward(
            tensor(&format!("{b}/query_embedding")),
            &templates,
            mask(&format!("{b}/padding_mask_2d")),
            &StageContext::inference(Chunking::default()),
        );
        check(&format!("{b}/output"), to_array(output));

        let b = "invariant_point_attention";
        let frames = Rigid {
            rotation: tensor(&format!("{b}/rotation")),
            translation: host_tensor(
                input(&format!("{b}/translation")).into_shape_with_order(vec![9, 1, 3]).unwrap(),
                &device,
            ),
        };
        let ipa_mask = input(&format!("{b}/mask")).into_shape_with_order(vec![9]).unwrap();
        let output = ipa.forward(
            mask(&format!("{b}/single")),
            tensor(&format!("{b}/pair")),
            host_tensor::<B, 1>(ipa_mask, &device),
            &frames,
        );
        check(&format!("{b}/output"), to_array(output));

        let b = "structure_module";
        let structure_aatype: Vec<i64> =
            input(&format!("{b}/aatype")).iter().map(|&a| a as i64).collect();
        let output = structure_module.forward(
            mask(&format!("{b}/single")),
            tensor(&format!("{b}/pair")),
            host_tensor::<B, 1>(input(&format!("{b}/seq_mask")), &device),
            &residue_tables::<B>(&structure_aatype, &device),
            &Dropout::off(),
        );
        // DeepMind's [layers, r, 3, 4] is ferrofold's [layers, r, 12].
        let traj_shape = input(&format!("{b}/output_traj")).shape().to_vec();
        check(
            &format!("{b}/output_traj"),
            to_array(output.traj).into_shape_with_order(traj_shape).unwrap(),
        );
        check(&format!("{b}/output_act"), to_array(output.act));
        check(
            &format!("{b}/output_final_atom14_positions"),
            to_array(output.final_atom14_positions),
        );
        check(&format!("{b}/output_final_atom_positions"), to_array(output.final_atom_positions));
        check(&format!("{b}/output_final_atom_mask"), to_array(output.final_atom_mask));

        let b = "template_single_embedding";
        let (features, masks): (Vec<_>, Vec<_>) = (0..aatype.shape()[0])
            .map(|t| {
                let aatype = aatype.index_axis(ndarray::Axis(0), t).mapv(|a| a as i32);
                multimer_template_single_features(
                    aatype.into_dimensionality().unwrap().view(),
                    positions.index_axis(ndarray::Axis(0), t).into_dimensionality().unwrap(),
                    atom_mask.index_axis(ndarray::Axis(0), t).into_dimensionality().unwrap(),
                )
            })
            .unzip();
        let views: Vec<_> = features.iter().map(|f| f.view()).collect();
        let features = ndarray::stack(ndarray::Axis(0), &views).unwrap();
        let mask_views: Vec<_> = masks.iter().map(|m| m.view()).collect();
        let masks = ndarray::stack(ndarray::Axis(0), &mask_views).unwrap();
        let output = template_single_embedding.forward(host_tensor(features.into_dyn(), &device));
        check(&format!("{b}/output_activations"), to_array(output));
        check(&format!("{b}/output_mask"), masks.into_dyn());
    }
}

#[test]
fn multimer_blocks_float32_match_deepmind_float32() {
    check_blocks::<CpuF32>("f32", 1e-5);
}

#[test]
fn multimer_blocks_float64_match_deepmind_float64() {
    check_blocks::<CpuF64>("f64", 1e-12);
}

#[test]
fn interface_tm_score_matches_deepmind() {
    let reference = fixtures().join("reference");
    let fixtures = FeatureDict::load_npz(&reference.join("multimer_blocks_f32.npz")).unwrap();
    let get = |key: &str| fixtures.get(&format!("confidence/{key}")).unwrap().to_f64();
    let logits = get("logits");
    let bins = logits.shape()[2];
    let logits: Vec<f64> = logits.iter().copied().collect();
    let asym_id: Vec<i64> = get("asym_id").iter().map(|&a| a as i64).collect();
    let ptm = predicted_tm_score(&logits, asym_id.len(), bins, 31.0);
    let iptm = predicted_interface_tm_score(&logits, &asym_id, bins, 31.0);
    for (name, ours) in [("ptm", ptm), ("iptm", iptm)] {
        let expected = get(name).iter().copied().next().unwrap();
        assert!((ours - expected).abs() <= 1e-12 * expected.abs(), "{name}: {ours} vs {expected}");
    }
    // Interfaces only: one chain has no interface.
    let one_chain = vec![1; asym_id.len()];
    assert_eq!(predicted_interface_tm_score(&logits, &one_chain, bins, 31.0), 0.0);
}
