#!/usr/bin/env python3
"""DockQ's own scores of real interfaces, for `ferrofold score`'s DockQ
(inference/tests/score_complex.rs).

Real pairs: the two copies of an interface in one crystal structure (Debian `emboss-test`'s
haemoglobin 2HHB, α1β1 and α1β2, and aspartate transcarbamoylase 4AT1, catalytic:regulatory;
wwPDB, CC0; `tests/fixtures/data/complexes/`, ATOM records only), one copy scored as the model
of the other. And, so that the scores also cover poor models, haemoglobin α1β1 with chain B
moved as a rigid body (rotated about its centre and shifted), written as
`tests/fixtures/data/complexes/2HHB_moved_<k>.pdb`.

Writes tests/fixtures/reference/dockq.json. Run (after setup.sh; needs the DockQ program,
`venv/bin/pip install DockQ==2.1.3`): venv/bin/python tools/reference/make_dockq_fixtures.py
"""
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
DATA = os.path.join(ROOT, 'tests', 'fixtures', 'data', 'complexes')
DOCKQ = os.path.join(os.path.dirname(sys.executable), 'DockQ')

# (degrees about the centre's x axis, shift in Å along y)
MOVES = [(10.0, 2.0), (30.0, 6.0), (60.0, 15.0)]


def move_chain(lines, chain, degrees, shift):
  """The PDB lines with `chain`'s atoms rotated about their centre and shifted."""
  atoms = [l for l in lines if l.startswith('ATOM') and l[21] == chain]
  xyz = np.array([[float(l[30:38]), float(l[38:46]), float(l[46:54])] for l in atoms])
  centre = xyz.mean(axis=0)
  t = np.radians(degrees)
  rotation = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
  moved = (xyz - centre) @ rotation.T + centre + np.array([0.0, shift, 0.0])
  out, k = [], 0
  for l in lines:
    if l.startswith('ATOM') and l[21] == chain:
      x, y, z = moved[k]
      k += 1
      l = f'{l[:30]}{x:8.3f}{y:8.3f}{z:8.3f}{l[54:]}'
    out.append(l)
  return out


def dockq(model, native, mapping):
  out = subprocess.run([DOCKQ, model, native, '--mapping', mapping, '--short'],
                       capture_output=True, text=True, check=True).stdout
  line = [l for l in out.splitlines() if l.startswith('DockQ ')][-1].split()
  values = dict(zip(line[0::2], line[1::2]))
  return {k: float(values[k]) for k in ('DockQ', 'iRMSD', 'LRMSD', 'fnat')}


def main():
  cases = [('2HHB.pdb', 'CD', '2HHB.pdb', 'AB'), ('2HHB.pdb', 'CB', '2HHB.pdb', 'AD'),
           ('4AT1.pdb', 'CD', '4AT1.pdb', 'AB')]
  with open(os.path.join(DATA, '2HHB.pdb')) as f:
    lines = f.read().splitlines()
  for k, (degrees, shift) in enumerate(MOVES):
    name = f'2HHB_moved_{k}.pdb'
    kept = [l for l in move_chain(lines, 'B', degrees, shift)
            if not (l.startswith(('ATOM', 'TER')) and l[21] in 'CD')]
    with open(os.path.join(DATA, name), 'w') as f:
      f.write('\n'.join(kept) + '\n')
    cases.append((name, 'AB', '2HHB.pdb', 'AB'))
  results = []
  for model, model_chains, native, native_chains in cases:
    scores = dockq(os.path.join(DATA, model), os.path.join(DATA, native),
                   f'{model_chains}:{native_chains}')
    results.append({'model': model, 'model_chains': model_chains, 'native': native,
                    'native_chains': native_chains, **scores})
    print(results[-1])
  version = subprocess.run([sys.executable, '-m', 'pip', 'show', 'DockQ'], capture_output=True,
                           text=True).stdout.split('Version: ')[1].split()[0]
  with open(os.path.join(ROOT, 'tests', 'fixtures', 'reference', 'dockq.json'), 'w') as f:
    json.dump({'dockq_version': version, 'cases': results}, f, indent=1)


if __name__ == '__main__':
  main()
