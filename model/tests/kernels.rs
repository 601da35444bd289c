//! The fused attention kernel against burn's operations (the reference path), on wgpu. Without
//! a GPU this runs on Mesa's lavapipe, a Vulkan driver on the CPU (`.ci/run` installs it):
//! `cargo test -p ferrofold-model --features wgpu --test kernels`.
#![cfg(feature = "wgpu")]

use burn::backend::wgpu::{Wgpu, WgpuDevice};
use burn::module::Param;
use burn::prelude::*;
use ferrofold_model::config::AttentionConfig;
use ferrofold_model::config::AttentionKernel;
use ferrofold_model::host::to_array;
use ferrofold_model::kernels::{
    fused_attention, has_fused_attention, AttentionInputs, DeviceWatch,
};
use ferrofold_model::params::ParamBuilder;
use ferrofold_model::primitives::activation::sigmoid;
use ferrofold_model::primitives::attention::scaled_dot_product;
use ferrofold_model::primitives::{Attention, Chunking};
use ferrofold_tests::compare::check;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

type W = Wgpu;

fn random<const D: usize>(rng: &mut ChaCha8Rng, shape: [usize; D], scale: f32) -> Tensor<W, D> {
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
    Tensor::from_data(TensorData::new(values, shape), &WgpuDevice::default())
}

/// AlphaFold's mask bias `1e9 · (mask − 1)` [b, 1, 1, k]: key `j` of batch row `i` is masked
/// when `(i + j) % 3 == 0`, and batch row 0 has every key masked.
fn mask_bias(batch: usize, keys: usize) -> Tensor<W, 4> {
    let values: Vec<f32> = (0..batch * keys)
        .map(|n| {
            let (i, j) = (n / keys, n % keys);
            if i == 0 || (i + j) % 3 == 0 {
                -1e9
            } else {
                0.0
            }
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [batch, 1, 1, keys]), &WgpuDevice::default())
}

/// (batch, heads, queries, keys, head width, value width): odd lengths, more queries than one
/// cube's 64 units, fewer keys than one tile, every head width AlphaFold uses.
const SHAPES: [(usize, usize, usize, usize, usize, usize); 7] = [
    (2, 4, 37, 53, 8, 8),
    (3, 2, 5, 70, 16, 16),
    (2, 8, 64, 33, 32, 32),
    (2, 4, 19, 100, 64, 64),
    (1, 1, 130, 7, 16, 16),
    (2, 3, 1, 1, 8, 8),
    (3, 2, 11, 45, 16, 32),
];

#[test]
fn fused_attention_equals_the_reference_path() {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    for (b, h, q, k, d, e) in SHAPES {
        let query = random(&mut rng, [b, h, q, d], 1.0) * (d as f64).powf(-0.5);
        let key = random(&mut rng, [b, h, k, d], 1.0);
        let value = random(&mut rng, [b, h, k, e], 1.0);
        let bias = mask_bias(b, k);
        let pair_bias = random(&mut rng, [1, h, q, k], 2.0);
        let gate = random(&mut rng, [b, q, h, e], 3.0);
        assert!(has_fused_attention(&query));
        for (with_pair_bias, with_gate) in [(true, true), (false, false), (true, false)] {
            let mut reference_bias = bias.clone();
            if with_pair_bias {
                reference_bias = reference_bias + pair_bias.clone();
            }
            let mut reference =
                scaled_dot_product(query.clone(), key.clone(), value.clone(), reference_bias, None)
                    .swap_dims(1, 2);
            if with_gate {
                reference = reference * sigmoid(gate.clone());
            }
            let full = [b, h, q, k];
            let fused = fused_attention(AttentionInputs {
                query: query.clone(),
                key: key.clone(),
                value: value.clone(),
                bias: bias.clone().expand(full),
                pair_bias: with_pair_bias.then(|| pair_bias.clone().expand(full)),
                gate: with_gate.then(|| gate.clone()),
            });
            let name =
                format!("[{b},{h},{q},{k}] d={d} e={e} pair={with_pair_bias} gate={with_gate}");
            check(&name, &to_array(fused), &to_array(reference), 1e-5);
        }
    }
}

