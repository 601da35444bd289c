#!/usr/bin/env python3
"""Per-block fixtures of AlphaFold-Multimer's own blocks, from DeepMind's v2.3.2 modules.

Blocks (haiku modules run alone, `model_1_multimer_v3`'s configuration at reduced widths, on
seeded random inputs with masked positions, parameters random — none zero; float64 with
`utils.stable_softmax` let through float64, which v2.3.2 refuses):
  triangle_multiplication_{outgoing,incoming}  fused projection weights (v2.3's `projection`,
                                               `gate`, `left_norm_input`, `center_norm`)
  evoformer_iteration                          the multimer block: outer product mean first
  relative_encoding                            `EmbeddingsAndEvoformer._relative_encoding`:
                                               residue offsets within a chain, same entity,
                                               relative symmetry ids (clipped)
  template_embedding                           the multimer template embedder (pair features
                                               per template, each through its own linear
                                               layer; the template stack in its order), with
                                               an empty padding slot among the templates;
                                               float32 only (v2.3.2's geometry arrays refuse
                                               float64); its loop over templates runs as a
                                               Python loop, not hk.scan (see below)
  template_single_embedding                    `template_embedding_1d`: residue types and chi
                                               angles (all_atom_multimer.compute_chi_angles)
                                               of each template, float32 only
  invariant_point_attention                    the multimer IPA (folding_multimer: points
                                               projected per head, frames as rotation
                                               matrices), float32 only
  structure_module                             the multimer structure module (2 layers,
                                               QuatRigid frame updates, side chains, atom37
                                               positions), float32 only
  msa_features                                 the MSA features the network computes each
                                               recycle (profile, sampled cluster centres
                                               with BERT masking, nearest-neighbour cluster
                                               profiles, msa_feat, extra_msa_feat) from the
                                               three_chains merged features (rows and
                                               residues cut to keep the fixture small)
  confidence                                   pTM and ipTM (`confidence.predicted_tm_score`,
                                               NumPy, float64) of random PAE logits, 3 chains

Writes tests/fixtures/reference/multimer_blocks_<precision>.npz ('<block>/<name>' inputs and
outputs) and, from the float32 run, multimer_block_params.npz (AlphaFold's
'<module path>//<name>' keys; float32 values, which the float64 run casts up and checks).

DeepMind's source: AlphaFold v2.3.2 (git tag v2.3.2 of google-deepmind/alphafold) unpacked into
tools/reference/af232/ (setup.sh). bfloat16 is switched off (it is on in the multimer config).

Run (after setup.sh):
  venv/bin/python tools/reference/make_multimer_block_fixtures.py --precision f32
  venv/bin/python tools/reference/make_multimer_block_fixtures.py --precision f64
"""
import argparse
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, 'af232'))

parser = argparse.ArgumentParser()
parser.add_argument('--precision', choices=['f32', 'f64'], required=True)
args = parser.parse_args()

import jax  # noqa: E402
if args.precision == 'f64':
  jax.config.update('jax_enable_x64', True)
jax.config.update('jax_default_matmul_precision', 'highest')
import haiku as hk  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from alphafold.model import config as af_config  # noqa: E402
from alphafold.model import folding_multimer, geometry, modules, modules_multimer, utils  # noqa: E402,E501

if args.precision == 'f64':
  # v2.3.2's stable_softmax accepts float32 and bfloat16 only; float64 gets the same softmax.
  _stable_softmax = utils.stable_softmax
  utils.stable_softmax = lambda logits: (
      jax.nn.softmax(logits) if logits.dtype == np.float64 else _stable_softmax(logits))

ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'reference')
DTYPE = np.float32 if args.precision == 'f32' else np.float64

model_config = af_config.model_config('model_1_multimer_v3').model
gc = model_config.global_config
gc.bfloat16 = False
emb = model_config.embeddings_and_evoformer
evo = emb.evoformer
assert evo.outer_product_mean.first and evo.triangle_multiplication_outgoing.fuse_projection_weights
# Reduced widths (the blocks take their channels from the inputs and these settings).
for name in ('msa_row_attention_with_pair_bias', 'msa_column_attention',
             'triangle_attention_starting_node', 'triangle_attention_ending_node'):
  evo[name].num_head = 2
