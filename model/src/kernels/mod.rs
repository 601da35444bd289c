//! ferrofold's own GPU kernels, written once in CubeCL for every GPU backend (wgpu, cuda).
//!
//! The model stays generic over burn's `Backend`: a kernel runs when the tensors belong to a
//! CubeCL backend it was built for (plain, not under autodiff) and are float32; otherwise the
//! caller keeps burn's operations, which are also the reference each kernel is tested against
//! (`model/tests/kernels.rs`). Without the `gpu` feature no backend has a kernel.

#[cfg(feature = "gpu")]
mod attention;

use burn::prelude::*;

/// Inputs of the fused gated attention. `query` [b, h, q, d] (already scaled by 1/√d), `key`
/// [b, h, k, d], `value` [b, h, k, e]; `bias` and `pair_bias` broadcast to [b, h, q, k] (e.g.
/// with `expand`, which costs nothing); `gate` [b, q, h, e] holds the gate's logits.
pub struct AttentionInputs<B: Backend> {
    pub query: Tensor<B, 4>,
    pub key: Tensor<B, 4>,
    pub value: Tensor<B, 4>,
    pub bias: Tensor<B, 4>,
    pub pair_bias: Option<Tensor<B, 4>>,
    pub gate: Option<Tensor<B, 4>>,
}

/// Whether [`fused_attention`] can run on tensors like `probe`.
pub fn has_fused_attention<B: Backend>(probe: &Tensor<B, 4>) -> bool {
    #[cfg(feature = "gpu")]
    {
        cube::runtime_of::<B>().is_some() && probe.dtype() == burn::tensor::DType::F32
    }
    #[cfg(not(feature = "gpu"))]
    {
        let _ = probe;
        false
    }
}

/// `sigmoid(gate) · softmax(query·keyᵀ + bias + pair_bias) · value`, as [b, q, h, e], in one
/// kernel launch. Call only where [`has_fused_attention`] holds.
pub fn fused_attention<B: Backend>(inputs: AttentionInputs<B>) -> Tensor<B, 4> {
    #[cfg(feature = "gpu")]
    {
        match cube::runtime_of::<B>() {
            #[cfg(feature = "wgpu")]
            Some(cube::Runtime::Wgpu) => cube::attention::<B, cubecl::wgpu::WgpuRuntime>(inputs),
            #[cfg(feature = "cuda")]
            Some(cube::Runtime::Cuda) => cube::attention::<B, cubecl::cuda::CudaRuntime>(inputs),
            None => panic!("fused_attention called on a backend without the kernel"),
        }
    }
    #[cfg(not(feature = "gpu"))]
    {
        let _ = inputs;
        panic!("fused_attention called in a build without GPU kernels")
    }
}

#[cfg(feature = "gpu")]
mod cube {
    use std::any::{Any, TypeId};

    use burn::prelude::*;
    use burn::tensor::{Shape, TensorPrimitive};
    use burn_cubecl::{tensor::CubeTensor, CubeRuntime};
    use cubecl::{CubeCount, CubeDim};

    use super::AttentionInputs;

    /// The CubeCL runtimes this build has kernels for.
    pub enum Runtime {
        #[cfg(feature = "wgpu")]
        Wgpu,
        #[cfg(feature = "cuda")]
        Cuda,
    }

    /// Which runtime `B`'s float tensors live on, if `B` is a plain CubeCL backend of this build.
    pub fn runtime_of<B: Backend>() -> Option<Runtime> {
        let primitive = TypeId::of::<B::FloatTensorPrimitive>();
        #[cfg(feature = "wgpu")]
        if primitive == TypeId::of::<CubeTensor<cubecl::wgpu::WgpuRuntime>>() {
            return Some(Runtime::Wgpu);
        }
        #[cfg(feature = "cuda")]
        if primitive == TypeId::of::<CubeTensor<cubecl::cuda::CudaRuntime>>() {
            return Some(Runtime::Cuda);
        }
        let _ = primitive;
        None
    }

    fn to_cube<B: Backend, R: CubeRuntime>(tensor: Tensor<B, 4>) -> CubeTensor<R> {
        let primitive: Box<dyn Any> = Box::new(tensor.into_primitive().tensor());
        *primitive.downcast::<CubeTensor<R>>().expect("runtime_of checked the primitive type")
    }

    fn from_cube<B: Backend, R: CubeRuntime>(tensor: CubeTensor<R>) -> Tensor<B, 4> {
        let primitive: Box<dyn Any> = Box::new(tensor);
        let primitive = primitive
            .downcast::<B::FloatTensorPrimitive>()
            .expect("runtime_of checked the primitive type");
        Tensor::from_primitive(TensorPrimitive::Float(*primitive))
    }

    /// Most units per cube (one query each).
    const MAX_UNITS: usize = 64;
    /// Most floats of one key tile plus its value tile: 8 KiB of shared memory, half of the
    /// 16 KiB that WebGPU guarantees.
    const TILE_FLOATS: usize = 2048;
    /// A grid axis holds at most this many cubes on every backend.
    const MAX_GRID: usize = 65_535;

    pub fn attention<B: Backend, R: CubeRuntime>(inputs: AttentionInputs<B>) -> Tensor<B, 4> {
        let [batch, heads, queries, head_dim] = inputs.query.dims();
        let keys = inputs.key.dims()[2];
        let value_dim = inputs.value.dims()[3];
        let query = to_cube::<B, R>(inputs.query);
        let dtype = query.dtype;
        let client = query.client.clone();
        let device = query.device.clone();
        let shape = Shape::new([batch, queries, heads, value_dim]);
        let handle = client.empty(shape.num_elements() * dtype.size());
        let out = CubeTensor::new_contiguous(client.clone(), device, shape, handle, dtype);
        if [batch, heads, queries, value_dim].contains(&0) {
            return from_cube::<B, R>(out);
        }
        let bias = to_cube::<B, R>(inputs.bias);
        let has_pair_bias = inputs.pair_bias.is_some();
        let pair_bias = inputs.pair_bias.map(to_cube::<B, R>).unwrap_or_else(|| bias.clone());
        let has_gate = inputs.gate.is_some();
        let gate = inputs.gate.map(to_cube::<B, R>).unwrap_or_else(|| query.clone());

        let units = queries.next_power_of_two().min(MAX_UNITS);
        let key_tile = (TILE_FLOATS / (head_dim + value_dim)).clamp(1, 32).min(keys.max(1));
        let batch_heads = batch * heads;
        let count = CubeCount::Static(
            queries.div_ceil(units) as u32,
            batch_heads.min(MAX_GRID) as u32,
            batch_heads.div_ceil(MAX_GRID) as u32,
        );
        super::attention::gated_attention::launch::<R>(
            &client,
            count,
            CubeDim::new_1d(units as u32),
            query.into_tensor_arg(),
            to_cube::<B, R>(inputs.key).into_tensor_arg(),
            to_cube::<B, R>(inputs.value).into_tensor_arg(),
            bias.into_tensor_arg(),
            pair_bias.into_tensor_arg(),
            gate.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            head_dim,
            value_dim,
            key_tile,
            has_pair_bias,
            has_gate,
            dtype.into(),
        );
        from_cube::<B, R>(out)
    }
}
