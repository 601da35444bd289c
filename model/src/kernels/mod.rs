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
        backend_has_fused_attention::<B>() && probe.dtype() == burn::tensor::DType::F32
    }
    #[cfg(not(feature = "gpu"))]
    {
        let _ = probe;
        false
    }
}

/// Whether attention on backend `B` runs as the fused kernel (float32 tensors, as the model
/// makes them on GPU backends).
pub fn backend_has_fused_attention<B: Backend>() -> bool {
    #[cfg(feature = "gpu")]
    {
        cube::attention_for::<B>().is_some()
    }
    #[cfg(not(feature = "gpu"))]
    {
        false
    }
}

/// The device's total memory where the backend reports it: CUDA (cubecl-cuda reads it with
/// `cuDeviceTotalMem` and offers a quarter of it as its largest allocation). `None` elsewhere:
/// the CPU's is the host's, and wgpu does not say.
pub fn device_memory_bytes<B: Backend>(device: &B::Device) -> Option<u64> {
    #[cfg(feature = "cuda")]
    {
        use std::any::Any;
        let device: &dyn Any = device;
        if let Some(device) = device.downcast_ref::<cubecl::cuda::CudaDevice>() {
            return Some(cube::largest_page::<cubecl::cuda::CudaRuntime>(device) * 4);
        }
    }
    let _ = device;
    None
}

/// The largest single allocation of a GPU device (CubeCL's largest page: wgpu's storage-buffer
/// binding limit, or a quarter of a CUDA device's memory); `None` on the CPU, which has none.
/// A tensor above it is not allocated and the pass goes on with garbage
/// ([`crate::largest_tensor`]), so runs on GPUs keep every tensor under it.
pub fn largest_buffer_bytes<B: Backend>(device: &B::Device) -> Option<u64> {
    #[cfg(feature = "gpu")]
    {
        use std::any::Any;
        let device: &dyn Any = device;
        #[cfg(feature = "cuda")]
        if let Some(device) = device.downcast_ref::<cubecl::cuda::CudaDevice>() {
            return Some(cube::largest_page::<cubecl::cuda::CudaRuntime>(device));
        }
        #[cfg(feature = "wgpu")]
        if let Some(device) = device.downcast_ref::<cubecl::wgpu::WgpuDevice>() {
            return Some(cube::largest_page::<cubecl::wgpu::WgpuRuntime>(device));
        }
    }
    let _ = device;
    None
}

/// `sigmoid(gate) · softmax(query·keyᵀ + bias + pair_bias) · value`, as [b, q, h, e], in one
/// kernel launch (under autodiff, the backward pass recomputes the scores with burn's
/// operations). Call only where [`has_fused_attention`] holds.
pub fn fused_attention<B: Backend>(inputs: AttentionInputs<B>) -> Tensor<B, 4> {
    #[cfg(feature = "gpu")]
    {
        let run = cube::attention_for::<B>().expect("has_fused_attention was checked");
        run(inputs)
    }
    #[cfg(not(feature = "gpu"))]
    {
        let _ = inputs;
        panic!("fused_attention called in a build without GPU kernels")
    }
}

#[cfg(feature = "gpu")]
mod autodiff;

#[cfg(feature = "gpu")]
mod cube {
    use std::any::Any;

    use burn::prelude::*;
    use burn::tensor::{Shape, TensorPrimitive};
    use burn_cubecl::{element::BoolElement, tensor::CubeTensor, CubeBackend, CubeRuntime};
    use cubecl::{CubeCount, CubeDim};

    use super::AttentionInputs;

    /// The kernel's entry point for backend `B`.
    pub type AttentionFn<B> = fn(AttentionInputs<B>) -> Tensor<B, 4>;

    /// `run` as the entry point of `B`, if `B` is `T`.
    fn entry_if<B: Backend, T: Backend>(run: AttentionFn<T>) -> Option<AttentionFn<B>> {
        let run: Box<dyn Any> = Box::new(run);
        run.downcast::<AttentionFn<B>>().ok().map(|run| *run)
    }

    /// The largest page runtime `R`'s memory pool allocates on `device`.
    pub fn largest_page<R: cubecl::Runtime>(device: &R::Device) -> u64 {
        R::client(device).properties().memory.max_page_size
    }

