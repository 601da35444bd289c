//! Random model inputs of any size, for benchmarks that time the network rather than check it.

use ferrofold_features::FeatureDict;
use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};

/// A random processed batch in the model's input format: `residues` residues, `msa` MSA rows,
/// `extra` extra-MSA rows, `templates` templates, `iterations` recycling iterations (the
/// leading axis). Fixed seed: the same sizes give the same batch.
pub fn synthetic_features(
    residues: usize,
    msa: usize,
    extra: usize,
    templates: usize,
    iterations: usize,
) -> FeatureDict {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut dict = FeatureDict::default();
    let (n, r, s, e, t) = (iterations, residues, msa, extra, templates);
    let mut float = |shape: &[usize], f: &mut dyn FnMut(&mut rand_chacha::ChaCha8Rng) -> f32| {
        ArrayD::from_shape_simple_fn(IxDyn(shape), || f(&mut rng))
    };
    let one = &mut |_: &mut rand_chacha::ChaCha8Rng| 1.0;
    let zero = &mut |_: &mut rand_chacha::ChaCha8Rng| 0.0;
    let unit = &mut |rng: &mut rand_chacha::ChaCha8Rng| rng.random::<f32>();
    let coordinate = &mut |rng: &mut rand_chacha::ChaCha8Rng| rng.random::<f32>() * 30.0;
    dict.insert("msa_feat", float(&[n, s, r, 49], unit));
    dict.insert("seq_mask", float(&[n, r], one));
    dict.insert("msa_mask", float(&[n, s, r], one));
    dict.insert("extra_has_deletion", float(&[n, e, r], zero));
    dict.insert("extra_deletion_value", float(&[n, e, r], zero));
    dict.insert("extra_msa_mask", float(&[n, e, r], one));
    dict.insert("template_all_atom_positions", float(&[n, t, r, 37, 3], coordinate));
    dict.insert("template_all_atom_masks", float(&[n, t, r, 37], one));
    dict.insert("template_mask", float(&[n, t], one));
    dict.insert("template_pseudo_beta", float(&[n, t, r, 3], coordinate));
    dict.insert("template_pseudo_beta_mask", float(&[n, t, r], one));
    let aatype: Vec<i32> = (0..r).map(|_| rng.random_range(0..20)).collect();
    dict.insert("aatype", ArrayD::from_shape_fn(IxDyn(&[n, r]), |i| aatype[i[1]]));
    dict.insert("residue_index", ArrayD::from_shape_fn(IxDyn(&[n, r]), |i| i[1] as i32));
    dict.insert(
        "target_feat",
        ArrayD::from_shape_fn(IxDyn(&[n, r, 22]), |i| f32::from(aatype[i[1]] as usize + 1 == i[2])),
    );
    dict.insert(
        "extra_msa",
        ArrayD::from_shape_simple_fn(IxDyn(&[n, e, r]), || rng.random_range(0..22)),
    );
    dict.insert("template_aatype", ArrayD::from_shape_fn(IxDyn(&[n, t, r]), |i| aatype[i[2]]));
    dict
}
