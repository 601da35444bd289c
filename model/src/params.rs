//! Parameter files and the builder that turns them into modules.
//!
//! Parameters are named by AlphaFold's haiku paths (`<module path>//<name>`), and repeated
//! blocks are stacked on a leading axis, exactly as in DeepMind's `params_model_*.npz`, so that
//! importing an official file is a lookup, not a translation. Modules are built through a
//! [`ParamBuilder`], which either takes each tensor from a [`ParamFile`] (checking its shape) or
//! initialises it as AlphaFold does; after building, [`ParamBuilder::finish`] reports every
//! missing, unexpected or mis-shaped tensor at once.

use std::collections::{BTreeMap, BTreeSet};

use burn::module::{Param, ParamId};
use burn::prelude::*;
use burn::tensor::TensorData;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{ModelError, ParamProblem, Result};

/// A tensor of a parameter file, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Every tensor of a parameter file, by AlphaFold name.
#[derive(Debug, Clone, Default)]
pub struct ParamFile {
    pub tensors: BTreeMap<String, RawTensor>,
    /// Where the tensors came from, for error messages.
    pub source_name: String,
    /// Attention tensors stored with the head axis merged into the per-head channel axis
    /// (OpenFold's layout: `query_w` as `[in, heads × channels]`, `output_w` as
    /// `[heads × channels, out]`). The values are in AlphaFold's order; the network accepts
    /// these for its AlphaFold shape with those two axes merged.
    pub merged_head_axes: BTreeSet<String>,
}

impl ParamFile {
    /// Whether `found` is the stored shape of parameter `key` of AlphaFold shape `expected`.
    fn fits(&self, key: &str, found: &[usize], expected: &[usize]) -> bool {
        found == expected
            || (self.merged_head_axes.contains(key) && found == merge_head_axes(key, expected))
    }

    pub fn parameter_count(&self) -> usize {
        self.tensors.values().map(|t| t.data.len()).sum()
    }
}

/// How a parameter is initialised when no file provides it (AlphaFold's initialisers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Truncated normal with variance scale/fan_in ("linear": 1, "relu": 2).
    FanIn {
        scale: f64,
        fan_in: usize,
    },
    /// Uniform with variance 1/fan_avg (glorot).
    GlorotUniform {
        fan_in: usize,
        fan_out: usize,
    },
    Normal {
        stddev: f64,
    },
    Constant(f64),
}

impl Init {
    pub fn linear(fan_in: usize) -> Self {
        Init::FanIn { scale: 1.0, fan_in }
    }
    pub fn relu(fan_in: usize) -> Self {
        Init::FanIn { scale: 2.0, fan_in }
    }
    pub const ZEROS: Init = Init::Constant(0.0);
    pub const ONES: Init = Init::Constant(1.0);

    fn sample(&self, rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
        match *self {
            Init::FanIn { scale, fan_in } => {
                // Truncated to ±2σ; 0.8796 is the standard deviation of a unit normal truncated
                // there, as in haiku's VarianceScaling.
                let std = (scale / fan_in.max(1) as f64).sqrt() / 0.879_625_661_034_239_8;
                (0..n)
                    .map(|_| loop {
                        let x = standard_normal(rng);
                        if x.abs() <= 2.0 {
                            break (x * std) as f32;
                        }
                    })
                    .collect()
            }
            Init::Normal { stddev } => {
                (0..n).map(|_| (standard_normal(rng) * stddev) as f32).collect()
            }
            Init::GlorotUniform { fan_in, fan_out } => {
                let limit = (3.0 / ((fan_in + fan_out) as f64 / 2.0).max(1.0)).sqrt();
                (0..n).map(|_| rng.random_range(-limit..limit) as f32).collect()
            }
            Init::Constant(c) => vec![c as f32; n],
        }
    }
}

/// Box–Muller.
fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

enum Source<'a> {
    File(&'a ParamFile),
    /// A file the builder owns: each tensor is taken out of it when first asked for, split into
    /// its layers (`slices`, by name), and each layer moved into its module, so that the file
    /// and the network are never both whole in memory.
    OwnedFile {
        file: ParamFile,
        slices: BTreeMap<String, Vec<Option<Vec<f32>>>>,
    },
    Random(Box<ChaCha8Rng>),
}

