//! Helpers shared by the gradient tests.

use burn::backend::Autodiff;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;
use ferrofold_model::host::to_array;
use ferrofold_model::{AlphaFold, CpuF64, ParamLayout};

pub type B = Autodiff<CpuF64>;

struct Compare<'a> {
    a: &'a GradientsParams,
    b: &'a GradientsParams,
    layout: &'a ParamLayout,
    compared: usize,
    largest: (f64, String),
}

impl ModuleVisitor<B> for Compare<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let get = |g: &GradientsParams| g.get::<CpuF64, D>(param.id).map(to_array);
        let (a, b) = match (get(self.a), get(self.b)) {
            (Some(a), Some(b)) => (a, b),
            // Parameters that no example uses (the template embedding, without templates).
            (None, None) => return,
            _ => panic!("{:?}: a gradient on one side only", self.layout.name(&param.id)),
        };
        let scale = a.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let diff = a.iter().zip(&b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        // A few gradients are zero but for rounding (the pair-bias layer norm's offset adds
        // the same logit to every key, which the softmax cancels): ~1e-17, compared absolutely.
        let relative = diff / scale.max(1e-6);
        if relative > self.largest.0 {
            self.largest = (relative, self.layout.name(&param.id).unwrap_or_default());
        }
        self.compared += 1;
    }
}

/// The largest relative difference between two gradients of `model`'s parameters, the
/// parameter's name, and how many parameters have a gradient.
pub fn largest_difference(
    model: &AlphaFold<B>,
    layout: &ParamLayout,
    a: &GradientsParams,
    b: &GradientsParams,
) -> (f64, String, usize) {
    let mut compare = Compare { a, b, layout, compared: 0, largest: (0.0, String::new()) };
    model.visit(&mut compare);
    (compare.largest.0, compare.largest.1, compare.compared)
}
