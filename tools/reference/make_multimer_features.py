#!/usr/bin/env python3
"""Fixtures for the parity test of ferrofold's multimer input features (features/src/multimer/).

Runs DeepMind's AlphaFold v2.3.2 multimer data pipeline on real jackhmmer alignments: per chain
`make_sequence_features` + `make_msa_features` (the alignment is both the chain's MSA and the
UniProt alignment that pairing reads, as `_all_seq` features), `convert_monomer_features`,
`add_assembly_features`, `feature_processing.pair_and_merge` and `pad_msa(np_example, 512)`:
everything `pipeline_multimer.DataPipeline.process` does after its searches.

Templates: each chain gets random template features (fixed seed) in the monomer layout, so that
template padding, cropping to 4 and merging are checked; they are saved as the test's input.

The modules come from the `alphafold-colabfold==2.3.27` wheel that setup.sh unpacks into
`cf_pipeline/`: its `msa_pairing.py`, `feature_processing.py`, `pipeline_multimer.py` and
`msa_identifiers.py` are DeepMind's v2.3.2 files (msa_pairing with two NumPy-compatibility
edits), but its `pipeline.make_msa_features` has DeepMind's de-duplication of rows commented
out; this script restores those three lines before anything imports the module.

Cases (tests/fixtures/reference/multimer/<case>.npz, inputs tests/fixtures/data/<KEY>.sto):
  2hhb_ab      haemoglobin α + β (2HHB chains A, B): a real heterodimer
  2hhb_abab    α2β2 as in the crystal (A, B, C, D = α, β, α, β): homomeric parts regrouped
  2hhb_aa      α homodimer: no pairing, dense MSA
  three_chains 1GBT_A + 1A1F_A + 1H4A_X: species with several rows, shared by two or three chains

Ties: pairing sorts rows with NumPy's default quicksort (by similarity to the query, then by
the product of row indices), which leaves the order of equal keys unspecified; NumPy 1.26 on a
CPU with AVX-512 sorts with x86-simd-sort and swaps tied rows (three_chains: rows 15 and 16)
where its portable sort, for these small arrays an insertion sort, keeps them in order. The
script turns NumPy's AVX-512 code off, so the fixtures are the same on every CPU and ties keep
their order, as in ferrofold's stable sort.

Run: tools/reference/venv/bin/python tools/reference/make_multimer_features.py
"""
import importlib.util
import os
import sys

# Before NumPy is imported (see "Ties" above).
os.environ['NPY_DISABLE_CPU_FEATURES'] = (
    'AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR')

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
CF = os.path.join(HERE, 'cf_pipeline')
sys.path.insert(0, CF)

import numpy as np  # noqa: E402

# DeepMind's make_msa_features, as v2.3.2 has it: drop a row seen before.
_PIPELINE = os.path.join(CF, 'alphafold', 'data', 'pipeline.py')
_COMMENTED = ('      #if sequence in seen_sequences:\n'
              '      #  continue\n'
              '      #seen_sequences.add(sequence)\n')
_RESTORED = ('      if sequence in seen_sequences:\n'
             '        continue\n'
             '      seen_sequences.add(sequence)\n')
_source = open(_PIPELINE).read()
assert _source.count(_COMMENTED) == 1, 'the ColabFold wheel changed: check make_msa_features'
_spec = importlib.util.spec_from_loader('alphafold.data.pipeline', loader=None,
                                        origin=_PIPELINE)
pipeline = importlib.util.module_from_spec(_spec)
pipeline.__file__ = _PIPELINE
import alphafold.data  # noqa: E402
sys.modules['alphafold.data.pipeline'] = pipeline
exec(compile(_source.replace(_COMMENTED, _RESTORED), _PIPELINE, 'exec'), pipeline.__dict__)
alphafold.data.pipeline = pipeline

from alphafold.data import parsers, pipeline_multimer  # noqa: E402
from alphafold.data import feature_processing, msa_pairing  # noqa: E402

