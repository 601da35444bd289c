#!/usr/bin/env python3
"""Per-block fixtures for ferrofold's model parity tests, from DeepMind's own modules.

Each Evoformer sub-block (and the Evoformer block, the extra-MSA global column attention and
invariant point attention) is run alone with haiku, with the `reduced` parameters of
tests/fixtures/reference/reduced_s0/params_reduced.npz (block 0 of each stack) on seeded random
inputs (masks with zeros), as OpenFold's tests/test_<module>.py do. Writes
tests/fixtures/reference/blocks_<precision>.npz with keys '<block>/<input or output name>'.

Run (after setup.sh):
  venv/bin/python tools/reference/make_block_fixtures.py --precision f32
  venv/bin/python tools/reference/make_block_fixtures.py --precision f64
float64 runs the same modules with jax_enable_x64 and float64 parameters and inputs.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import af2compat  # noqa: E402,F401  (before any alphafold import)

parser = argparse.ArgumentParser()
parser.add_argument('--precision', choices=['f32', 'f64'], required=True)
args = parser.parse_args()

import jax  # noqa: E402
if args.precision == 'f64':
  jax.config.update('jax_enable_x64', True)
jax.config.update('jax_default_matmul_precision', 'highest')
import haiku as hk  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402

from alphafold.model import folding, modules, quat_affine  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
CASE = os.path.join(ROOT, 'tests', 'fixtures', 'reference', 'reduced_s0')
DTYPE = np.float32 if args.precision == 'f32' else np.float64

config = ml_collections.ConfigDict(json.load(open(os.path.join(CASE, 'meta.json')))['config']['model'])
gc = config.global_config
evo = config.embeddings_and_evoformer.evoformer
all_params = dict(np.load(os.path.join(CASE, 'params_reduced.npz')))
rng = np.random.RandomState(0)
out = {}

S, R, E = 6, 10, 5  # MSA rows, residues, extra-MSA rows
C_M, C_Z, C_E, C_S = 16, 8, 8, 32


def params_under(prefix, stacked):
  """haiku params for a module run at top level, from the file's keys under `prefix`."""
  tree = {}
  for key, value in all_params.items():
    if not key.startswith(prefix + '/'):
      continue
    if isinstance(stacked, str) and not key.startswith(f'{prefix}/{stacked}/'):
      continue
    module, name = key[len(prefix) + 1:].split('//')
    tree.setdefault(module, {})[name] = np.asarray(value[0] if stacked else value, DTYPE)
  return tree


def normal(*shape, scale=1.0):
  return (rng.normal(size=shape) * scale).astype(DTYPE)


def mask(*shape):
  m = (rng.uniform(size=shape) > 0.2).astype(DTYPE)
  return m


def run(block, prefix, stacked, fn, **inputs):
  transformed = hk.transform(fn)
  result = transformed.apply(params_under(prefix, stacked), jax.random.PRNGKey(0), **inputs)
  for k, v in inputs.items():
    out[f'{block}/{k}'] = np.asarray(v)
  if isinstance(result, dict):
    for k, v in result.items():
      out[f'{block}/output_{k}'] = np.asarray(v)
  else:
    out[f'{block}/output'] = np.asarray(result)


EVO = 'alphafold/alphafold_iteration/evoformer/evoformer_iteration'
EXTRA = 'alphafold/alphafold_iteration/evoformer/extra_msa_stack'
msa, msa_mask, pair, pair_mask = normal(S, R, C_M), mask(S, R), normal(R, R, C_Z), mask(R, R)

run('msa_row_attention_with_pair_bias', EVO, True,
    lambda msa, msa_mask, pair: modules.MSARowAttentionWithPairBias(evo.msa_row_attention_with_pair_bias, gc)(msa, msa_mask, pair),
    msa=msa, msa_mask=msa_mask, pair=pair)
run('msa_column_attention', EVO, True,
    lambda msa, msa_mask: modules.MSAColumnAttention(evo.msa_column_attention, gc)(msa, msa_mask),
    msa=msa, msa_mask=msa_mask)
run('msa_transition', EVO, True,
    lambda msa, msa_mask: modules.Transition(evo.msa_transition, gc, name='msa_transition')(msa, msa_mask, is_training=False),
    msa=msa, msa_mask=msa_mask)
run('outer_product_mean', EVO, True,
    lambda msa, msa_mask: modules.OuterProductMean(evo.outer_product_mean, gc, C_Z)(msa, msa_mask, is_training=False),
    msa=msa, msa_mask=msa_mask)
for name in ('triangle_multiplication_outgoing', 'triangle_multiplication_incoming'):
  run(name, EVO, True,
      lambda pair, pair_mask, name=name: modules.TriangleMultiplication(evo[name], gc, name=name)(pair, pair_mask, is_training=False),
      pair=pair, pair_mask=pair_mask)
for name in ('triangle_attention_starting_node', 'triangle_attention_ending_node'):
  run(name, EVO, True,
      lambda pair, pair_mask, name=name: modules.TriangleAttention(evo[name], gc, name=name)(pair, pair_mask),
      pair=pair, pair_mask=pair_mask)
run('pair_transition', EVO, True,
    lambda pair, pair_mask: modules.Transition(evo.pair_transition, gc, name='pair_transition')(pair, pair_mask, is_training=False),
    pair=pair, pair_mask=pair_mask)
run('evoformer_iteration', 'alphafold/alphafold_iteration/evoformer', 'evoformer_iteration',
    lambda msa, msa_mask, pair, pair_mask: modules.EvoformerIteration(evo, gc, is_extra_msa=False)(
        {'msa': msa, 'pair': pair}, {'msa': msa_mask, 'pair': pair_mask}, is_training=False),
    msa=msa, msa_mask=msa_mask, pair=pair, pair_mask=pair_mask)

extra, extra_mask = normal(E, R, C_E), mask(E, R)
run('msa_column_global_attention', EXTRA, True,
    lambda msa, msa_mask: modules.MSAColumnGlobalAttention(evo.msa_column_attention, gc)(msa, msa_mask),
    msa=extra, msa_mask=extra_mask)

sm = config.heads.structure_module
quaternion = normal(R, 4)
translation = normal(R, 3, scale=3.0)
run('invariant_point_attention', 'alphafold/alphafold_iteration/structure_module/fold_iteration', False,
    lambda single, pair, seq_mask, quaternion, translation: folding.InvariantPointAttention(sm, gc)(
        single, pair, seq_mask, quat_affine.QuatAffine(quaternion, translation, unstack_inputs=True)),
    single=normal(R, C_S), pair=normal(R, R, C_Z), seq_mask=mask(R, 1), quaternion=quaternion, translation=translation)

path = os.path.join(ROOT, 'tests', 'fixtures', 'reference', f'blocks_{args.precision}.npz')
np.savez_compressed(path, **out)
print(f'wrote {path}: {len(out)} arrays')