evo.outer_product_mean.num_outer_channel = 4
evo.triangle_multiplication_outgoing.num_intermediate_channel = 6
evo.triangle_multiplication_incoming.num_intermediate_channel = 6
emb.pair_channel = 8

S, R, C_M, C_Z = 5, 9, 16, 8
rng = np.random.RandomState(0)
params_rng = np.random.RandomState(1)
out = {}
params = {}


def normal(*shape, scale=1.0):
  return (rng.normal(size=shape) * scale).astype(DTYPE)


def mask(*shape):
  return (rng.uniform(size=shape) > 0.2).astype(DTYPE)


def run(block, fn, **inputs):
  transformed = hk.transform(fn)
  shapes = transformed.init(jax.random.PRNGKey(0), **inputs)
  # Random values for every parameter (AlphaFold's final-layer initialisers give zeros).
  block_params = {}
  for module, names in sorted(shapes.items()):
    block_params[module] = {}
    for name, value in sorted(names.items()):
      values = (params_rng.normal(size=value.shape) * 0.5).astype(np.float32)
      if name == 'scale':
        values += 1.0
      params[f'{module}//{name}'] = values
      block_params[module][name] = values.astype(DTYPE)
  result = transformed.apply(block_params, jax.random.PRNGKey(0), **inputs)
  for k, v in inputs.items():
    out[f'{block}/{k}'] = np.asarray(v)
  if isinstance(result, dict):
    for k, v in result.items():
      out[f'{block}/output_{k}'] = np.asarray(v)
  else:
    out[f'{block}/output'] = np.asarray(result)


msa, msa_mask, pair, pair_mask = normal(S, R, C_M), mask(S, R), normal(R, R, C_Z), mask(R, R)

for name in ('triangle_multiplication_outgoing', 'triangle_multiplication_incoming'):
  run(name,
      lambda pair, pair_mask, name=name: modules.TriangleMultiplication(evo[name], gc, name=name)(
          pair, pair_mask, is_training=False),
      pair=pair, pair_mask=pair_mask)

run('evoformer_iteration',
    lambda msa, msa_mask, pair, pair_mask: modules.EvoformerIteration(
        evo, gc, is_extra_msa=False, name='evoformer_iteration')(
            {'msa': msa, 'pair': pair}, {'msa': msa_mask, 'pair': pair_mask}, is_training=False),
    msa=msa, msa_mask=msa_mask, pair=pair, pair_mask=pair_mask)

# Chains: an entity with four copies (relative symmetry ids beyond the clip of 2), and a second
# entity; residue numbers with gaps beyond the clip of 32.
chains = [(1, 1, [0, 1, 40]), (1, 2, [0, 1, 40]), (1, 3, [0, 1, 40]), (1, 4, [0, 1, 40]),
          (2, 1, [3, 4, 5, 80])]
residue_index = np.concatenate([np.array(r) for _, _, r in chains]).astype(np.int32)
asym_id = np.concatenate([[k + 1] * len(r) for k, (_, _, r) in enumerate(chains)]).astype(DTYPE)
entity_id = np.concatenate([[e] * len(r) for e, _, r in chains]).astype(DTYPE)
sym_id = np.concatenate([[s] * len(r) for _, s, r in chains]).astype(DTYPE)


def relative_encoding(residue_index, asym_id, entity_id, sym_id):
  module = modules_multimer.EmbeddingsAndEvoformer(emb, gc, name='evoformer')
  return module._relative_encoding({'residue_index': residue_index, 'asym_id': asym_id,
                                    'entity_id': entity_id, 'sym_id': sym_id})


run('relative_encoding', relative_encoding, residue_index=residue_index, asym_id=asym_id,
    entity_id=entity_id, sym_id=sym_id)

tmpl = emb.template
tmpl.num_channels = 8
for name in ('triangle_attention_starting_node', 'triangle_attention_ending_node'):
  tmpl.template_pair_stack[name].num_head = 2
for name in ('triangle_multiplication_outgoing', 'triangle_multiplication_incoming'):
  tmpl.template_pair_stack[name].num_intermediate_channel = 6
