//! Embedders: everything that turns features (and the previous iteration) into the trunk's
//! MSA and pair representations.

pub mod input_embedder;
pub mod multimer_template_embedder;
pub mod recycling_embedder;
pub mod template_embedder;

pub use input_embedder::InputEmbedder;
pub use multimer_template_embedder::MultimerTemplateEmbedding;
pub use recycling_embedder::{Recycled, RecyclingEmbedder};
pub use template_embedder::{TemplateEmbedding, TemplateTorsionEmbedding};