/// A fully masked row attends uniformly (AlphaFold's −1e9 bias), not to nothing.
#[test]
fn fully_masked_rows_get_uniform_weights() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (h, q, k, d) = (2, 3, 40, 8);
    let value = random(&mut rng, [1, h, k, d], 1.0);
    let fused = fused_attention(AttentionInputs {
        query: random(&mut rng, [1, h, q, d], 1.0),
        key: random(&mut rng, [1, h, k, d], 1.0),
        value: value.clone(),
        bias: Tensor::<W, 4>::full([1, 1, 1, k], -1e9, &WgpuDevice::default()).expand([1, h, q, k]),
        pair_bias: None,
        gate: None,
    });
    let mean = value.mean_dim(2).swap_dims(1, 2).expand([1, q, h, d]);
    check("fully masked rows", &to_array(fused), &to_array(mean), 1e-3);
}

/// The model's attention module (mask bias, pair bias, gate, row chunks) gives the same output
/// with the fused kernel as with burn's operations.
#[test]
fn attention_module_uses_the_kernel_with_the_same_result() {
    let device = WgpuDevice::default();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let config = AttentionConfig { num_head: 4, key_dim: None, value_dim: None, gating: true };
    let mut builder = ParamBuilder::<W>::random(7, &device);
    let mut attention = Attention::new(&mut builder, &config, 32, 32, 24);
    // AlphaFold initialises the gate and the output projection to zero: make them count.
    attention.gating_w = Some(Param::from_tensor(random(&mut rng, [32, 32], 0.5)));
    attention.output_w = Param::from_tensor(random(&mut rng, [32, 24], 0.5));
    let (b, n) = (3, 29);
    let q_data = random(&mut rng, [b, n, 32], 1.0);
    let pair_bias = random(&mut rng, [4, n, n], 1.0);
    let run = |kernel, rows| {
        let chunking = Chunking { rows, keys: None, attention: kernel };
        to_array(attention.forward(
            q_data.clone(),
            q_data.clone(),
            mask_bias(b, n),
            Some(pair_bias.clone()),
            chunking,
        ))
    };
    let reference = run(AttentionKernel::Reference, None);
    check("module, fused", &run(AttentionKernel::Fused, None), &reference, 1e-5);
    check("module, fused, rows of 2", &run(AttentionKernel::Fused, Some(2)), &reference, 1e-5);
}

type A = burn::backend::Autodiff<Wgpu>;

/// The inputs' gradients of `Σ out ⊙ weights`, with the fused kernel or burn's operations.
fn input_gradients(
    shape: (usize, usize, usize, usize, usize, usize),
    kernel: AttentionKernel,
) -> Vec<(&'static str, ndarray::ArrayD<f64>)> {
    let (b, h, q, k, d, e) = shape;
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let tracked = |t: Tensor<W, 4>| Tensor::<A, 4>::from_inner(t).require_grad();
    let query = tracked(random(&mut rng, [b, h, q, d], 1.0));
    let key = tracked(random(&mut rng, [b, h, k, d], 1.0));
    let value = tracked(random(&mut rng, [b, h, k, e], 1.0));
    let pair_bias = tracked(random(&mut rng, [1, h, q, k], 2.0));
    let gate = tracked(random(&mut rng, [b, q, h, e], 3.0));
    let weights = Tensor::<A, 4>::from_inner(random(&mut rng, [b, q, h, e], 1.0));
    let bias = Tensor::<A, 4>::from_inner(mask_bias(b, k));
    let out = match kernel {
        AttentionKernel::Fused => {
            let full = [b, h, q, k];
            fused_attention(AttentionInputs {
                query: query.clone(),
                key: key.clone(),
                value: value.clone(),
                bias: bias.expand(full),
                pair_bias: Some(pair_bias.clone().expand(full)),
                gate: Some(gate.clone()),
            })
        }
        AttentionKernel::Reference => {
            scaled_dot_product(
                query.clone(),
                key.clone(),
                value.clone(),
                bias + pair_bias.clone(),
                None,
            )
            .swap_dims(1, 2)
                * sigmoid(gate.clone())
        }
    };
    let grads = (out * weights).sum().backward();
    [("query", query), ("key", key), ("value", value), ("pair_bias", pair_bias), ("gate", gate)]
        .into_iter()
        .map(|(name, t)| (name, to_array(t.grad(&grads).expect(name))))
        .collect()
}