T = 3
template_aatype = rng.randint(0, 22, size=(T, R)).astype(np.int32)
template_aatype[:, 1] = 7  # glycine: its pseudo-beta is CA
template_positions = normal(T, R, 37, 3, scale=12.0)
template_mask = (rng.uniform(size=(T, R, 37)) > 0.15).astype(DTYPE)
# The last slot is empty, as AlphaFold pads a chain's templates to four.
template_aatype[-1], template_positions[-1], template_mask[-1] = 0, 0.0, 0.0
seq_mask = np.ones(R, DTYPE)
seq_mask[-1] = 0
chain = np.array([0] * 5 + [1] * (R - 5))


def eager_scan(fn, init, xs):
  """hk.scan as a Python loop. Under hk.scan XLA compiles the loop body and contracts
  multiply-adds, so a residue's unit vector to its own CA, R⁻¹·t + R⁻¹·(−t), is rounding noise
  instead of 0, and the 1e-6 clip of `normalized` blows it up to as much as ±1 (measured here:
  0.998; the whole block's output then moves by 5e-2). Evaluated op by op, as here, it is 0, as
  in ferrofold."""
  carry = init
  for i in range(jax.tree_util.tree_leaves(xs)[0].shape[0]):
    carry, _ = fn(carry, jax.tree_util.tree_map(lambda x, i=i: x[i], xs))
  return carry, None


def template_embedding(query_embedding, template_aatype, template_all_atom_positions,
                       template_all_atom_mask, padding_mask_2d, multichain_mask_2d):
  module = modules_multimer.TemplateEmbedding(tmpl, gc, name='template_embedding')
  # Only modules_multimer's loop over templates: layer_stack keeps hk.scan.
  eager_hk = types.ModuleType('haiku_with_eager_scan')
  eager_hk.__dict__.update(hk.__dict__)
  eager_hk.scan = eager_scan
  modules_multimer.hk = eager_hk
  try:
    return module(query_embedding,
                  {'template_aatype': template_aatype,
                   'template_all_atom_positions': template_all_atom_positions,
                   'template_all_atom_mask': template_all_atom_mask},
                  padding_mask_2d, multichain_mask_2d, is_training=False)
  finally:
    modules_multimer.hk = hk


if args.precision == 'f32':
  run('template_embedding', template_embedding, query_embedding=normal(R, R, C_Z),
      template_aatype=template_aatype, template_all_atom_positions=template_positions,
      template_all_atom_mask=template_mask,
      padding_mask_2d=(seq_mask[:, None] * seq_mask[None, :]).astype(DTYPE),
      multichain_mask_2d=(chain[:, None] == chain[None, :]).astype(DTYPE))

  class TemplateSingle(hk.Module):
    """template_embedding_1d's layers, named as inside EmbeddingsAndEvoformer."""

    def __init__(self):
      super().__init__(name='evoformer')

    def __call__(self, template_aatype, template_all_atom_positions, template_all_atom_mask):
      activations, mask = modules_multimer.template_embedding_1d(
          {'template_aatype': template_aatype,
           'template_all_atom_positions': template_all_atom_positions,
           'template_all_atom_mask': template_all_atom_mask}, C_M, gc)
      return {'activations': activations, 'mask': mask}

  run('template_single_embedding', lambda **inputs: TemplateSingle()(**inputs),
      template_aatype=template_aatype, template_all_atom_positions=template_positions,
      template_all_atom_mask=template_mask)

  sm = model_config.heads.structure_module
  sm.num_head, sm.num_scalar_qk, sm.num_point_qk = 2, 4, 3
  sm.num_scalar_v, sm.num_point_v, sm.num_channel = 4, 5, 12
  quaternion = rng.normal(size=(R, 4))
  quaternion /= np.linalg.norm(quaternion, axis=-1, keepdims=True)
  w, x, y, z = quaternion.T
  rotation = np.stack([
      w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y),
      2 * (x * y + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x),
      2 * (x * z - w * y), 2 * (y * z + w * x), w * w - x * x - y * y + z * z,
  ], axis=-1).reshape(R, 3, 3).astype(DTYPE)
  ipa_mask = mask(R, 1)

  def invariant_point_attention(single, pair, mask, rotation, translation):
    rigid = geometry.Rigid3Array(geometry.Rot3Array.from_array(rotation),
                                 geometry.Vec3Array.from_array(translation))
    return folding_multimer.InvariantPointAttention(sm, gc)(single, pair, mask, rigid)

  run('invariant_point_attention', invariant_point_attention, single=normal(R, 12),
      pair=normal(R, R, C_Z), mask=ipa_mask, rotation=rotation,
      translation=normal(R, 3, scale=5.0))

  sm.num_layer = 2
  sm.sidechain.num_channel = 8
  structure_aatype = rng.randint(0, 21, size=R).astype(np.int32)
  structure_seq_mask = np.ones(R, DTYPE)
  structure_seq_mask[3] = 0

  def structure_module(single, pair, aatype, seq_mask):
    ret = folding_multimer.StructureModule(sm, gc)(
        {'single': single, 'pair': pair}, {'aatype': aatype, 'seq_mask': seq_mask},
        is_training=False, compute_loss=True)
    names = ('traj', 'final_atom14_positions', 'final_atom_positions', 'final_atom_mask', 'act')
    return {k: ret[k] for k in names}

  run('structure_module', structure_module, single=normal(R, 12), pair=normal(R, R, C_Z),
      aatype=structure_aatype, seq_mask=structure_seq_mask)

  from alphafold.common import confidence  # noqa: E402
  num_bins, max_error_bin = 64, 31.0
  logits = rng.normal(size=(11, 11, num_bins)) * 3.0
  asym_id = np.array([1] * 4 + [2] * 4 + [3] * 3)
  breaks = np.linspace(0.0, max_error_bin, num_bins - 1)
  out['confidence/logits'] = logits
  out['confidence/asym_id'] = asym_id.astype(np.int32)
  out['confidence/ptm'] = confidence.predicted_tm_score(logits, breaks)
  out['confidence/iptm'] = confidence.predicted_tm_score(
      logits, breaks, asym_id=asym_id, interface=True)

