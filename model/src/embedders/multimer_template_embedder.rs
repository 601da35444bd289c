//! AlphaFold-Multimer's template embedder (Evans et al. 2021; DeepMind's v2.3.2
//! `modules_multimer.TemplateEmbedding`): each template's pair features — distogram, residue
//! types, backbone-frame unit vectors and their masks, all limited to pairs within one chain —
//! each through its own linear layer, plus the layer-normed query pair; then the template stack
//! (triangle multiplications first) and a layer norm. The templates' embeddings are averaged over
//! all template slots (empty ones included, as DeepMind's), then ReLU and a linear layer.

use burn::prelude::*;
use burn::tensor::activation::relu;
use ndarray::{Array1, Array2, Array3, ArrayView1, ArrayView2, ArrayView3};

use crate::batch::squared_bin_bounds;
use crate::config::{DistogramBins, TemplateConfig};
use crate::evoformer::TemplatePairBlock;
use crate::host::host_tensor;
use crate::params::ParamBuilder;
use crate::plan::StageContext;
use crate::primitives::{LayerNorm, Linear, LinearInit};

/// Residue types of a template: AlphaFold's 20, unknown, gap.
const TEMPLATE_AATYPES: usize = 22;
/// Clip of vector norms (AlphaFold's `Vec3Array.norm` epsilon).
const NORM_EPSILON: f64 = 1e-6;

/// One template's pair features, computed on the host in float64.
#[derive(Debug, Clone)]
pub struct MultimerTemplatePairFeatures {
    /// Distance bins of the pseudo-beta atoms [r, r, bins], zero outside the mask below.
    pub distogram: Array3<f64>,
    /// Both pseudo-beta atoms present, one chain: [r, r].
    pub pseudo_beta_mask_2d: Array2<f64>,
    /// One-hot residue types [r, 22].
    pub aatype_one_hot: Array2<f64>,
    /// Direction of residue j's CA in residue i's backbone frame, x, y and z: [r, r] each, zero
    /// outside the backbone mask.
    pub unit_vectors: [Array2<f64>; 3],
    /// Both backbones (N, CA, C) present, one chain: [r, r].
    pub backbone_mask_2d: Array2<f64>,
}

type Vec3 = [f64; 3];

fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn normalized(a: Vec3) -> Vec3 {
    let norm = dot(a, a).max(NORM_EPSILON * NORM_EPSILON).sqrt();
    [a[0] / norm, a[1] / norm, a[2] / norm]
}

fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

/// The pair features of one template: `aatype` \[r\] (AlphaFold's order, 21 = gap), atom37
/// `positions` [r, 37, 3] and `mask` [r, 37]; `same_chain` [r, r] is 1 for residue pairs of one
/// chain (templates are per chain: nothing is read across chains).
pub fn multimer_template_pair_features(
    aatype: ArrayView1<i32>,
    positions: ArrayView3<f64>,
    mask: ArrayView2<f64>,
    same_chain: ArrayView2<f64>,
    bins: &DistogramBins,
) -> MultimerTemplatePairFeatures {
    let r = aatype.len();
    let (pseudo_beta, pseudo_beta_mask) =
        ferrofold_features::labels::pseudo_beta(aatype, positions, mask);
    let pseudo_beta_mask_2d = Array2::from_shape_fn((r, r), |(i, j)| {
        pseudo_beta_mask[i] * pseudo_beta_mask[j] * same_chain[(i, j)]
    });
    let (lower, upper) = squared_bin_bounds(bins);
    let distogram = Array3::from_shape_fn((r, r, bins.num_bins), |(i, j, k)| {
        let d2: f64 = (0..3).map(|x| (pseudo_beta[(i, x)] - pseudo_beta[(j, x)]).powi(2)).sum();
        f64::from(d2 > lower[k] && d2 < upper[k]) * pseudo_beta_mask_2d[(i, j)]
    });
    let aatype_one_hot = Array2::from_shape_fn((r, TEMPLATE_AATYPES), |(i, k)| {
        f64::from(usize::try_from(aatype[i]).is_ok_and(|a| a == k))
    });

    // Backbone frames (`make_transform_from_reference`): origin CA, x towards C, N in the xy
    // plane. Rows of the inverse rotation are the frame's axes.
    let atom = |i: usize, a: usize| -> Vec3 {
        [positions[(i, a, 0)], positions[(i, a, 1)], positions[(i, a, 2)]]
    };
    let (n, ca, c) = (0, 1, 2);
    let mut axes = Vec::with_capacity(r);
    for i in 0..r {
        let e0 = normalized(sub(atom(i, c), atom(i, ca)));
        let e1 = sub(atom(i, n), atom(i, ca));
        let along = dot(e1, e0);
        let e1 = normalized([e1[0] - along * e0[0], e1[1] - along * e0[1], e1[2] - along * e0[2]]);
        axes.push([e0, e1, cross(e0, e1)]);
    }
    let backbone_mask: Array1<f64> =
        (0..r).map(|i| mask[(i, n)] * mask[(i, ca)] * mask[(i, c)]).collect();
    let backbone_mask_2d = Array2::from_shape_fn((r, r), |(i, j)| {
        backbone_mask[i] * backbone_mask[j] * same_chain[(i, j)]
    });
    let mut unit_vectors = [Array2::zeros((r, r)), Array2::zeros((r, r)), Array2::zeros((r, r))];
    for i in 0..r {
        let origin = atom(i, ca);
        let minus_origin = [-origin[0], -origin[1], -origin[2]];
        // The inverse frame applied as AlphaFold does: R⁻¹·p + R⁻¹·(−t).
        let shift = axes[i].map(|axis| dot(axis, minus_origin));
        for j in 0..r {
            let point = atom(j, ca);
            let local: Vec3 = std::array::from_fn(|k| dot(axes[i][k], point) + shift[k]);
            let unit = normalized(local);
            for k in 0..3 {
                unit_vectors[k][(i, j)] = unit[k] * backbone_mask_2d[(i, j)];
            }
        }
    }
    MultimerTemplatePairFeatures {
        distogram,
        pseudo_beta_mask_2d,
        aatype_one_hot,
        unit_vectors,
        backbone_mask_2d,
    }
}

