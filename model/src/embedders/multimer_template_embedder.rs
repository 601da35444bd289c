//! AlphaFold-Multimer's template embedder (Evans et al. 2021; DeepMind's v2.3.2
//! `modules_multimer.TemplateEmbedding`): each template's pair features — distogram, residue
//! types, backbone-frame unit vectors and their masks, all limited to pairs within one chain —
//! each through its own linear layer, plus the layer-normed query pair; then the template stack
//! (triangle multiplications first) and a layer norm. The templates' embeddings are averaged over
//! all template slots (empty ones included, as DeepMind's), then ReLU and a linear layer.

use burn::prelude::*;
use burn::tensor::activation::relu;
use ndarray::Array2;

use crate::batch::{MultimerTemplatePairFeatures, TEMPLATE_AATYPES, TEMPLATE_SINGLE_FEATURES};
use crate::config::TemplateConfig;
use crate::evoformer::TemplatePairBlock;
use crate::host::host_tensor;
use crate::params::ParamBuilder;
use crate::plan::StageContext;
use crate::primitives::{LayerNorm, Linear, LinearInit};

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