if args.precision == 'f32':
  from alphafold.model import prng  # noqa: E402
  merged = np.load(os.path.join(OUT, 'multimer', 'three_chains.npz'))
  rows, cols = int(merged['num_alignments']), 100
  batch = {k: jnp.asarray(merged[k][:rows, :cols])
           for k in ('msa', 'deletion_matrix', 'msa_mask', 'bert_mask')}
  batch['cluster_bias_mask'] = jnp.asarray(merged['cluster_bias_mask'][:rows])
  for k, v in batch.items():
    out[f'msa_features/input_{k}'] = np.asarray(v)
  batch['msa_profile'] = modules_multimer.make_msa_profile(batch)
  out['msa_features/msa_profile'] = np.asarray(batch['msa_profile'])
  key, sample_key, mask_key = prng.SafeKey(jax.random.PRNGKey(3)).split(3)
  batch = modules_multimer.sample_msa(sample_key, batch, 24)
  batch = modules_multimer.make_masked_msa(batch, mask_key, model_config.embeddings_and_evoformer.masked_msa)
  for k in ('msa', 'deletion_matrix', 'msa_mask', 'bert_mask', 'extra_msa', 'extra_deletion_matrix',
            'extra_msa_mask'):
    out[f'msa_features/sampled_{k}'] = np.asarray(batch[k])
  profile, deletion_mean = modules_multimer.nearest_neighbor_clusters(batch)
  batch['cluster_profile'], batch['cluster_deletion_mean'] = profile, deletion_mean
  out['msa_features/cluster_profile'] = np.asarray(profile)
  out['msa_features/cluster_deletion_mean'] = np.asarray(deletion_mean)
  out['msa_features/msa_feat'] = np.asarray(modules_multimer.create_msa_feat(batch))
  extra_feat, extra_mask = modules_multimer.create_extra_msa_feature(batch, 100)
  out['msa_features/extra_msa_feat'] = np.asarray(extra_feat)

np.savez_compressed(os.path.join(OUT, f'multimer_blocks_{args.precision}.npz'), **out)
params_path = os.path.join(OUT, 'multimer_block_params.npz')
if args.precision == 'f32':
  np.savez_compressed(params_path, **params)
else:
  stored = np.load(params_path)
  for key, value in params.items():
    assert np.array_equal(stored[key], value), key + ': run the float32 generation first'
print(f'wrote {len(out)} arrays, {len(params)} parameters')