#[test]
fn fused_attention_gradients_equal_the_reference_paths() {
    for shape in [
        (2, 4, 37, 53, 8, 8),
        (3, 2, 19, 70, 16, 16),
        (2, 2, 9, 33, 32, 32),
        (1, 2, 13, 40, 64, 64),
    ] {
        let fused = input_gradients(shape, AttentionKernel::Fused);
        let reference = input_gradients(shape, AttentionKernel::Reference);
        for ((name, ours), (_, expected)) in fused.iter().zip(&reference) {
            check(&format!("{shape:?} d{name}"), ours, expected, 1e-4);
        }
    }
}

/// Training's view: parameter gradients of the attention module (mask bias, pair bias, gate)
/// under autodiff, fused kernel against burn's operations.
#[test]
fn attention_module_gradients_equal_with_the_kernel() {
    let device = WgpuDevice::default();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let config = AttentionConfig { num_head: 2, key_dim: None, value_dim: None, gating: true };
    let mut attention =
        Attention::<A>::new(&mut ParamBuilder::random(3, &device), &config, 16, 16, 8);
    attention.gating_w =
        Some(Param::from_tensor(Tensor::from_inner(random(&mut rng, [16, 16], 0.5))));
    attention.output_w = Param::from_tensor(Tensor::from_inner(random(&mut rng, [16, 8], 0.5)));
    let (b, n) = (3, 21);
    let q_data = Tensor::<A, 3>::from_inner(random(&mut rng, [b, n, 16], 1.0));
    let pair_bias = Tensor::<A, 3>::from_inner(random(&mut rng, [2, n, n], 1.0)).require_grad();
    let gradients = |kernel| {
        let chunking = Chunking { rows: None, keys: None, attention: kernel };
        let out = attention.forward(
            q_data.clone(),
            q_data.clone(),
            Tensor::from_inner(mask_bias(b, n)),
            Some(pair_bias.clone()),
            chunking,
        );
        let grads = out.sum().backward();
        vec![
            to_array(attention.query_w.val().grad(&grads).unwrap()),
            to_array(attention.value_w.val().grad(&grads).unwrap()),
            to_array(attention.gating_w.as_ref().unwrap().val().grad(&grads).unwrap()),
            to_array(pair_bias.grad(&grads).unwrap()),
        ]
    };
    let (fused, reference) =
        (gradients(AttentionKernel::Fused), gradients(AttentionKernel::Reference));
    for (name, (ours, expected)) in
        ["query_w", "value_w", "gating_w", "pair bias"].iter().zip(fused.iter().zip(&reference))
    {
        check(&format!("module d{name}"), ours, expected, 1e-4);
    }
}

/// A tensor above the device's largest buffer is not allocated: CubeCL's device thread panics,
/// catches it and goes on. The panic is recorded for the caller, who refuses the results
/// (`predict` and `forward` do).
#[test]
fn an_allocation_above_the_largest_buffer_is_recorded_as_a_device_failure() {
    let limit = ferrofold_model::kernels::largest_buffer_bytes::<W>(&WgpuDevice::default())
        .expect("wgpu reports its largest buffer");
    if limit > 1 << 30 {
        eprintln!("this device's buffers hold {limit} bytes: not tested here");
        return;
    }
    let watch = DeviceWatch::start::<W>(&WgpuDevice::default()).expect("a GPU backend");
    let fits = Tensor::<W, 1>::ones([(limit / 4) as usize], &WgpuDevice::default());
    assert_eq!(fits.sum().into_scalar(), (limit / 4) as f32);
    assert_eq!(watch.failure(), None);
    let above = Tensor::<W, 1>::ones([(limit / 4) as usize + 1024], &WgpuDevice::default());
    let _ = above.sum().into_scalar();
    let failure = watch.failure().expect("a recorded failure");
    assert!(failure.contains("allocate"), "{failure}");
}
