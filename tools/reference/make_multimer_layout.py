#!/usr/bin/env python3
"""The parameter layout of DeepMind's AlphaFold-Multimer networks: every parameter's name and
shape in `params_model_*_multimer_v3.npz` (and `_v2`), as haiku creates them for DeepMind's
v2.3.2 configs at full size (`jax.eval_shape`: nothing is computed or allocated). ferrofold's
presets must build exactly these (model/tests/multimer_layout.rs), so that DeepMind's files load.
Models 1 to 5 of one version share a layout (model 4 and 5 differ in MSA sizes only).

Writes tests/fixtures/reference/multimer/layout_multimer_{v3,v2}.json: {name: shape}.
Run (after setup.sh): venv/bin/python tools/reference/make_multimer_layout.py
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, 'af232'))

import haiku as hk  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from alphafold.model import config as af_config  # noqa: E402
from alphafold.model import modules_multimer, prng  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'reference', 'multimer')


def layout(preset):
  model_config = af_config.model_config(preset).model
  model_config.global_config.bfloat16 = False
  emb = model_config.embeddings_and_evoformer
  # More rows than cluster centres, so that the extra-MSA stack has rows.
  r, s, t = 8, emb.num_msa + 4, 1
  batch = {
      'aatype': jnp.zeros([r], jnp.int32),
      'residue_index': jnp.arange(r),
      'asym_id': jnp.ones([r]), 'entity_id': jnp.ones([r]), 'sym_id': jnp.ones([r]),
      'seq_mask': jnp.ones([r]),
      'msa': jnp.zeros([s, r], jnp.int32), 'msa_mask': jnp.ones([s, r]),
      'deletion_matrix': jnp.zeros([s, r]), 'bert_mask': jnp.zeros([s, r]),
      'cluster_bias_mask': jnp.zeros([s]),
      'template_aatype': jnp.zeros([t, r], jnp.int32),
      'template_all_atom_positions': jnp.zeros([t, r, 37, 3]),
      'template_all_atom_mask': jnp.zeros([t, r, 37]),
      'all_atom_positions': jnp.zeros([r, 37, 3]),
      'prev_pos': jnp.zeros([r, 37, 3]),
      'prev_msa_first_row': jnp.zeros([r, emb.msa_channel]),
      'prev_pair': jnp.zeros([r, r, emb.pair_channel]),
  }

  class Wrapper(hk.Module):

    def __init__(self):
      super().__init__(name='alphafold')

    def __call__(self, batch):
      return modules_multimer.AlphaFoldIteration(model_config, model_config.global_config)(
          batch, is_training=False, return_representations=True,
          safe_key=prng.SafeKey(hk.next_rng_key()))

  model = hk.transform(lambda b: Wrapper()(b))
  shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), batch))
  return {f'{m}//{n}': list(v.shape) for m in shapes for n, v in shapes[m].items()}


def main():
  os.makedirs(OUT, exist_ok=True)
  for version in ('v3', 'v2'):
    shapes = layout(f'model_1_multimer_{version}')
    path = os.path.join(OUT, f'layout_multimer_{version}.json')
    with open(path, 'w') as f:
      json.dump(shapes, f, indent=0, sort_keys=True)
    count = sum(int(jnp.prod(jnp.asarray(v))) for v in shapes.values())
    print(f'{version}: {len(shapes)} tensors, {count} parameters -> {path}')


if __name__ == '__main__':
  main()
