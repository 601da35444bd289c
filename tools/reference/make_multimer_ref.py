#!/usr/bin/env python3
"""Whole-network fixture for AlphaFold-Multimer: DeepMind's v2.3.2 `AlphaFoldIteration` (the
architecture of `model_1_multimer_v3` at reduced widths, bfloat16 off, float32) with random
parameters in the official layout ('alphafold/alphafold_iteration/...//name'), run for three
recycling iterations on the merged features of a complex from
tests/fixtures/reference/multimer/ (made by make_multimer_features.py): the haemoglobin
heterodimer α + β (`2hhb_ab`) or the α homodimer (`2hhb_aa`), cut to the first 32 residues of
each chain to keep the fixture small. Parameters: haiku's initial values,
every leaf perturbed (random_params.py, as make_ref.py), so that activations stay in range and
the confidence heads are not saturated.

Made deterministic, so that ferrofold can reproduce the run exactly:
- cluster centres: the rows in DeepMind's order of preference without the Gumbel noise (each
  chain's query first, then rows with residues, in order), as `sample_msa` with zero noise;
- no BERT masking (`masked_msa.replace_fraction` 0);
- the recycles run as a Python loop over `AlphaFoldIteration` with the previous outputs in the
  batch (as `AlphaFold` does inside its while loop), and `modules_multimer`'s hk.scan loops (the
  ensemble and the templates) run op by op: compiled, DeepMind's template unit vectors carry
  rounding noise on the diagonal (see make_multimer_block_fixtures.py).

Writes tests/fixtures/reference/multimer_<case>/{features.npz, params.npz, outputs.npz,
meta.json}: per iteration the atom positions, pLDDT logits, representations, pTM and ipTM; the
last iteration's heads' logits.
Run (after setup.sh): venv/bin/python tools/reference/make_multimer_ref.py [2hhb_ab|2hhb_aa]

With `--full`, the network is `model_1_multimer_v3` at its real size (93M parameters; the same
features, the same 3 iterations): the outputs go to tests/fixtures/reference/multimer_full_<case>/
(the pair representation, PAE and experimentally-resolved logits of the last iteration only),
the parameters (373 MB, regenerated bit for bit by this script) to
target/reference/multimer_full_<case>/params_model_1_multimer_v3.npz. With `--full --time`,
nothing is written: XLA compiles the iteration and the script prints its wall time over the
three iterations as one JSON line (for `cargo bench -p ferrofold-model --bench forward --
--multimer`).
"""
import json
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, 'af232'))

import jax  # noqa: E402
jax.config.update('jax_default_matmul_precision', 'highest')
import haiku as hk  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from alphafold.common import confidence  # noqa: E402
from alphafold.model import config as af_config  # noqa: E402
from alphafold.model import modules_multimer, prng  # noqa: E402
from random_params import perturb_params  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
CASE = sys.argv[1] if len(sys.argv) > 1 else '2hhb_ab'
FULL = '--full' in sys.argv[2:]
# --time: no fixture; the compiled network's wall time over the iterations, as one JSON line
# (model/benches/forward.rs --multimer compares ferrofold with it).
TIME = '--time' in sys.argv[2:]
NAME = f'multimer_full_{CASE}' if FULL else f'multimer_{CASE}'
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'reference', NAME)
# The full-size parameters (373 MB) are too large to commit: they go to target/.
PARAMS_OUT = os.path.join(ROOT, 'target', 'reference', NAME) if FULL else OUT
NUM_ITERATIONS = 3
RESIDUES_PER_CHAIN = 32

model_config = af_config.model_config('model_1_multimer_v3').model
gc = model_config.global_config
gc.bfloat16 = False
emb = model_config.embeddings_and_evoformer
emb.masked_msa.replace_fraction = 0.0


