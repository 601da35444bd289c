#!/usr/bin/env python3
"""Times DeepMind's raw featurization (alphafold 2.0.0: parse_fasta, parse_stockholm,
make_sequence_features, make_msa_features) over the same chains as ferrofold's
`cargo bench --bench featurize`; prints one JSON line: {"chains": N, "median_seconds": S}.
Usage: venv/bin/python bench_featurize.py DATA_DIR REPEATS"""
import json
import os
import statistics
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import af2compat  # noqa: E402,F401
import numpy as np  # noqa: E402

if not hasattr(np, 'object'):
  np.object = object
for _name in ('tools', 'tools.hhblits', 'tools.hhsearch', 'tools.jackhmmer', 'tools.kalign'):
  sys.modules.setdefault('alphafold.data.' + _name, types.ModuleType('alphafold.data.' + _name))
from alphafold.data import parsers, pipeline  # noqa: E402


def main():
  data, repeats = sys.argv[1], int(sys.argv[2])
  keys = sorted(f[:-len('.fasta')] for f in os.listdir(os.path.join(data, 'fasta')))
  queries = []
  for key in keys:
    with open(os.path.join(data, 'fasta', key + '.fasta')) as f:
      seqs, descs = parsers.parse_fasta(f.read())
    sto = os.path.join(data, 'msa', 'jackhmmer', key + '.sto')
    use_sto = False
    if os.path.exists(sto):
      with open(sto) as f:
        msa, _ = parsers.parse_stockholm(f.read())
      use_sto = msa[0].replace('-', '') == seqs[0]
    queries.append((seqs[0], descs[0], sto if use_sto else None))

  def run():
    start = time.perf_counter()
    for seq, desc, sto in queries:
      feats = pipeline.make_sequence_features(seq, desc, len(seq))
      if sto:
        with open(sto) as f:
          msa, dels = parsers.parse_stockholm(f.read())
      else:
        msa, dels = [seq], [[0] * len(seq)]
      feats.update(pipeline.make_msa_features([msa], [dels]))
    return time.perf_counter() - start

  run()
  times = [run() for _ in range(repeats)]
  print(json.dumps({'chains': len(queries), 'median_seconds': statistics.median(times)}))


if __name__ == '__main__':
  main()
