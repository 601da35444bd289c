//! Values between the host and tensors: creation options in the backend's own dtypes, float64
//! arrays into tensors and back. Every module that makes or reads tensors goes through these.

use burn::prelude::*;
use burn::tensor::{Element, TensorCreationOptions, TensorData};
use ndarray::ArrayD;

/// Creation options with the backend's own float type. burn keeps one default dtype per device
/// *type* for the whole process (set by the first tensor created), and `NdArray<f32>` and
/// `NdArray<f64>` share a device type: without an explicit dtype, a float64 model in a process
/// that first used float32 would silently create float32 tensors.
pub fn float_options<B: Backend>(device: &B::Device) -> TensorCreationOptions<B> {
    (device, <B::FloatElem as Element>::dtype()).into()
}

/// Same for the backend's integer type.
pub fn int_options<B: Backend>(device: &B::Device) -> TensorCreationOptions<B> {
    (device, <B::IntElem as Element>::dtype()).into()
}

/// Float tensor from f64 values on the host.
pub fn host_tensor<B: Backend, const D: usize>(
    values: ArrayD<f64>,
    device: &B::Device,
) -> Tensor<B, D> {
    let shape: [usize; D] = values.shape().try_into().expect("rank checked by caller");
    let data: Vec<f64> = values.iter().copied().collect();
    Tensor::<B, 1>::from_data(
        TensorData::new(data, [values.len()]).convert::<B::FloatElem>(),
        float_options::<B>(device),
    )
    .reshape(shape)
}

/// Reads a tensor back as f64 values (for outputs and tests).
pub fn to_vec_f64<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Vec<f64> {
    tensor.into_data().convert::<f64>().to_vec::<f64>().expect("float tensor")
}

/// Reads a tensor back as an f64 array of the same shape.
pub fn to_array<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> ArrayD<f64> {
    let shape = tensor.dims().to_vec();
    ArrayD::from_shape_vec(shape, to_vec_f64(tensor)).expect("tensor shape")
}
