//! ferrofold's AlphaFold-Multimer presets build exactly the parameters of DeepMind's
//! `params_model_*_multimer_v3.npz` and `_v2.npz` files: every name and shape, none missing,
//! none extra (the layouts haiku creates for DeepMind's v2.3.2 configs at full size,
//! `tools/reference/make_multimer_layout.py`).

use std::collections::BTreeMap;

use ferrofold_model::{AlphaFold, CpuF32, ModelConfig};
use ferrofold_tests::fixtures;

fn deepmind_layout(version: &str) -> BTreeMap<String, Vec<usize>> {
    let path = fixtures().join(format!("reference/multimer/layout_multimer_{version}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn multimer_presets_build_deepminds_parameter_layout() {
    for (version, presets) in [
        ("v3", ["model_1_multimer_v3", "model_5_multimer_v3"]),
        ("v2", ["model_1_multimer_v2", "model_4_multimer_v2"]),
    ] {
        let expected = deepmind_layout(version);
        for preset in presets {
            let config = ModelConfig::preset(preset).unwrap();
            let (_, layout) = AlphaFold::<CpuF32>::init(&config, 0, &Default::default());
            let ours = layout.shapes();
            let missing: Vec<_> = expected.keys().filter(|k| !ours.contains_key(*k)).collect();
            let extra: Vec<_> = ours.keys().filter(|k| !expected.contains_key(*k)).collect();
            let reshaped: Vec<_> =
                ours.iter().filter(|(k, s)| expected.get(*k).is_some_and(|e| e != *s)).collect();
            assert!(
                missing.is_empty() && extra.is_empty() && reshaped.is_empty(),
                "{preset}: missing {missing:?}, extra {extra:?}, other shapes {reshaped:?}"
            );
        }
    }
}