/// Builds modules from a parameter file or from AlphaFold's initialisers; see the module docs.
pub struct ParamBuilder<'a, B: Backend> {
    device: B::Device,
    source: Source<'a>,
    scope: Vec<String>,
    /// (index, count) of the enclosing layer stacks, outermost first.
    stacks: Vec<(usize, usize)>,
    requested: BTreeSet<String>,
    problems: Vec<ParamProblem>,
    layout: ParamLayout,
}

/// Slice `stack_offset` (`numel` values) of tensor `key` of `file`, zeros if it is missing or
/// mis-shaped (recorded in `problems` once, at the first slice).
fn take_slice(
    file: &ParamFile,
    key: &str,
    full_shape: &[usize],
    stack_offset: usize,
    numel: usize,
    problems: &mut Vec<ParamProblem>,
) -> Vec<f32> {
    match file.tensors.get(key) {
        Some(raw) if file.fits(key, &raw.shape, full_shape) => {
            if stack_offset == 0 {
                let count = raw.data.iter().filter(|x| !x.is_finite()).count();
                if count > 0 {
                    problems.push(ParamProblem::NonFinite { name: key.to_string(), count });
                }
            }
            raw.data[stack_offset * numel..(stack_offset + 1) * numel].to_vec()
        }
        Some(raw) => {
            if stack_offset == 0 {
                problems.push(ParamProblem::WrongShape {
                    name: key.to_string(),
                    expected: full_shape.to_vec(),
                    found: raw.shape.clone(),
                });
            }
            vec![0.0; numel]
        }
        None => {
            if stack_offset == 0 {
                problems.push(ParamProblem::Missing {
                    name: key.to_string(),
                    expected: full_shape.to_vec(),
                });
            }
            vec![0.0; numel]
        }
    }
}

/// Where each parameter of a built module lives in AlphaFold's parameter file: its name, the
/// full (stacked) shape, and its slice of a layer stack. Parameter ids are derived from these,
/// so that a model built twice has the same ids (optimizer states stay attached across runs).
#[derive(Debug, Clone, Default)]
pub struct ParamLayout {
    slots: BTreeMap<ParamId, ParamSlot>,
}

#[derive(Debug, Clone)]
struct ParamSlot {
    key: String,
    full_shape: Vec<usize>,
    stack_offset: usize,
    numel: usize,
}

impl ParamLayout {
    /// The module's parameters as a parameter file under AlphaFold's names (layer stacks
    /// reassembled), e.g. to save a trained model as safetensors.
    pub fn export<B: Backend, M: Module<B>>(&self, module: &M, source_name: &str) -> ParamFile {
        self.export_values(&parameter_values(module), source_name)
    }

    /// [`Self::export`] from values by parameter id (e.g. an exponential moving average).
    pub fn export_values(
        &self,
        values: &BTreeMap<ParamId, Vec<f32>>,
        source_name: &str,
    ) -> ParamFile {
        let mut tensors: BTreeMap<String, RawTensor> = BTreeMap::new();
        for (id, slot) in &self.slots {
            let Some(values) = values.get(id) else { continue };
            let raw = tensors.entry(slot.key.clone()).or_insert_with(|| RawTensor {
                shape: slot.full_shape.clone(),
                data: vec![0.0; slot.full_shape.iter().product()],
            });
            let start = slot.stack_offset * slot.numel;
            raw.data[start..start + slot.numel].copy_from_slice(values);
        }
        ParamFile { tensors, source_name: source_name.to_string(), ..Default::default() }
    }

    /// The values of every parameter of the layout in `file`, by id (the inverse of
    /// [`Self::export_values`]); `None` if the file lacks a tensor or has another shape.
    pub fn values_in(&self, file: &ParamFile) -> Option<BTreeMap<ParamId, Vec<f32>>> {
        self.slots
            .iter()
            .map(|(id, slot)| {
                let raw = file.tensors.get(&slot.key).filter(|r| r.shape == slot.full_shape)?;
                let start = slot.stack_offset * slot.numel;
                Some((*id, raw.data[start..start + slot.numel].to_vec()))
            })
            .collect()
    }