def reduce_widths():
  """`model_1_multimer_v3` at the `reduced_multimer` preset's widths."""
  emb.update(dict(msa_channel=16, pair_channel=8, seq_channel=12, extra_msa_channel=8,
                  evoformer_num_block=2, extra_msa_stack_num_block=1, num_msa=16,
                  num_extra_msa=24))
  evo = emb.evoformer
  for name in ('msa_row_attention_with_pair_bias', 'msa_column_attention',
               'triangle_attention_starting_node', 'triangle_attention_ending_node'):
    evo[name].num_head = 2
  evo.outer_product_mean.num_outer_channel = 4
  for name in ('triangle_multiplication_outgoing', 'triangle_multiplication_incoming'):
    evo[name].num_intermediate_channel = 6
  tmpl = emb.template
  tmpl.num_channels = 8
  tmpl.template_pair_stack.num_block = 1
  for name in ('triangle_attention_starting_node', 'triangle_attention_ending_node'):
    tmpl.template_pair_stack[name].num_head = 2
  for name in ('triangle_multiplication_outgoing', 'triangle_multiplication_incoming'):
    tmpl.template_pair_stack[name].num_intermediate_channel = 6
  heads = model_config.heads
  sm = heads.structure_module
  sm.update(dict(num_layer=2, num_channel=12, num_head=2, num_scalar_qk=4, num_point_qk=3,
                 num_scalar_v=4, num_point_v=5))
  sm.sidechain.num_channel = 8
  heads.predicted_lddt.num_channels = 8
  heads.predicted_aligned_error.num_channels = 8


if not FULL:
  reduce_widths()


def eager_scan(fn, init, xs, length=None):
  """hk.scan as a Python loop (op by op; see the module docstring)."""
  n = length if xs is None else jax.tree_util.tree_leaves(xs)[0].shape[0]
  carry, ys = init, []
  for i in range(n):
    x = None if xs is None else jax.tree_util.tree_map(lambda a, i=i: a[i], xs)
    carry, y = fn(carry, x)
    ys.append(y)
  return carry, None


eager_hk = types.ModuleType('haiku_with_eager_scan')
eager_hk.__dict__.update(hk.__dict__)
eager_hk.scan = eager_scan
modules_multimer.hk = eager_hk


def sample_msa_without_noise(key, batch, max_seq):
  """`sample_msa` with the Gumbel noise at zero: a stable sort of DeepMind's logits."""
  del key
  logits = (jnp.clip(jnp.sum(batch['msa_mask'], axis=-1), 0., 1.) - 1.) * 1e6
  logits += batch['cluster_bias_mask'] * 1e6
  order = jnp.argsort(-logits, stable=True)
  sel_idx, extra_idx = order[:max_seq], order[max_seq:]
  for k in ['msa', 'deletion_matrix', 'msa_mask', 'bert_mask']:
    if k in batch:
      batch['extra_' + k] = batch[k][extra_idx]
      batch[k] = batch[k][sel_idx]
  return batch


modules_multimer.sample_msa = sample_msa_without_noise


class Wrapper(hk.Module):
  """`AlphaFoldIteration` under the name `alphafold`, as inside DeepMind's `AlphaFold`."""

  def __init__(self):
    super().__init__(name='alphafold')

  def __call__(self, batch):
    return modules_multimer.AlphaFoldIteration(model_config, gc)(
        batch, is_training=False, return_representations=True,
        safe_key=prng.SafeKey(hk.next_rng_key()))


