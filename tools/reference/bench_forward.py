#!/usr/bin/env python3
"""Times DeepMind's AlphaFold2 forward pass (alphafold 2.0.0, JAX on CPU, float32) on a case
made by make_ref.py: the same parameters and feature batch ferrofold's benchmark uses.

Prints one JSON object: compile_s (XLA compilation), run_s (median of --runs warm runs),
runs, peak_rss_MiB. Used by `cargo bench -p ferrofold-model --bench forward`.

  venv/bin/python bench_forward.py CASE_DIR [--runs N]
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import af2compat  # noqa: E402,F401  (before any alphafold import)

import haiku as hk  # noqa: E402
import jax  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402

from alphafold.model import data as af_data  # noqa: E402
from alphafold.model import modules  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('case')
p.add_argument('--runs', type=int, default=2)
a = p.parse_args()

meta = json.load(open(os.path.join(a.case, 'meta.json')))
cfg = ml_collections.ConfigDict(meta['config'])
preset = meta['args']['preset']
params = af_data.get_model_haiku_params(preset, a.case)
batch = dict(np.load(os.path.join(a.case, 'features.npz')))


def forward(b):
  return modules.AlphaFold(cfg.model)(b, is_training=False, compute_loss=False,
                                      ensemble_representations=True,
                                      return_representations=True)


apply = jax.jit(hk.transform(forward).apply)
t0 = time.time()
compiled = apply.lower(params, jax.random.PRNGKey(0), batch).compile()
compile_s = time.time() - t0
times = []
for _ in range(a.runs):
  t0 = time.time()
  out = compiled(params, jax.random.PRNGKey(0), batch)
  jax.tree_util.tree_map(lambda x: np.asarray(x), out)
  times.append(time.time() - t0)
print(json.dumps({
    'compile_s': compile_s,
    'run_s': statistics.median(times),
    'runs': a.runs,
    'peak_rss_MiB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