#[derive(Module, Debug)]
pub struct MultimerTemplateEmbedding<B: Backend> {
    /// AlphaFold's `template_pair_embedding_0` … `_8`: distogram, pseudo-beta mask, residue type
    /// of j, residue type of i, unit vector x, y, z, backbone mask, query pair.
    pub pair_embeddings: Vec<Linear<B>>,
    pub query_embedding_norm: LayerNorm<B>,
    pub template_stack: Vec<TemplatePairBlock<B>>,
    pub output_layer_norm: LayerNorm<B>,
    pub output_linear: Linear<B>,
}

impl<B: Backend> MultimerTemplateEmbedding<B> {
    /// In the builder's scope `template_embedding`; `channels` is the template pair width.
    pub fn new(
        builder: &mut ParamBuilder<B>,
        config: &TemplateConfig,
        channels: usize,
        pair_channels: usize,
        dropout: &crate::config::DropoutConfig,
    ) -> Self {
        let c = channels;
        let bins = config.dgram_features.num_bins;
        builder.scope("template_embedding", |b| {
            let (pair_embeddings, query_embedding_norm, template_stack, output_layer_norm) = b
                .scope("single_template_embedding", |b| {
                    let name = |i: usize| format!("template_pair_embedding_{i}");
                    let relu = LinearInit::Relu;
                    let pair_embeddings = vec![
                        Linear::new(b, &name(0), bins, c, relu),
                        Linear::of_scalar(b, &name(1), c, relu),
                        Linear::new(b, &name(2), TEMPLATE_AATYPES, c, relu),
                        Linear::new(b, &name(3), TEMPLATE_AATYPES, c, relu),
                        Linear::of_scalar(b, &name(4), c, relu),
                        Linear::of_scalar(b, &name(5), c, relu),
                        Linear::of_scalar(b, &name(6), c, relu),
                        Linear::of_scalar(b, &name(7), c, relu),
                        Linear::new(b, &name(8), pair_channels, c, relu),
                    ];
                    let query_embedding_norm =
                        LayerNorm::new(b, "query_embedding_norm", pair_channels);
                    let stack = b.stacked(
                        "template_embedding_iteration",
                        config.template_pair_stack.num_block,
                        |b| TemplatePairBlock::new(b, &config.template_pair_stack, dropout),
                    );
                    let norm = LayerNorm::new(b, "output_layer_norm", c);
                    (pair_embeddings, query_embedding_norm, stack, norm)
                });
            let output_linear = Linear::new(b, "output_linear", c, pair_channels, LinearInit::Relu);
            Self {
                pair_embeddings,
                query_embedding_norm,
                template_stack,
                output_layer_norm,
                output_linear,
            }
        })
    }

    /// The templates' contribution to the pair representation `query` [r, r, c_z];
    /// `pair_mask` [r, r] masks padding residues.
    pub fn forward(
        &self,
        query: Tensor<B, 3>,
        templates: &[MultimerTemplatePairFeatures],
        pair_mask: Tensor<B, 2>,
        context: &StageContext,
    ) -> Tensor<B, 3> {
        let device = query.device();
        let [r, _, _] = query.dims();
        let query = self.query_embedding_norm.forward(query);
        let tensor2 = |a: &Array2<f64>| {
            host_tensor::<B, 3>(
                a.clone().into_shape_with_order((r, r, 1)).expect("[r, r]").into_dyn(),
                &device,
            )
        };
        let mut sum: Option<Tensor<B, 3>> = None;
        for t in templates {
            let e = &self.pair_embeddings;
            let aatype = host_tensor::<B, 2>(t.aatype_one_hot.clone().into_dyn(), &device);
            let mut act =
                e[0].forward(host_tensor::<B, 3>(t.distogram.clone().into_dyn(), &device));
            act = act + e[1].forward(tensor2(&t.pseudo_beta_mask_2d));
            act = act + e[2].forward(aatype.clone()).unsqueeze_dim::<3>(0);
            act = act + e[3].forward(aatype).unsqueeze_dim::<3>(1);
            for (k, unit) in t.unit_vectors.iter().enumerate() {
                act = act + e[4 + k].forward(tensor2(unit));
            }
            act = act + e[7].forward(tensor2(&t.backbone_mask_2d));
            act = act + e[8].forward(query.clone());
            for block in &self.template_stack {
                act = block.forward(act, pair_mask.clone(), context);
            }
            let act = self.output_layer_norm.forward(act);
            sum = Some(match sum {
                Some(sum) => sum + act,
                None => act,
            });
        }
        let c = self.output_layer_norm_width();
        let mean = match sum {
            Some(sum) => sum / templates.len() as f64,
            None => Tensor::zeros([r, r, c], &device),
        };
        self.output_linear.forward(relu(mean))
    }

