//! AlphaFold-Multimer's own blocks against DeepMind's v2.3.2 modules run alone
//! (`tools/reference/make_multimer_block_fixtures.py`: reduced widths, random parameters in
//! `multimer_block_params.npz`, seeded random inputs with masked positions). Float32 within
//! 1e-5 relative of DeepMind's float32 run, float64 within 1e-12 of its float64 run.

use burn::prelude::*;
use ferrofold_features::feature_dict::FeatureDict;
use ferrofold_model::batch::multimer_relative_encoding;
use ferrofold_model::config::{AttentionConfig, DropoutConfig, EvoformerBlockConfig};
use ferrofold_model::evoformer::{EvoformerBlock, MsaPair, TriangleMultiplication};
use ferrofold_model::host::{host_tensor, to_array};
use ferrofold_model::params::ParamBuilder;
use ferrofold_model::plan::StageContext;
use ferrofold_model::primitives::{Chunking, Linear, LinearInit};
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
    let mut builder = ParamBuilder::<B>::from_file(&params, &device);

    for (name, outgoing) in
        [("triangle_multiplication_outgoing", true), ("triangle_multiplication_incoming", false)]
    {
        let block = TriangleMultiplication::new(&mut builder, outgoing, PAIR_CHANNELS, 6, true);
        let output =
            block.forward(tensor(&format!("{name}/pair")), mask(&format!("{name}/pair_mask")));
        check(&format!("{name}/output"), to_array(output));
    }

    let block = builder.scope("evoformer_iteration", |b| {
        EvoformerBlock::new(
            b,
            &evoformer_config(),
            MSA_CHANNELS,
            PAIR_CHANNELS,
            false,
            &DropoutConfig::none(),
        )
    });
    let b = "evoformer_iteration";
    let output = block.forward(
        MsaPair { msa: tensor(&format!("{b}/msa")), pair: tensor(&format!("{b}/pair")) },
        mask(&format!("{b}/msa_mask")),
        mask(&format!("{b}/pair_mask")),
        &StageContext::inference(Chunking::default()),
    );
    check(&format!("{b}/output_msa"), to_array(output.msa));
    check(&format!("{b}/output_pair"), to_array(output.pair));

    let b = "relative_encoding";
    let column = |name: &str| input(&format!("{b}/{name}")).iter().copied().collect::<Vec<f64>>();
    let features = multimer_relative_encoding(
        &column("residue_index"),
        &column("asym_id"),
        &column("entity_id"),
        &column("sym_id"),
        32,
        2,
    );
    let width = features.dim().2;
    let linear = builder.scope("evoformer", |b| {
        b.scope("~_relative_encoding", |b| {
            Linear::new(b, "position_activations", width, PAIR_CHANNELS, LinearInit::Default)
        })
    });
    let output = linear.forward(host_tensor::<B, 3>(features.into_dyn(), &device));
    check(&format!("{b}/output"), to_array(output));

    // Every parameter of the file was read, with its shape.
    builder.finish("multimer blocks").unwrap();
}

#[test]
fn multimer_blocks_float32_match_deepmind_float32() {
    check_blocks::<CpuF32>("f32", 1e-5);
}

#[test]
fn multimer_blocks_float64_match_deepmind_float64() {
    check_blocks::<CpuF64>("f64", 1e-12);
}
