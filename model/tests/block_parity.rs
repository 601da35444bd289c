//! Each block alone against DeepMind's module run alone (OpenFold's tests/test_<module>.py):
//! `tests/fixtures/reference/blocks_{f32,f64}.npz`, made by
//! `tools/reference/make_block_fixtures.py` from the `reduced` parameters (block 0 of each
//! stack) on seeded random inputs with masked positions.
//!
//! Float32 must land within 1e-5 relative (max |diff| / max |reference|) of DeepMind's float32
//! run; float64 within 1e-12 of its float64 run, which only an implementation computing the
//! same function (not merely a close one) achieves.

use burn::prelude::*;
use ferrofold_features::feature_dict::FeatureDict;
use ferrofold_model::evoformer::block::ColumnAttention;
use ferrofold_model::evoformer::MsaPair;
use ferrofold_model::host::host_tensor;
use ferrofold_model::host::to_array;
use ferrofold_model::plan::StageContext;
use ferrofold_model::primitives::Chunking;
use ferrofold_model::structure::QuatAffine;
use ferrofold_model::{AlphaFold, CpuF32, CpuF64, ModelConfig, ParamFile};
use ferrofold_tests::reduced_case;
struct Blocks<B: Backend> {
    model: AlphaFold<B>,
    fixtures: FeatureDict,
    device: B::Device,
    tolerance: f64,
}

impl<B: Backend> Blocks<B> {
    fn new(fixtures: &str, tolerance: f64) -> Self {
        let device = B::Device::default();
        let config = ModelConfig::preset("reduced").unwrap();
        let params = ParamFile::read(&reduced_case("params_reduced.npz")).unwrap();
        let model = AlphaFold::load(&params, &config, &device).unwrap();
        let fixtures =
            FeatureDict::load_npz(&ferrofold_tests::fixtures().join("reference").join(fixtures))
                .unwrap();
        Self { model, fixtures, device, tolerance }
    }

    fn input<const D: usize>(&self, block: &str, name: &str) -> Tensor<B, D> {
        let key = format!("{block}/{name}");
        host_tensor(
            self.fixtures.get(&key).unwrap_or_else(|| panic!("{key} missing")).to_f64(),
            &self.device,
        )
    }

    fn check<const D: usize>(&self, block: &str, name: &str, ours: Tensor<B, D>) {
        let key = format!("{block}/{name}");
        let expected = self.fixtures.get(&key).unwrap_or_else(|| panic!("{key} missing")).to_f64();
        ferrofold_tests::check(&key, &to_array(ours), &expected, self.tolerance);
    }

    fn all(&self) {
        let evo = &self.model.evoformer.evoformer_iteration[0];
        let b = "msa_row_attention_with_pair_bias";
        self.check(
            b,
            "output",
            evo.msa_row_attention_with_pair_bias.forward(
                self.input(b, "msa"),
                self.input(b, "msa_mask"),
                self.input(b, "pair"),
                Chunking::default(),
            ),
        );
        let b = "msa_column_attention";
        let ColumnAttention::Full(column) = &evo.msa_column_attention else {
            panic!("Evoformer block has full column attention")
        };
        self.check(
            b,
            "output",
            column.forward(self.input(b, "msa"), self.input(b, "msa_mask"), Chunking::default()),
        );
        let b = "msa_transition";
        self.check(
            b,
            "output",
            evo.msa_transition.forward(self.input(b, "msa"), Chunking::default()),
        );
        let b = "outer_product_mean";
        self.check(
            b,
            "output",
            evo.outer_product_mean.forward(
                self.input(b, "msa"),
                self.input(b, "msa_mask"),
                Chunking::default(),
            ),
        );
        let b = "triangle_multiplication_outgoing";
        self.check(
            b,
            "output",
            evo.triangle_multiplication_outgoing
                .forward(self.input(b, "pair"), self.input(b, "pair_mask")),
        );
        let b = "triangle_multiplication_incoming";
        self.check(
            b,
            "output",
            evo.triangle_multiplication_incoming
                .forward(self.input(b, "pair"), self.input(b, "pair_mask")),
        );
        let b = "triangle_attention_starting_node";
        self.check(
            b,
            "output",
            evo.triangle_attention_starting_node.forward(
                self.input(b, "pair"),
                self.input(b, "pair_mask"),
                Chunking::default(),
            ),
        );
        let b = "triangle_attention_ending_node";
        self.check(
            b,
            "output",
            evo.triangle_attention_ending_node.forward(
                self.input(b, "pair"),
                self.input(b, "pair_mask"),
                Chunking::default(),
            ),
        );
        let b = "pair_transition";
        self.check(
            b,
            "output",
            evo.pair_transition.forward(self.input(b, "pair"), Chunking::default()),
        );
        let b = "evoformer_iteration";
        let out = evo.forward(
            MsaPair { msa: self.input(b, "msa"), pair: self.input(b, "pair") },
            self.input(b, "msa_mask"),
            self.input(b, "pair_mask"),
            &StageContext::inference(Chunking::default()),
        );
        self.check(b, "output_msa", out.msa);
        self.check(b, "output_pair", out.pair);

        let b = "msa_column_global_attention";
        let ColumnAttention::Global(global) =
            &self.model.evoformer.extra_msa_stack[0].msa_column_attention
        else {
            panic!("extra-MSA block has global column attention")
        };
        self.check(
            b,
            "output",
            global.forward(self.input(b, "msa"), self.input(b, "msa_mask"), Chunking::default()),
        );

        let b = "invariant_point_attention";
        let ipa = &self
            .model
            .structure_module
            .monomer()
            .unwrap()
            .fold_iteration
            .invariant_point_attention;
        let affine =
            QuatAffine::new(self.input(b, "quaternion"), self.input(b, "translation"), true);
        let seq_mask: Tensor<B, 2> = self.input(b, "seq_mask");
        let r = seq_mask.dims()[0];
        self.check(
            b,
            "output",
            ipa.forward(
                self.input(b, "single"),
                self.input(b, "pair"),
                seq_mask.reshape([r]),
                &affine,
            ),
        );
    }
}

#[test]
fn blocks_float32_match_deepmind_float32() {
    Blocks::<CpuF32>::new("blocks_f32.npz", 1e-5).all();
}

#[test]
fn blocks_float64_match_deepmind_float64() {
    Blocks::<CpuF64>::new("blocks_f64.npz", 1e-12).all();
}
