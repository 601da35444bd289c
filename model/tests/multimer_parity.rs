//! The whole AlphaFold-Multimer network against DeepMind's v2.3.2 code
//! (`tools/reference/make_multimer_ref.py`: `model_1_multimer_v3`'s architecture at reduced
//! widths — the `reduced_multimer` preset — random parameters in the official layout, float32,
//! bfloat16 off) on haemoglobin: the α + β heterodimer and the α homodimer (32 residues of each
//! chain, real MSAs and templates), three iterations with recycling. The MSA's cluster centres are the rows
//! in order (no Gumbel noise) and nothing is BERT-masked, in both programs, so that the inputs
//! are equal; everything after that is the network's.
//!
//! Error measure: max |ours − reference| / max |reference| over the tensor; the bar is
//! 1e-4 on positions, pLDDT, PAE and ipTM.

use burn::prelude::*;
use ferrofold_features::feature_dict::FeatureDict;
use ferrofold_features::multimer::msa_features::{MaskedMsaConfig, MsaSampling};
use ferrofold_features::multimer::multimer_batch;
use ferrofold_model::heads::{predicted_interface_tm_score, predicted_tm_score};
use ferrofold_model::host::to_array;
use ferrofold_model::{AlphaFold, CpuF32, FeatureBatch, IterationOutput, ModelConfig, ParamFile};
use ferrofold_tests::{check, fixtures};
use ndarray::ArrayD;
use rand::SeedableRng;

const ITERATIONS: usize = 3;
const TOLERANCE: f64 = 1e-4;

fn case_file(case: &str, name: &str) -> std::path::PathBuf {
    fixtures().join("reference").join(format!("multimer_{case}")).join(name)
}

fn config() -> ModelConfig {
    let mut config = ModelConfig::preset("reduced_multimer").unwrap();
    // DeepMind's run recycles a fixed number of times.
    config.multimer.as_mut().unwrap().recycle_early_stop_tolerance = 0.0;
    config
}

/// The fixture's merged features as the network's batch: `ITERATIONS` equal draws.
fn batch(case: &str, config: &ModelConfig) -> FeatureBatch {
    let features = FeatureDict::load_npz(&case_file(case, "features.npz")).unwrap();
    let multimer = config.multimer.as_ref().unwrap();
    let sampling = MsaSampling {
        num_msa: multimer.num_msa,
        num_extra_msa: multimer.num_extra_msa,
        masked_msa: MaskedMsaConfig { replace_fraction: 0.0, ..MaskedMsaConfig::default() },
        gumbel_noise: false,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    FeatureBatch { features: multimer_batch(&features, ITERATIONS, &sampling, &mut rng).unwrap() }
}

fn run<B: Backend>(case: &str) -> (Vec<IterationOutput<B>>, FeatureDict, ModelConfig) {
    let device = B::Device::default();
    let config = config();
    let params = ParamFile::read(&case_file(case, "params.npz")).unwrap();
    let model = AlphaFold::<B>::load(&params, &config, &device).unwrap();
    let mut outputs = Vec::new();
    model
        .forward(&batch(case, &config), &config, &device, |_, out| outputs.push(out.clone()))
        .unwrap();
    let reference = FeatureDict::load_npz(&case_file(case, "outputs.npz")).unwrap();
    (outputs, reference, config)
}

fn get(reference: &FeatureDict, name: &str) -> ArrayD<f64> {
    reference.get(name).unwrap_or_else(|| panic!("{name} missing from the reference")).to_f64()
}

#[test]
fn heterodimer_float32_matches_deepmind_over_three_recycles() {
    check_case("2hhb_ab");
}

#[test]
fn homodimer_float32_matches_deepmind_over_three_recycles() {
    check_case("2hhb_aa");
}

fn check_case(case: &str) {
    let (outputs, reference, config) = run::<CpuF32>(case);
    assert_eq!(outputs.len(), ITERATIONS);
    let asym_id: Vec<i64> = FeatureDict::load_npz(&case_file(case, "features.npz"))
        .unwrap()
        .get("asym_id")
        .unwrap()
        .to_f64()
        .iter()
        .map(|&a| a as i64)
        .collect();
    for (i, out) in outputs.iter().enumerate() {
        let tag = |name: &str| format!("iteration_{i}/{name}");
        let compare = |name: &str, ours: ArrayD<f64>| {
            check(&format!("{case} {}", tag(name)), &ours, &get(&reference, &tag(name)), TOLERANCE);
        };
        let r = &out.representations;
        compare("single", to_array(r.single.clone()));
        compare("pair", to_array(r.pair.clone()));
        compare("msa_first_row", to_array(r.msa_first_row.clone()));
        compare("final_atom_positions", to_array(out.structure.final_atom_positions.clone()));
        compare("final_atom_mask", to_array(out.structure.final_atom_mask.clone()));
        compare("predicted_lddt_logits", to_array(out.predicted_lddt_logits.clone()));

        let pae = to_array(out.predicted_aligned_error_logits.clone().unwrap());
        let bins = pae.shape()[2];
        let logits: Vec<f64> = pae.iter().copied().collect();
        let max_bin = config.heads.predicted_aligned_error_max_error_bin;
        let ptm = predicted_tm_score(&logits, asym_id.len(), bins, max_bin);
        let iptm = predicted_interface_tm_score(&logits, &asym_id, bins, max_bin);
        for (name, ours) in [("ptm", ptm), ("iptm", iptm)] {
            let expected = get(&reference, &tag(name)).iter().copied().next().unwrap();
            assert!(
                (ours - expected).abs() <= TOLERANCE * expected.abs(),
                "{}: {ours} vs DeepMind's {expected}",
                tag(name)
            );
        }
        if i + 1 == ITERATIONS {
            compare("distogram_logits", to_array(out.distogram_logits.clone()));
            compare("masked_msa_logits", to_array(out.masked_msa_logits.clone()));
            compare("predicted_aligned_error_logits", pae);
            compare(
                "experimentally_resolved_logits",
                to_array(out.experimentally_resolved_logits.clone()),
            );
        }
    }
}
