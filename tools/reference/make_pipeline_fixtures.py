#!/usr/bin/env python3
"""Fixture for the parity test of ferrofold's MSA transforms (features/src/msa_transforms.rs).

Runs DeepMind's input-pipeline transforms (alphafold.model.tf.data_transforms, v2.3.2 on the
NumPy backend that setup.sh installs) step by step on the raw features of a real chain
(tests/fixtures/reference/raw_1A1F_A.npz, 117 MSA rows), and saves every intermediate:

  msa_corrected, hhblits_profile              correct_msa_restypes, make_hhblits_profile
  sampled_msa, sampled_deletion_matrix,       sample_msa(16, keep_extra=True): the random draw,
  extra_msa, extra_deletion_matrix            which the Rust test takes as its input
  bert_msa, bert_mask                         make_masked_msa(0.15): random, test input too
  extra_cluster_assignment                    nearest_neighbor_clusters
  cluster_profile, cluster_deletion_mean      summarize_clusters
  msa_feat, target_feat, extra_has_deletion,  make_msa_feat
  extra_deletion_value

Output: tests/fixtures/reference/pipeline_1A1F_A.npz.
Run: tools/reference/venv/bin/python tools/reference/make_pipeline_fixtures.py
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import af2compat  # noqa: E402,F401  (before any alphafold import)

import ml_collections  # noqa: E402
import numpy as np  # noqa: E402

from alphafold.model.tf import data_transforms as dt  # noqa: E402
from alphafold.model.tf import np_backend  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
REF = os.path.join(ROOT, 'tests', 'fixtures', 'reference')


def main():
  np_backend.set_random_seed(7)
  raw = dict(np.load(os.path.join(REF, 'raw_1A1F_A.npz')))
  protein = {
      'aatype': raw['aatype'].astype(np.float32),
      'between_segment_residues': raw['between_segment_residues'],
      'residue_index': raw['residue_index'],
      'seq_length': raw['seq_length'],
      'msa': raw['msa'],
      'deletion_matrix': raw['deletion_matrix_int'].astype(np.float32),
      'num_alignments': raw['num_alignments'],
  }
  out = {}
  protein = dt.correct_msa_restypes(protein)
  protein = dt.squeeze_features(protein)
  protein = dt.make_msa_mask(protein)
  protein = dt.make_hhblits_profile(protein)
  out['msa_corrected'] = protein['msa']
  out['hhblits_profile'] = protein['hhblits_profile']

  protein = dt.sample_msa(16, keep_extra=True)(protein)
  out['sampled_msa'] = protein['msa']
  out['sampled_deletion_matrix'] = protein['deletion_matrix']
  out['extra_msa'] = protein['extra_msa']
  out['extra_deletion_matrix'] = protein['extra_deletion_matrix']

  masked_config = ml_collections.ConfigDict(
      {'profile_prob': 0.1, 'same_prob': 0.1, 'uniform_prob': 0.1})
  protein = dt.make_masked_msa(masked_config, 0.15)(protein)
  out['bert_msa'] = protein['msa']
  out['bert_mask'] = protein['bert_mask']

  protein = dt.nearest_neighbor_clusters()(protein)
  protein = dt.summarize_clusters()(protein)
  out['extra_cluster_assignment'] = protein['extra_cluster_assignment']
  out['cluster_profile'] = protein['cluster_profile']
  out['cluster_deletion_mean'] = protein['cluster_deletion_mean']

  protein = dt.make_msa_feat()(protein)
  for name in ('msa_feat', 'target_feat', 'extra_has_deletion', 'extra_deletion_value'):
    out[name] = protein[name]
  out = {k: np.asarray(v) for k, v in out.items()}
  np.savez_compressed(os.path.join(REF, 'pipeline_1A1F_A.npz'), **out)
  for k, v in out.items():
    print(f'{k:28s} {v.dtype} {v.shape}')


if __name__ == '__main__':
  main()