    fn output_layer_norm_width(&self) -> usize {
        self.output_linear.weights.dims()[0]
    }
}

/// Width of a template residue's single features: residue type (22), sin and cos of the four chi
/// angles, their masks.
pub const TEMPLATE_SINGLE_FEATURES: usize = TEMPLATE_AATYPES + 12;

/// AlphaFold-Multimer's per-residue template features (`template_embedding_1d`'s input) of one
/// template, [r, 34], and the residues' mask (chi 1 computable), \[r\]: `aatype` \[r\] (21 = gap),
/// atom37 `positions` [r, 37, 3] and `mask` [r, 37].
pub fn multimer_template_single_features(
    aatype: ArrayView1<i32>,
    positions: ArrayView3<f64>,
    mask: ArrayView2<f64>,
) -> (Array2<f64>, Array1<f64>) {
    use ferrofold_features::residue_constants::{chi_angles_mask, derived};
    let r = aatype.len();
    let chi_atoms = &derived().chi_angles_atom_indices;
    let chi_masks = chi_angles_mask();
    let mut features = Array2::zeros((r, TEMPLATE_SINGLE_FEATURES));
    let mut residue_mask = Array1::zeros(r);
    let atom = |i: usize, a: usize| -> Vec3 {
        [positions[(i, a, 0)], positions[(i, a, 1)], positions[(i, a, 2)]]
    };
    for i in 0..r {
        // Types beyond the table (the gap) read as unknown: no chi angles (DeepMind's gathers
        // clip the index).
        let restype = usize::try_from(aatype[i]).unwrap_or(0).min(20);
        if let Ok(class) = usize::try_from(aatype[i]) {
            if class < TEMPLATE_AATYPES {
                features[(i, class)] = 1.0;
            }
        }
        for chi in 0..4 {
            let (atoms, exists) = if restype < 20 {
                (chi_atoms[restype][chi], f64::from(chi_masks[restype][chi]))
            } else {
                ([0; 4], 0.0)
            };
            let present: f64 = atoms.iter().map(|&a| mask[(i, a)]).product();
            let chi_mask = exists * present;
            let angle = dihedral(
                atom(i, atoms[0]),
                atom(i, atoms[1]),
                atom(i, atoms[2]),
                atom(i, atoms[3]),
            );
            features[(i, TEMPLATE_AATYPES + chi)] = angle.sin() * chi_mask;
            features[(i, TEMPLATE_AATYPES + 4 + chi)] = angle.cos() * chi_mask;
            features[(i, TEMPLATE_AATYPES + 8 + chi)] = chi_mask;
            if chi == 0 {
                residue_mask[i] = chi_mask;
            }
        }
    }
    (features, residue_mask)
}

/// The dihedral angle of four points, as AlphaFold's `geometry.dihedral_angle`.
fn dihedral(a: Vec3, b: Vec3, c: Vec3, d: Vec3) -> f64 {
    let (v1, v2, v3) = (sub(a, b), sub(b, c), sub(d, c));
    let c1 = cross(v1, v2);
    let c2 = cross(v3, v2);
    let c3 = cross(c2, c1);
    let v2_norm = dot(v2, v2).max(NORM_EPSILON * NORM_EPSILON).sqrt();
    dot(c3, v2).atan2(v2_norm * dot(c1, c2))
}

/// The templates' per-residue embedding (`template_embedding_1d`): features [t, r, 34] →
/// [t, r, c_m], appended to the MSA as extra rows.
#[derive(Module, Debug)]
pub struct MultimerTemplateSingleEmbedding<B: Backend> {
    pub template_single_embedding: Linear<B>,
    pub template_projection: Linear<B>,
}

impl<B: Backend> MultimerTemplateSingleEmbedding<B> {
    /// In the builder's current scope (AlphaFold's `evoformer`).
    pub fn new(builder: &mut ParamBuilder<B>, msa_channels: usize) -> Self {
        Self {
            template_single_embedding: Linear::new(
                builder,
                "template_single_embedding",
                TEMPLATE_SINGLE_FEATURES,
                msa_channels,
                LinearInit::Relu,
            ),
            template_projection: Linear::new(
                builder,
                "template_projection",
                msa_channels,
                msa_channels,
                LinearInit::Relu,
            ),
        }
    }

    pub fn forward(&self, features: Tensor<B, 3>) -> Tensor<B, 3> {
        self.template_projection.forward(relu(self.template_single_embedding.forward(features)))
    }
}