    /// The fused attention of backend `B`: the plain CubeCL backends of this build and their
    /// autodiff wrappers (with and without activation checkpointing); none for others.
    pub fn attention_for<B: Backend>() -> Option<AttentionFn<B>> {
        use super::autodiff::attention as tracked;
        use burn::backend::autodiff::checkpoint::strategy::{
            BalancedCheckpointing, NoCheckpointing,
        };
        use burn::backend::Autodiff;
        #[allow(unused_mut)]
        let mut found: Option<AttentionFn<B>> = None;
        #[cfg(feature = "wgpu")]
        {
            type Plain = CubeBackend<cubecl::wgpu::WgpuRuntime, f32, i32, u32>;
            found = found
                .or_else(|| entry_if::<B, Plain>(plain))
                .or_else(|| entry_if::<B, Autodiff<Plain>>(tracked::<_, _, NoCheckpointing>))
                .or_else(|| {
                    entry_if::<B, Autodiff<Plain, BalancedCheckpointing>>(tracked::<_, _, _>)
                });
        }
        #[cfg(feature = "cuda")]
        {
            type Plain = CubeBackend<cubecl::cuda::CudaRuntime, f32, i32, u8>;
            found = found
                .or_else(|| entry_if::<B, Plain>(plain))
                .or_else(|| entry_if::<B, Autodiff<Plain>>(tracked::<_, _, NoCheckpointing>))
                .or_else(|| {
                    entry_if::<B, Autodiff<Plain, BalancedCheckpointing>>(tracked::<_, _, _>)
                });
        }
        found
    }

    /// Most units per cube (one query each).
    const MAX_UNITS: usize = 64;
    /// Most floats of one key tile plus its value tile: 8 KiB of shared memory, half of the
    /// 16 KiB that WebGPU guarantees.
    const TILE_FLOATS: usize = 2048;
    /// A grid axis holds at most this many cubes on every backend.
    const MAX_GRID: usize = 65_535;

    fn cube<R: CubeRuntime, BT: BoolElement>(
        tensor: Tensor<CubeBackend<R, f32, i32, BT>, 4>,
    ) -> CubeTensor<R> {
        tensor.into_primitive().tensor()
    }

    /// The kernel on a plain CubeCL backend.
    pub fn plain<R: CubeRuntime, BT: BoolElement>(
        inputs: AttentionInputs<CubeBackend<R, f32, i32, BT>>,
    ) -> Tensor<CubeBackend<R, f32, i32, BT>, 4> {
        let AttentionInputs { query, key, value, bias, pair_bias, gate } = inputs;
        let out = launch(
            cube(query),
            cube(key),
            cube(value),
            cube(bias),
            pair_bias.map(cube),
            gate.map(cube),
        );
        Tensor::from_primitive(TensorPrimitive::Float(out))
    }

    /// Launches the kernel on CubeCL tensors (shapes as [`AttentionInputs`]); [b, q, h, e].
    pub fn launch<R: CubeRuntime>(
        query: CubeTensor<R>,
        key: CubeTensor<R>,
        value: CubeTensor<R>,
        bias: CubeTensor<R>,
        pair_bias: Option<CubeTensor<R>>,
        gate: Option<CubeTensor<R>>,
    ) -> CubeTensor<R> {
        let [batch, heads, queries, head_dim] = query.meta.shape().dims::<4>();
        let keys = key.meta.shape().dims::<4>()[2];
        let value_dim = value.meta.shape().dims::<4>()[3];
        let dtype = query.dtype;
        let client = query.client.clone();
        let shape = Shape::new([batch, queries, heads, value_dim]);
        let handle = client.empty(shape.num_elements() * dtype.size());
        let out =
            CubeTensor::new_contiguous(client.clone(), query.device.clone(), shape, handle, dtype);
        if [batch, heads, queries, value_dim].contains(&0) {
            return out;
        }
        let has_pair_bias = pair_bias.is_some();
        let pair_bias = pair_bias.unwrap_or_else(|| bias.clone());
        let has_gate = gate.is_some();
        let gate = gate.unwrap_or_else(|| query.clone());

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
            key.into_tensor_arg(),
            value.into_tensor_arg(),
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
        out
    }
}

/// Watches for failures that a GPU backend's device thread swallows during a pass. CubeCL's
/// device thread catches a panic of its own (an allocation above the device's largest buffer, a
/// lost device) and goes on, so the pass that caused it returns normally with garbage; whoever
/// runs a pass asks the watch afterwards and refuses the results if it saw a failure.
pub struct DeviceWatch(());

impl DeviceWatch {
    /// A watch from now on, on a GPU device; `None` on the CPU, whose failures are not swallowed.
    /// Installs (once per process) a panic hook that records the first panic message, then
    /// calls the hook that was there before.
    pub fn start<B: Backend>(device: &B::Device) -> Option<Self> {
        largest_buffer_bytes::<B>(device)?;
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if let Ok(mut failure) = FAILURE.lock() {
                    failure.get_or_insert_with(|| {
                        let message = info
                            .payload()
                            .downcast_ref::<String>()
                            .map(String::as_str)
                            .or_else(|| info.payload().downcast_ref::<&str>().copied())
                            .unwrap_or("panic");
                        let thread = std::thread::current();
                        format!("{message} (thread {})", thread.name().unwrap_or("unnamed"))
                    });
                }
                previous(info);
            }));
        });
        Self::take();
        Some(Self(()))
    }

    /// The first panic, on any thread, since the watch started or was last asked.
    pub fn failure(&self) -> Option<String> {
        Self::take()
    }

    fn take() -> Option<String> {
        FAILURE.lock().ok().and_then(|mut failure| failure.take())
    }
}

static FAILURE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
