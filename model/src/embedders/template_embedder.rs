//! Template embedder: each template's pair features through the template pair stack, combined by
//! point-wise attention from the query's pair (Jumper et al. 2021, Suppl. Alg. 16 and 17); and
//! the template torsion angles as extra MSA rows (Suppl. Sec. 1.7.1).

use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::batch::TemplateInputs;
use crate::config::ModelConfig;
use crate::evoformer::msa_row_attention_with_pair_bias::mask_bias;
use crate::evoformer::TemplatePairBlock;
use crate::params::ParamBuilder;
use crate::plan::StageContext;
use crate::primitives::Chunking;
use crate::primitives::{bool_to_float, Attention, LayerNorm, Linear, LinearInit};

/// Number of template pair features (distogram, masks, residue types, unit vectors).
pub const TEMPLATE_PAIR_FEATURES: usize = 88;
/// Number of template torsion features (residue type, torsions, alternatives, masks).
pub const TEMPLATE_TORSION_FEATURES: usize = 57;

#[derive(Module, Debug)]
pub struct TemplateEmbedding<B: Backend> {
    pub embedding2d: Linear<B>,
    pub template_pair_stack: Vec<TemplatePairBlock<B>>,
    pub output_layer_norm: LayerNorm<B>,
    pub attention: Attention<B>,
}

impl<B: Backend> TemplateEmbedding<B> {
    pub fn new(builder: &mut ParamBuilder<B>, config: &ModelConfig) -> Self {
        let t = &config.template;
        let c_t = t.template_pair_stack.channels();
        builder.scope("template_embedding", |b| {
            let (embedding2d, template_pair_stack, output_layer_norm) =
                b.scope("single_template_embedding", |b| {
                    let embedding2d = Linear::new(
                        b,
                        "embedding2d",
                        TEMPLATE_PAIR_FEATURES,
                        c_t,
                        LinearInit::Relu,
                    );
                    let stack = b.scope("template_pair_stack", |b| {
                        b.stacked("__layer_stack_no_state", t.template_pair_stack.num_block, |b| {
                            TemplatePairBlock::new(b, &t.template_pair_stack, &config.dropout)
                        })
                    });
                    (embedding2d, stack, LayerNorm::new(b, "output_layer_norm", c_t))
                });
            let attention =
                Attention::new(b, &t.attention, config.pair_channel, c_t, config.pair_channel);
            Self { embedding2d, template_pair_stack, output_layer_norm, attention }
        })
    }

    /// One template's pair features [r, r, 88] → its embedding [r, r, c_t].
    pub fn single_template(
        &self,
        features: Tensor<B, 3>,
        pair_mask: Tensor<B, 2>,
        context: &StageContext,
    ) -> Tensor<B, 3> {
        let mut act = self.embedding2d.forward(features);
        for block in &self.template_pair_stack {
            act = block.forward(act, pair_mask.clone(), context);
        }
        self.output_layer_norm.forward(act)
    }

    /// The template update to the pair representation `pair` [r, r, c_z].
    pub fn forward(
        &self,
        pair: Tensor<B, 3>,
        templates: &TemplateInputs<B>,
        pair_mask: Tensor<B, 2>,
        context: &StageContext,
    ) -> Tensor<B, 3> {
        let chunking = context.chunking;
        let [r, _, c_z] = pair.dims();
        let t = templates.template_mask.dims()[0];
        let embedded: Vec<Tensor<B, 3>> = (0..t)
            .map(|k| {
                let features = templates.pair_features.clone().narrow(0, k, 1).squeeze_dim::<3>(0);
                self.single_template(features, pair_mask.clone(), context)
            })
            .collect();
        let c_t = embedded[0].dims()[2];
        // [t, r, r, c_t] -> [r·r, t, c_t]: each residue pair attends over the templates.
        let memory = Tensor::stack::<4>(embedded, 0).permute([1, 2, 0, 3]).reshape([r * r, t, c_t]);
        let query = pair.reshape([r * r, 1, c_z]);
        let bias = mask_bias(templates.template_mask.clone().unsqueeze_dim::<2>(0));
        let out = self
            .attention
            .forward(
                query,
                memory,
                bias,
                None,
                Chunking { rows: chunking.rows.map(|c| c * r), ..chunking },
            )
            .reshape([r, r, c_z]);
        // No template at all: no update.
        let any = bool_to_float(templates.template_mask.clone().sum().greater_elem(0.0));
        out * any.reshape([1, 1, 1])
    }
}

/// Template torsion angles into MSA rows: two ReLU layers.
#[derive(Module, Debug)]
pub struct TemplateTorsionEmbedding<B: Backend> {
    pub template_single_embedding: Linear<B>,
    pub template_projection: Linear<B>,
}

impl<B: Backend> TemplateTorsionEmbedding<B> {
    pub fn new(b: &mut ParamBuilder<B>, config: &ModelConfig) -> Self {
        let m = config.msa_channel;
        Self {
            template_single_embedding: Linear::new(
                b,
                "template_single_embedding",
                TEMPLATE_TORSION_FEATURES,
                m,
                LinearInit::Relu,
            ),
            template_projection: Linear::new(b, "template_projection", m, m, LinearInit::Relu),
        }
    }

    /// [t, r, 57] → [t, r, c_m]
    pub fn forward(&self, torsion_features: Tensor<B, 3>) -> Tensor<B, 3> {
        self.template_projection
            .forward(relu(self.template_single_embedding.forward(torsion_features)))
    }
}