    /// AlphaFold name of a parameter, with `#k` for the k-th block of a layer stack.
    pub fn name(&self, id: &ParamId) -> Option<String> {
        self.slots.get(id).map(|s| {
            if s.numel == s.full_shape.iter().product::<usize>() {
                s.key.clone()
            } else {
                format!("{}#{}", s.key, s.stack_offset)
            }
        })
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Every tensor of the parameter file the layout reads: its name and full (stacked) shape.
    pub fn shapes(&self) -> BTreeMap<String, Vec<usize>> {
        self.slots.values().map(|s| (s.key.clone(), s.full_shape.clone())).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// Every float parameter of `module` on the host, by id.
pub fn parameter_values<B: Backend, M: Module<B>>(module: &M) -> BTreeMap<ParamId, Vec<f32>> {
    struct Collect(BTreeMap<ParamId, Vec<f32>>);
    impl<B: Backend> burn::module::ModuleVisitor<B> for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let values = param.val().into_data().convert::<f32>().to_vec::<f32>().expect("floats");
            self.0.insert(param.id, values);
        }
    }
    let mut collect = Collect(BTreeMap::new());
    module.visit(&mut collect);
    collect.0
}

/// A stable id from a parameter's name and stack slice (FNV-1a).
fn stable_param_id(key: &str, stack_offset: usize) -> ParamId {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes().chain(stack_offset.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    ParamId::from(hash)
}

impl<'a, B: Backend> ParamBuilder<'a, B> {
    pub fn from_file(file: &'a ParamFile, device: &B::Device) -> Self {
        Self::new(Source::File(file), device)
    }

    /// [`Self::from_file`], consuming the file: each tensor's layers are moved into their
    /// modules, so loading holds about one copy of the parameters, not two. Each parameter can
    /// be asked for once (a second request is reported as missing).
    pub fn from_owned_file(file: ParamFile, device: &B::Device) -> Self {
        Self::new(Source::OwnedFile { file, slices: BTreeMap::new() }, device)
    }

    pub fn random(seed: u64, device: &B::Device) -> Self {
        Self::new(Source::Random(Box::new(ChaCha8Rng::seed_from_u64(seed))), device)
    }

    fn new(source: Source<'a>, device: &B::Device) -> Self {
        Self {
            device: device.clone(),
            source,
            scope: Vec::new(),
            stacks: Vec::new(),
            requested: BTreeSet::new(),
            problems: Vec::new(),
            layout: ParamLayout::default(),
        }
    }

    /// Runs `build` inside the module scope `name` (haiku's module name).
    pub fn scope<T>(&mut self, name: &str, build: impl FnOnce(&mut Self) -> T) -> T {
        self.scope.push(name.to_string());
        let out = build(self);
        self.scope.pop();
        out
    }

    /// Builds `count` copies of a block whose parameters are stacked on a leading axis under
    /// the scope `name` (haiku's `layer_stack`).
    pub fn stacked<T>(
        &mut self,
        name: &str,
        count: usize,
        mut build: impl FnMut(&mut Self) -> T,
    ) -> Vec<T> {
        self.scope.push(name.to_string());
        let out = (0..count)
            .map(|index| {
                self.stacks.push((index, count));
                let block = build(self);
                self.stacks.pop();
                block
            })
            .collect();
        self.scope.pop();
        out
    }

    fn key(&self, name: &str) -> String {
        format!("{}//{}", self.scope.join("/"), name)
    }

    /// The parameter `name` of the current scope, of (unstacked) AlphaFold shape `shape`,
    /// returned with shape `out_shape` (same number of elements).
    pub fn tensor<const D: usize>(
        &mut self,
        name: &str,
        shape: &[usize],
        out_shape: [usize; D],
        init: Init,
    ) -> Tensor<B, D> {
        let key = self.key(name);
        let numel: usize = shape.iter().product();
        debug_assert_eq!(numel, out_shape.iter().product::<usize>());
        let mut full_shape: Vec<usize> = self.stacks.iter().map(|&(_, count)| count).collect();
        let stack_offset: usize = self.stacks.iter().fold(0, |acc, &(i, count)| acc * count + i);
        full_shape.extend_from_slice(shape);
        self.requested.insert(key.clone());
        let values: Vec<f32> = match &mut self.source {
            Source::File(file) => {
                take_slice(file, &key, &full_shape, stack_offset, numel, &mut self.problems)
            }
            Source::OwnedFile { file, slices } => {
                match slices.get_mut(&key) {
                    // A layer stack's slice, split off the file's tensor earlier: moved, not
                    // copied. Taken before: a module asked twice, which this source cannot serve.
                    Some(stack) => {
                        stack.get_mut(stack_offset).and_then(Option::take).unwrap_or_else(|| {
                            self.problems.push(ParamProblem::Missing {
                                name: format!("{key} (layer {stack_offset}, asked for twice)"),
                                expected: full_shape.clone(),
                            });
                            vec![0.0; numel]
                        })
                    }
                    None => match file.tensors.remove(&key) {
                        Some(raw) if file.fits(&key, &raw.shape, &full_shape) => {
                            let count = raw.data.iter().filter(|x| !x.is_finite()).count();
                            if count > 0 {
                                let name = key.clone();
                                self.problems.push(ParamProblem::NonFinite { name, count });
                            }
                            // Split into its layers, each moved into its module when asked
                            // for: the file's memory goes as the network's comes.
                            let mut stack: Vec<Option<Vec<f32>>> = if raw.data.len() == numel {
                                vec![Some(raw.data)]
                            } else {
                                raw.data.chunks(numel.max(1)).map(|s| Some(s.to_vec())).collect()
                            };
                            let values = stack[stack_offset].take().expect("one slice per layer");
                            slices.insert(key.clone(), stack);
                            values
                        }
                        other => {
                            // Missing or mis-shaped: put back for `finish` to name as the
                            // borrowing source does.
                            if let Some(raw) = other {
                                file.tensors.insert(key.clone(), raw);
                            }
                            take_slice(
                                file,
                                &key,
                                &full_shape,
                                stack_offset,
                                numel,
                                &mut self.problems,
                            )
                        }
                    },
                }
            }
            Source::Random(rng) => init.sample(rng, numel),
        };
        Tensor::<B, 1>::from_data(
            TensorData::new(values, [numel]).convert::<B::FloatElem>(),
            crate::host::float_options::<B>(&self.device),
        )
        .reshape(out_shape)
    }

    /// A trainable parameter: [`Self::tensor`] with a stable id, recorded in the layout.
    pub fn param<const D: usize>(
        &mut self,
        name: &str,
        shape: &[usize],
        out_shape: [usize; D],
        init: Init,
    ) -> Param<Tensor<B, D>> {
        let tensor = self.tensor(name, shape, out_shape, init);
        let key = self.key(name);
        let stack_offset: usize = self.stacks.iter().fold(0, |acc, &(i, count)| acc * count + i);
        let mut full_shape: Vec<usize> = self.stacks.iter().map(|&(_, count)| count).collect();
        full_shape.extend_from_slice(shape);
        let id = stable_param_id(&key, stack_offset);
        let numel = shape.iter().product();
        self.layout.slots.insert(id, ParamSlot { key, full_shape, stack_offset, numel });
        // As `Param::from_tensor` does: float parameters are trainable.
        Param::initialized(id, tensor.require_grad())
    }

    /// Where every parameter built so far lives in the parameter file.
    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    /// Ends building: with a file, fails listing every missing, unexpected and mis-shaped
    /// tensor (a file that passes holds exactly the network's parameters).
    pub fn finish(self, preset: &str) -> Result<()> {
        let mut problems = self.problems;
        let file = match &self.source {
            Source::File(file) => Some(*file),
            Source::OwnedFile { file, .. } => Some(file),
            Source::Random(_) => None,
        };
        let source_name = match file {
            Some(file) => {
                for (name, raw) in &file.tensors {
                    if !self.requested.contains(name) {
                        problems.push(ParamProblem::Unexpected {
                            name: name.clone(),
                            found: raw.shape.clone(),
                        });
                    }
                }
                file.source_name.clone()
            }
            None => "random initialisation".to_string(),
        };
        if !problems.is_empty() {
            return Err(ModelError::ParamMismatch {
                source_name,
                preset: preset.to_string(),
                problems,
            });
        }
        Ok(())
    }
}

/// An AlphaFold attention shape with its head axis merged into the next one: the two axes
/// before the output channels for `output_w` (`[.., heads, channels, out]`), else the last two
/// (`[.., in, heads, channels]`, `[.., heads, channels]`).
fn merge_head_axes(key: &str, shape: &[usize]) -> Vec<usize> {
    let axis = if key.ends_with("//output_w") {
        shape.len().saturating_sub(3)
    } else {
        shape.len().saturating_sub(2)
    };
    let mut merged = shape.to_vec();
    if axis + 1 < merged.len() {
        let channels = merged.remove(axis + 1);
        merged[axis] *= channels;
    }
    merged
}
