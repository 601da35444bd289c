#!/usr/bin/env python3
"""Regenerates the reference fixtures of ferrofold's `features` parity tests from DeepMind's code.

Inputs are the files under tests/fixtures/data/ (real chains copied from the project's data set). Outputs,
under tests/fixtures/reference/:
  residue_constants.npz     DeepMind's derived residue-constant arrays (masks, maps, frames).
  raw_<KEY>.npz             make_sequence_features + make_msa_features (alphafold 2.0.0
                            pipeline) from <KEY>.fasta record 1 and <KEY>.sto (parse_stockholm).
  raw_dedup_1UBQ_A.npz      make_msa_features over two alignments (the Stockholm file, then the
                            same hits as A3M), to check deduplication across alignments.
  protein_<KEY>.npz         protein.from_pdb_string(<KEY>.pdb): atom37 positions/mask, aatype,
                            residue_index, b_factors.
  labels_<KEY>.npz          all_atom.atom37_to_frames / atom37_to_torsion_angles /
                            atom37_to_atom14 on that protein, run in float64.
Run from anywhere: venv/bin/python tools/reference/make_fixtures.py (after setup.sh).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import af2compat  # noqa: E402,F401  (before any alphafold import)

import jax  # noqa: E402
jax.config.update('jax_enable_x64', True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import types  # noqa: E402

if not hasattr(np, 'object'):
  np.object = object  # alphafold.data.templates (2.0.0) uses the alias numpy 1.24 removed

# The alphafold 2.0.0 wheel ships without alphafold.data.tools (the search-tool runners), which
# alphafold.data.pipeline imports but the feature functions used here never call.
for _name in ('tools', 'tools.hhblits', 'tools.hhsearch', 'tools.jackhmmer', 'tools.kalign'):
  sys.modules.setdefault('alphafold.data.' + _name, types.ModuleType('alphafold.data.' + _name))

from alphafold.common import protein as af_protein  # noqa: E402
from alphafold.common import residue_constants as rc  # noqa: E402
from alphafold.data import parsers, pipeline  # noqa: E402
from alphafold.model import all_atom  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
DATA = os.path.join(ROOT, 'tests', 'fixtures', 'data')
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'reference')
CHAINS = ['1UBQ_A', '5PTI_A', '1A1F_A', '1AKE_A']


def save(name, **arrays):
  np.savez_compressed(os.path.join(OUT, name), **arrays)


def residue_constants():
  rc_arrays = {
      'restype_atom37_mask': rc.restype_atom37_mask,
      'restype_atom14_mask': rc.restype_atom14_mask,
      'restype_atom37_to_rigid_group': rc.restype_atom37_to_rigid_group,
      'restype_atom37_rigid_group_positions': rc.restype_atom37_rigid_group_positions,
      'restype_atom14_to_rigid_group': rc.restype_atom14_to_rigid_group,
      'restype_atom14_rigid_group_positions': rc.restype_atom14_rigid_group_positions,
      'restype_rigid_group_default_frame': rc.restype_rigid_group_default_frame,
      'chi_angles_atom_indices': rc.chi_angles_atom_indices,
      'chi_angles_mask': np.array(rc.chi_angles_mask + [[0.] * 4]),
      'chi_pi_periodic': np.array(rc.chi_pi_periodic),
      'standard_atom_mask': rc.STANDARD_ATOM_MASK,
      'map_hhblits_aatype_to_our_aatype': np.array(rc.MAP_HHBLITS_AATYPE_TO_OUR_AATYPE),
  }
  # atom14 <-> atom37 index maps as DeepMind's input pipeline builds them (make_atom14_masks).
  to37, to14 = atom14_index_maps()
  rc_arrays['restype_atom14_to_atom37'] = to37
  rc_arrays['restype_atom37_to_atom14'] = to14
  hh = np.full(128, -1)
  for k, v in rc.HHBLITS_AA_TO_ID.items():
    hh[ord(k)] = v
  rc_arrays['hhblits_aa_to_id_ascii'] = hh
  save('residue_constants.npz', **{k: np.asarray(v) for k, v in rc_arrays.items()})


def atom14_index_maps():
  to37, to14 = [], []
  for rt in rc.restypes:
    names = rc.restype_name_to_atom14_names[rc.restype_1to3[rt]]
    to37.append([rc.atom_order[n] if n else 0 for n in names])
    order14 = {n: i for i, n in enumerate(names)}
    to14.append([order14.get(n, 0) for n in rc.atom_types])
  to37.append([0] * 14)
  to14.append([0] * 37)
  return np.array(to37), np.array(to14)


def read(name):
  with open(os.path.join(DATA, name)) as f:
    return f.read()


def raw_features(key):
  seqs, descs = parsers.parse_fasta(read(f'{key}.fasta'))
  seq = seqs[0]
  msa, dels = parsers.parse_stockholm(read(f'{key}.sto'))
  feats = pipeline.make_sequence_features(seq, descs[0], len(seq))
  feats.update(pipeline.make_msa_features([msa], [dels]))
  save(f'raw_{key}.npz', **{k: v for k, v in feats.items() if v.dtype != object})
  return msa, dels


def raw_dedup(key, msa, dels):
  a3m = parsers.convert_stockholm_to_a3m(read(f'{key}.sto'))
  with open(os.path.join(OUT, f'{key}_from_sto.a3m'), 'w') as f:
    f.write(a3m)
  msa2, dels2 = parsers.parse_a3m(a3m)
  # Second alignment: every other hit reversed in order, so that some rows are new only in
  # position and the deduplication must keep first occurrences.
  feats = pipeline.make_msa_features([msa[:5], msa2[::-1]], [dels[:5], dels2[::-1]])
  save(f'raw_dedup_{key}.npz', **feats)


def protein_and_labels(key):
  prot = af_protein.from_pdb_string(read(f'{key}.pdb'))
  save(f'protein_{key}.npz', atom_positions=prot.atom_positions, atom_mask=prot.atom_mask,
       aatype=prot.aatype, residue_index=prot.residue_index, b_factors=prot.b_factors)
  aatype = jnp.asarray(prot.aatype)
  pos = jnp.asarray(prot.atom_positions, jnp.float64)
  mask = jnp.asarray(prot.atom_mask, jnp.float64)
  frames = all_atom.atom37_to_frames(aatype, pos, mask)
  tors = all_atom.atom37_to_torsion_angles(aatype[None], pos[None], mask[None])
  out = {k: np.asarray(v) for k, v in frames.items()}
  out.update({k: np.asarray(v)[0] for k, v in tors.items()})
  to37, _ = atom14_index_maps()
  batch14 = {'residx_atom14_to_atom37': jnp.asarray(to37[prot.aatype]),
             'atom14_atom_exists': jnp.asarray(rc.restype_atom14_mask[prot.aatype], jnp.float64)}
  out['atom14_positions'] = np.asarray(all_atom.atom37_to_atom14(pos, batch14))
  out['atom14_mask'] = np.asarray(all_atom.atom37_to_atom14(mask, batch14))
  save(f'labels_{key}.npz', **out)


def main():
  os.makedirs(OUT, exist_ok=True)
  residue_constants()
  for key in CHAINS:
    msa, dels = raw_features(key)
    protein_and_labels(key)
    if key == '1UBQ_A':
      raw_dedup(key, msa, dels)
    print('wrote', key)


if __name__ == '__main__':
  main()
