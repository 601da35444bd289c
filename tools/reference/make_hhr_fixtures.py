#!/usr/bin/env python3
"""Fixture for ferrofold's HHR parser (features/src/parsers/hhr.rs).

Builds a small hhsearch database from the fixture chains' jackhmmer alignments (A3M via
DeepMind's convert_stockholm_to_a3m, hhmake, ffindex_build, cstranslate), searches it with
1AKE_A's alignment (Debian package hhsuite), and parses the result with DeepMind's
parsers.parse_hhr (alphafold 2.0.0):

  tests/fixtures/data/1AKE_A_hhsearch.hhr       the search output (5 hits, gapped alignments)
  tests/fixtures/reference/hhr_1AKE_A.json      parse_hhr's hits, every field

Run: tools/reference/venv/bin/python tools/reference/make_hhr_fixtures.py
"""
import dataclasses
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import af2compat  # noqa: E402,F401  (before any alphafold import)

from alphafold.data import parsers  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
DATA = os.path.join(ROOT, 'tests', 'fixtures', 'data')
REF = os.path.join(ROOT, 'tests', 'fixtures', 'reference')
CHAINS = ['1A1F_A', '1AKE_A', '1UBQ_A', '5PTI_A']
CSTRANSLATE = '/usr/libexec/hhsuite/cstranslate-avx2'  # the `cstranslate` wrapper is broken


def run(*args, cwd):
  subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
  with tempfile.TemporaryDirectory() as work:
    os.makedirs(os.path.join(work, 'a3m'))
    os.makedirs(os.path.join(work, 'hhm'))
    for key in CHAINS:
      with open(os.path.join(DATA, f'{key}.sto')) as f:
        a3m = parsers.convert_stockholm_to_a3m(f.read())
      with open(os.path.join(work, 'a3m', f'{key}.a3m'), 'w') as f:
        f.write(a3m)
      run('hhmake', '-i', f'a3m/{key}.a3m', '-o', f'hhm/{key}.hhm', '-v', '0', cwd=work)
    run('ffindex_build', '-s', 'db_a3m.ffdata', 'db_a3m.ffindex', 'a3m/', cwd=work)
    run('ffindex_build', '-s', 'db_hhm.ffdata', 'db_hhm.ffindex', 'hhm/', cwd=work)
    run(CSTRANSLATE, '-f', '-x', '0.3', '-c', '4', '-I', 'a3m', '-i', 'db_a3m', '-o', 'db_cs219',
        cwd=work)
    run('hhsearch', '-i', 'a3m/1AKE_A.a3m', '-d', 'db', '-o', 'out.hhr', '-p', '0', '-E', '1000',
        '-v', '0', '-cpu', '1', cwd=work)
    with open(os.path.join(work, 'out.hhr')) as f:
      hhr = f.read()
  # The header's date and command line change with every run; fixed so the fixture is stable.
  lines = [('Date          (fixture)' if l.startswith('Date ') else
            'Command       hhsearch -i 1AKE_A.a3m -d db -o out.hhr -p 0 -E 1000' if
            l.startswith('Command ') else l) for l in hhr.splitlines()]
  hhr = '\n'.join(lines) + '\n'
  with open(os.path.join(DATA, '1AKE_A_hhsearch.hhr'), 'w') as f:
    f.write(hhr)
  hits = [dataclasses.asdict(h) for h in parsers.parse_hhr(hhr)]
  with open(os.path.join(REF, 'hhr_1AKE_A.json'), 'w') as f:
    json.dump(hits, f, indent=1)
  print(f'{len(hits)} hits')


if __name__ == '__main__':
  main()