def main():
  merged = np.load(os.path.join(ROOT, 'tests', 'fixtures', 'reference', 'multimer',
                                f'{CASE}.npz'))
  keep = np.concatenate([np.arange(RESIDUES_PER_CHAIN),
                         np.flatnonzero(merged['asym_id'] == 2)[:RESIDUES_PER_CHAIN]])
  features = {}
  for k in merged.files:
    if k.startswith('input_'):
      continue
    v = merged[k]
    if k in ('msa', 'deletion_matrix', 'msa_mask', 'bert_mask') or k.startswith('template_'):
      v = v[:, keep]
    elif v.ndim >= 1 and v.shape[0] == merged['aatype'].shape[0] and k != 'cluster_bias_mask':
      v = v[keep]
    features[k] = v
  features['seq_length'] = np.asarray(len(keep), np.int32)
  batch = {k: jnp.asarray(v) for k, v in features.items()}
  for k in ('asym_id', 'entity_id', 'sym_id', 'cluster_bias_mask'):
    batch[k] = batch[k].astype(jnp.float32)
  batch['all_atom_positions'] = batch['all_atom_positions'].astype(jnp.float32)
  r = len(keep)
  prev = {'prev_pos': jnp.zeros([r, 37, 3]),
          'prev_msa_first_row': jnp.zeros([r, emb.msa_channel]),
          'prev_pair': jnp.zeros([r, r, emb.pair_channel])}
  model = hk.transform(lambda b: Wrapper()(b))
  shapes = model.init(jax.random.PRNGKey(0), {**batch, **prev})
  params = perturb_params(shapes, np.random.default_rng(5))
  if TIME:
    time_compiled(model, params, {**batch, **prev})
    return
  flat = {f'{m}//{n}': v for m in params for n, v in params[m].items()}
  outputs = {}
  for iteration in range(NUM_ITERATIONS):
    ret = model.apply(params, jax.random.PRNGKey(0), {**batch, **prev})
    structure = ret['structure_module']
    tag = f'iteration_{iteration}'
    outputs[f'{tag}/final_atom_positions'] = np.asarray(structure['final_atom_positions'])
    outputs[f'{tag}/final_atom_mask'] = np.asarray(structure['final_atom_mask'])
    last = iteration == NUM_ITERATIONS - 1
    # At full size the pair representation (and the heads read from it) is kept for the last
    # iteration only, to keep the fixture small.
    for name in ('single', 'pair', 'msa_first_row'):
      if name != 'pair' or last or not FULL:
        outputs[f'{tag}/{name}'] = np.asarray(ret['representations'][name])
    outputs[f'{tag}/predicted_lddt_logits'] = np.asarray(ret['predicted_lddt']['logits'])
    if last:
      heads = ('predicted_aligned_error', 'experimentally_resolved')
      if not FULL:
        heads += ('distogram', 'masked_msa')
      for head in heads:
        outputs[f'{tag}/{head}_logits'] = np.asarray(ret[head]['logits'])
    pae_logits = np.asarray(ret['predicted_aligned_error']['logits'], np.float64)
    breaks = np.asarray(ret['predicted_aligned_error']['breaks'], np.float64)
    outputs[f'{tag}/ptm'] = confidence.predicted_tm_score(pae_logits, breaks)
    outputs[f'{tag}/iptm'] = confidence.predicted_tm_score(
        pae_logits, breaks, asym_id=np.asarray(batch['asym_id']), interface=True)
    prev = {'prev_pos': structure['final_atom_positions'],
            'prev_msa_first_row': ret['representations']['msa_first_row'],
            'prev_pair': ret['representations']['pair']}
  os.makedirs(OUT, exist_ok=True)
  os.makedirs(PARAMS_OUT, exist_ok=True)
  np.savez_compressed(os.path.join(OUT, 'features.npz'), **features)
  if FULL:
    np.savez(os.path.join(PARAMS_OUT, 'params_model_1_multimer_v3.npz'), **flat)
  else:
    np.savez_compressed(os.path.join(OUT, 'params.npz'), **flat)
  np.savez_compressed(os.path.join(OUT, 'outputs.npz'), **outputs)
  meta = {'config': model_config.to_dict(), 'iterations': NUM_ITERATIONS,
          'features': f'multimer/{CASE}.npz', 'jax': jax.__version__, 'haiku': hk.__version__,
          'numpy': np.__version__, 'alphafold': 'v2.3.2 (source tree, tools/reference/af232)'}
  with open(os.path.join(OUT, 'meta.json'), 'w') as f:
    json.dump(meta, f, indent=1, sort_keys=True, default=str)
  print(f'{len(flat)} parameters, {len(outputs)} outputs;',
        {k: float(v) for k, v in outputs.items() if k.endswith('ptm')})


def time_compiled(model, params, batch):
  """Compiles one iteration with XLA and times NUM_ITERATIONS of them with recycling."""
  import resource
  import time
  params = jax.tree_util.tree_map(jnp.asarray, params)
  key = jax.random.PRNGKey(0)
  started = time.time()
  compiled = jax.jit(model.apply).lower(params, key, batch).compile()
  compile_s = time.time() - started
  started = time.time()
  for _ in range(NUM_ITERATIONS):
    ret = compiled(params, key, batch)
    batch = {**batch, 'prev_pos': ret['structure_module']['final_atom_positions'],
             'prev_msa_first_row': ret['representations']['msa_first_row'],
             'prev_pair': ret['representations']['pair']}
  jax.block_until_ready(batch)
  run_s = time.time() - started
  print(json.dumps({'compile_s': compile_s, 'run_s': run_s, 'iterations': NUM_ITERATIONS,
                    'residues': int(batch['aatype'].shape[0]),
                    'peak_rss_MiB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == '__main__':
  main()
