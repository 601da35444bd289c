//! A built network saves back to the parameter file it was loaded from (every tensor, layer
//! stacks reassembled), and its parameter ids are stable across builds (so that optimizer
//! states saved by one run attach to the same parameters in the next).

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::prelude::*;
use ferrofold_model::{AlphaFold, CpuF32, ModelConfig, ParamFile};
use ferrofold_tests::reduced_case;

struct Ids(Vec<ParamId>);
impl<B: Backend> ModuleVisitor<B> for Ids {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0.push(param.id);
    }
}

fn ids<M: Module<CpuF32>>(module: &M) -> Vec<ParamId> {
    let mut ids = Ids(Vec::new());
    module.visit(&mut ids);
    ids.0
}

#[test]
fn export_reproduces_the_loaded_file_exactly() {
    let config = ModelConfig::preset("reduced").unwrap();
    let file = ParamFile::read(&reduced_case("params_reduced.npz")).unwrap();
    let device = Default::default();
    let (model, layout) = AlphaFold::<CpuF32>::load_with_layout(&file, &config, &device).unwrap();
    let exported = layout.export(&model, "exported");
    assert_eq!(exported.tensors.len(), file.tensors.len());
    for (name, tensor) in &file.tensors {
        let ours = &exported.tensors[name];
        assert_eq!(ours.shape, tensor.shape, "{name}");
        assert_eq!(ours.data, tensor.data, "{name}");
    }
    // Every parameter of the module has a distinct id with a name in the layout.
    let all = ids(&model);
    let unique: std::collections::BTreeSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len());
    assert!(all.iter().all(|id| layout.name(id).is_some()));
    assert_eq!(layout.len(), all.len());
}

#[test]
fn parameter_ids_are_the_same_in_every_build() {
    let config = ModelConfig::preset("reduced").unwrap();
    let device = Default::default();
    let (a, _) = AlphaFold::<CpuF32>::init(&config, 1, &device);
    let (b, _) = AlphaFold::<CpuF32>::init(&config, 2, &device);
    assert_eq!(ids(&a), ids(&b));
}