assert pipeline_multimer.pipeline is pipeline and msa_pairing.pipeline is pipeline

DATA = os.path.join(ROOT, 'tests', 'fixtures', 'data')
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'reference', 'multimer')
CASES = {
    '2hhb_ab': ['2HHB_A', '2HHB_B'],
    '2hhb_abab': ['2HHB_A', '2HHB_B', '2HHB_A', '2HHB_B'],
    '2hhb_aa': ['2HHB_A', '2HHB_A'],
    'three_chains': ['1GBT_A', '1A1F_A', '1H4A_X'],
}
# Templates per chain key: more than 4 for one chain (cropped), none for another.
NUM_TEMPLATES = {'2HHB_A': 5, '2HHB_B': 1, '1GBT_A': 0, '1A1F_A': 2, '1H4A_X': 3}


def random_templates(key, num_res):
  rng = np.random.default_rng(sum(key.encode()))
  t = NUM_TEMPLATES[key]
  ids = rng.integers(0, 22, size=(t, num_res))
  return {
      'template_aatype': np.eye(22, dtype=np.float32)[ids],
      'template_all_atom_masks': (rng.random((t, num_res, 37)) < 0.7).astype(np.float32),
      # Multiples of 1/4 Å: exact in float32, and the fixture compresses.
      'template_all_atom_positions': (np.round(rng.normal(size=(t, num_res, 37, 3)) * 4) / 4
                                      ).astype(np.float32),
      'template_domain_names': np.array([f'{key}_t{i}'.encode() for i in range(t)],
                                        dtype=np.object_),
      'template_sequence': np.array([b'X' * num_res] * t, dtype=np.object_),
      'template_sum_probs': np.ones((t, 1), dtype=np.float32),
  }


def chain_features(key, heteromer):
  msa = parsers.parse_stockholm(open(os.path.join(DATA, f'{key}.sto')).read())
  sequence = msa.sequences[0]
  assert '-' not in sequence
  features = {}
  features.update(pipeline.make_sequence_features(sequence, key, len(sequence)))
  features.update(pipeline.make_msa_features([msa]))
  templates = random_templates(key, len(sequence))
  features.update(templates)
  if heteromer:
    # _all_seq_msa_features: the UniProt alignment, truncated to max_uniprot_hits.
    all_seq = pipeline.make_msa_features([msa.truncate(max_seqs=50000)])
    valid = msa_pairing.MSA_FEATURES + ('msa_species_identifiers',)
    features.update({f'{k}_all_seq': v for k, v in all_seq.items() if k in valid})
  return features, templates


def run_case(name, keys):
  heteromer = len(set(keys)) > 1
  all_chain_features = {}
  inputs = {}
  for chain_id, key in zip('ABCDEFGH', keys):
    features, templates = chain_features(key, heteromer)
    all_chain_features[chain_id] = pipeline_multimer.convert_monomer_features(
        features, chain_id=chain_id)
    for k in ('template_aatype', 'template_all_atom_masks', 'template_all_atom_positions'):
      inputs[f'input_{key}_{k}'] = templates[k]
  all_chain_features = pipeline_multimer.add_assembly_features(all_chain_features)
  example = feature_processing.pair_and_merge(all_chain_features=all_chain_features)
  example = pipeline_multimer.pad_msa(example, 512)
  arrays = {k: np.asarray(v) for k, v in example.items()}
  for k, v in arrays.items():
    assert v.dtype != np.object_, k
  np.savez_compressed(os.path.join(OUT, f'{name}.npz'), **arrays, **inputs)
  print(name, {k: (v.shape, str(v.dtype)) for k, v in sorted(arrays.items())})


def main():
  os.makedirs(OUT, exist_ok=True)
  for name, keys in CASES.items():
    run_case(name, keys)


if __name__ == '__main__':
  main()
