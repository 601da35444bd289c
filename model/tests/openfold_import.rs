//! OpenFold checkpoints load as the same network as DeepMind's parameter file.
//!
//! `openfold_reduced.pt` was written by OpenFold itself (`tools/reference/make_openfold_fixture.py`):
//! its `AlphaFold` module, built with the reduced preset's sizes, imported
//! `params_reduced.npz` with OpenFold's own weight import and was saved with `torch.save`. Read
//! back by ferrofold, every parameter must equal DeepMind's, bit for bit.

use ferrofold_model::{AlphaFold, CpuF32, ModelConfig, ModelError, ParamFile, ParamProblem};
use ferrofold_tests::reduced_case;
#[test]
fn openfold_checkpoint_loads_to_deepminds_parameters_exactly() {
    let config = ModelConfig::preset("reduced").unwrap();
    let device = Default::default();
    let deepmind = ParamFile::read(&reduced_case("params_reduced.npz")).unwrap();
    let openfold = ParamFile::read(&reduced_case("openfold_reduced.pt")).unwrap();
    let (model, layout) =
        AlphaFold::<CpuF32>::load_with_layout(&openfold, &config, &device).unwrap();
    let exported = layout.export(&model, "openfold");
    assert_eq!(exported.tensors.len(), deepmind.tensors.len());
    for (name, tensor) in &deepmind.tensors {
        let ours = &exported.tensors[name];
        assert_eq!(ours.shape, tensor.shape, "{name}");
        assert_eq!(ours.data, tensor.data, "{name}");
    }
    // As read, the file cannot be written back as AlphaFold's layout: the heads are not split.
    let dir = tempfile::tempdir().unwrap();
    let message = openfold.write_safetensors(&dir.path().join("x.safetensors")).unwrap_err();
    assert!(message.to_string().contains("convert-weights"), "{message}");
}

#[test]
fn openfold_checkpoint_of_another_preset_is_refused_with_the_names() {
    let openfold = ParamFile::read(&reduced_case("openfold_reduced.pt")).unwrap();
    let config = ModelConfig::preset("model_1_ptm").unwrap();
    let Err(ModelError::ParamMismatch { problems, .. }) =
        AlphaFold::<CpuF32>::load(&openfold, &config, &Default::default())
    else {
        panic!("a reduced checkpoint must not load as model_1_ptm");
    };
    // Merged attention axes are checked too: the reduced query weights do not fit.
    assert!(problems.iter().any(|p| matches!(p, ParamProblem::WrongShape { name, .. }
        if name.ends_with("msa_row_attention_with_pair_bias/attention//query_w"))));
}

#[test]
fn other_files_named_pt_get_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("weights.pt");
    std::fs::write(&garbage, b"not a checkpoint").unwrap();
    let message = ParamFile::read(&garbage).unwrap_err().to_string();
    assert!(message.contains("weights.pt") && message.contains("PyTorch"), "{message}");
    // DeepMind's file under a .pt name: a zip, but no PyTorch pickle inside.
    let npz_named_pt = dir.path().join("params.pt");
    std::fs::copy(reduced_case("params_reduced.npz"), &npz_named_pt).unwrap();
    let message = ParamFile::read(&npz_named_pt).unwrap_err().to_string();
    assert!(message.contains("params.pt"), "{message}");
}
