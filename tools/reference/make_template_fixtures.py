#!/usr/bin/env python3
"""Fixture for ferrofold's template featurization (features/src/templates.rs).

DeepMind's TemplateHitFeaturizer (alphafold 2.0.0, `alphafold/data/templates.py` and
`mmcif_parsing.py`; the atom reader of its v2.3, see below) turns hhsearch hits + mmCIF files into AlphaFold's template features. This
script builds a case that walks through its branches and records what it returns:

  * an hhsearch run (Debian hhsuite) of 2HHB_B's jackhmmer alignment against a database of 16
    chains of the project's data set ($FERROFOLD_DATA) (their jackhmmer alignments, or the sequence alone): a real homolog
    (2HHB_A), the query itself (removed as a duplicate), weak hits (some removed by the
    align-ratio filter);
  * mmCIF files rewritten from $FERROFOLD_DATA/structures with Biopython: release dates added
    (two entries released after the cut-off, one between the two runs' cut-offs), chem_comp
    types set (the originals say '.', and AlphaFold keeps only chains with peptide components),
    2HHB's chains A and B in one file; in chain A one residue of the SEQRES changed (the hit's
    sequence is then not in the file: kalign realignment), Met 32 as selenomethionine (MSE, its
    SE stored as SD), the first arginine's NH1/NH2 swapped (AlphaFold renames them back) and
    residues 50-52 without atoms (missing);
    1UBQ's Met 1 as selenomethionine too;
  * two featurizer runs: max 20 hits with a 2005-01-01 cut-off, and max 3 hits with a query
    release date (cut-off = 60 days before it).

Outputs (tests/fixtures/data/templates/, tests/fixtures/reference/):
  templates/2HHB_B.fasta, templates/2HHB_B_hhsearch.hhr,
  templates/mmcif/*.cif     the inputs
  templates_2HHB_B.npz      each run's numeric features, keys `<run>/<feature>`
  templates_2HHB_B.json     each run's settings, strings, errors and warnings

Run: tools/reference/venv/bin/python tools/reference/make_template_fixtures.py
"""
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import af2compat  # noqa: E402,F401  (before any alphafold import)

# alphafold 2.0.0's wheel lacks alphafold.data.tools; templates.py needs only its kalign wrapper,
# which the ColabFold wheel (cf_pipeline/) ships unchanged from DeepMind.
import alphafold.data  # noqa: E402
if not hasattr(np, 'object'):
  np.object = object  # templates.py's dtype table; numpy 1.24 removed the alias
_tools = types.ModuleType('alphafold.data.tools')
_tools.__path__ = [os.path.join(af2compat.CF_PIPELINE, 'alphafold', 'data', 'tools')]
sys.modules['alphafold.data.tools'] = _tools
alphafold.data.tools = _tools

from alphafold.data import parsers, templates  # noqa: E402
import importlib.util  # noqa: E402

# DeepMind's later releases (2.1 on) also put arginine NH1/NH2 back in order when an entry
# names them the other way round; ferrofold does too. Their `_get_atom_positions` (as the
# ColabFold wheel ships DeepMind's v2.3 code) replaces 2.0.0's, which lacks that step.
_spec = importlib.util.spec_from_file_location(
    'af_v23_templates', os.path.join(af2compat.CF_PIPELINE, 'alphafold', 'data', 'templates.py'))
_v23 = importlib.util.module_from_spec(_spec)
parsers.TemplateHit = parsers.HhrHit  # v2.3's name of the class, used in its annotations
_spec.loader.exec_module(_v23)
templates._get_atom_positions = _v23._get_atom_positions
from Bio.PDB.MMCIF2Dict import MMCIF2Dict  # noqa: E402
from Bio.PDB.mmcifio import MMCIFIO  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
if 'FERROFOLD_DATA' not in os.environ:
    sys.exit('set FERROFOLD_DATA to the data set directory (structures/, msa/jackhmmer/, fasta/)')
SHARED = os.path.abspath(os.environ['FERROFOLD_DATA'])
OUT_DATA = os.path.join(ROOT, 'tests', 'fixtures', 'data', 'templates')
OUT_REF = os.path.join(ROOT, 'tests', 'fixtures', 'reference')
QUERY = '2HHB_B'
DATABASE = ['2HHB_A', '2HHB_B', '1A1X_A', '1ORC_A', '2E12_A', '4CUP_A', '2OFG_X', '1BX8_A',
            '1LJO_A', '1UBQ_A', '5PTI_A', '1HEL_A', '1A8O_A', '1VII_A', '1FAS_A', '1ADZ_A']
RELEASED = {'1a8o': '2010-03-02', '1fas': '2007-11-20', '1a1x': '2004-06-01', '2e12': '2001-05-01'}
CSTRANSLATE = '/usr/libexec/hhsuite/cstranslate-avx2'  # the `cstranslate` wrapper is broken
RUNS = [
    # name, max_hits, max_template_date, query_release_date
    ('max20', 20, '2005-01-01', None),
    ('max3_query_date', 3, '2005-01-01', '2003-02-15'),
]
AMINO_ACIDS = {'ALA', 'ARG', 'ASN', 'ASP', 'CYS', 'GLN', 'GLU', 'GLY', 'HIS', 'ILE', 'LEU', 'LYS',
               'MET', 'PHE', 'PRO', 'SER', 'THR', 'TRP', 'TYR', 'VAL', 'MSE'}


def run(*args, cwd):
  subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def observed_sequence(key):
  with open(os.path.join(SHARED, 'fasta', f'{key}.fasta')) as f:
    return parsers.parse_fasta(f.read())[0][0]


def query_a3m(key):
  sto = os.path.join(SHARED, 'msa', 'jackhmmer', f'{key}.sto')
  if os.path.exists(sto):
    with open(sto) as f:
      a3m = parsers.convert_stockholm_to_a3m(f.read())
    # The first row names the HMM (the hit name in the .hhr): the chain key, as PDB70's are.
    lines = a3m.splitlines()
    lines[0] = f'>{key}'
    return '\n'.join(lines) + '\n'
  return f'>{key}\n{observed_sequence(key)}\n'


def search():
  with tempfile.TemporaryDirectory() as work:
    os.makedirs(os.path.join(work, 'a3m'))
    os.makedirs(os.path.join(work, 'hhm'))
    for key in DATABASE:
      with open(os.path.join(work, 'a3m', f'{key}.a3m'), 'w') as f:
        f.write(query_a3m(key))
      run('hhmake', '-i', f'a3m/{key}.a3m', '-o', f'hhm/{key}.hhm', '-v', '0', cwd=work)
    run('ffindex_build', '-s', 'db_a3m.ffdata', 'db_a3m.ffindex', 'a3m/', cwd=work)
    run('ffindex_build', '-s', 'db_hhm.ffdata', 'db_hhm.ffindex', 'hhm/', cwd=work)
    run(CSTRANSLATE, '-f', '-x', '0.3', '-c', '4', '-I', 'a3m', '-i', 'db_a3m', '-o', 'db_cs219',
        cwd=work)
    run('hhsearch', '-i', f'a3m/{QUERY}.a3m', '-d', 'db', '-o', 'out.hhr', '-p', '0', '-E',
        '1000', '-Z', '100', '-B', '100', '-v', '0', '-cpu', '1', cwd=work)
    with open(os.path.join(work, 'out.hhr')) as f:
      hhr = f.read()
  # The header's date and command line change with every run; fixed so the fixture is stable.
  lines = [('Date          (fixture)' if l.startswith('Date ') else
            f'Command       hhsearch -i {QUERY}.a3m -d db -o out.hhr -p 0 -E 1000' if
            l.startswith('Command ') else l) for l in hhr.splitlines()]
  return '\n'.join(lines) + '\n'


def as_lists(d):
  return {k: (v if isinstance(v, list) or k == 'data_' else [v]) for k, v in d.items()}


def merge(first, second):
  """One entry holding both chains: the loops of `second` appended to those of `first`."""
  merged = dict(first)
  for key, values in second.items():
    category = key.split('.')[0]
    if category in ('_atom_site', '_entity', '_entity_poly', '_entity_poly_seq', '_struct_asym'):
      merged[key] = first[key] + values
  merged['_atom_site.id'] = [str(i + 1) for i in range(len(merged['_atom_site.id']))]
  return merged


def rewrite(pdb_id, d):
  d = as_lists(d)
  comps = sorted(set(d['_entity_poly_seq.mon_id']) | set(d['_atom_site.label_comp_id']))
  d['_chem_comp.id'] = comps
  d['_chem_comp.type'] = ['L-peptide linking' if c in AMINO_ACIDS else 'non-polymer'
                          for c in comps]
  released = RELEASED.get(pdb_id, '1990-01-01')
  # Several revisions: the release is the oldest.
  d['_pdbx_audit_revision_history.ordinal'] = ['1', '2']
  d['_pdbx_audit_revision_history.revision_date'] = ['2011-07-13', released]
  d['_exptl.entry_id'] = [d['_entry.id'][0]]
  d['_exptl.method'] = ['X-RAY DIFFRACTION']
  d['_refine.entry_id'] = [d['_entry.id'][0]]
  d['_refine.ls_d_res_high'] = ['1.85']
  return d


def mutate_seqres(d, position, residue):
  seq = list(d['_entity_poly_seq.mon_id'])
  seq[position] = residue
  d['_entity_poly_seq.mon_id'] = seq


def make_selenomethionine(d, label_seq_id):
  site = d['_atom_site.label_seq_id']
  for i, seq_id in enumerate(site):
    if seq_id == label_seq_id:
      assert d['_atom_site.label_comp_id'][i] == 'MET'
      d['_atom_site.group_PDB'][i] = 'HETATM'
      d['_atom_site.label_comp_id'][i] = 'MSE'
      if d['_atom_site.label_atom_id'][i] == 'SD':
        d['_atom_site.label_atom_id'][i] = 'SE'
        d['_atom_site.type_symbol'][i] = 'SE'
  seq = d['_entity_poly_seq.mon_id']
  seq[int(label_seq_id) - 1] = 'MSE'


def swap_first_arginine_nh(d):
  names = d['_atom_site.label_atom_id']
  comps = d['_atom_site.label_comp_id']
  nh1 = next(i for i, (n, c) in enumerate(zip(names, comps)) if c == 'ARG' and n == 'NH1')
  nh2 = next(i for i in range(nh1, len(names)) if names[i] == 'NH2')
  for axis in ('x', 'y', 'z'):
    column = d[f'_atom_site.Cartn_{axis}']
    column[nh1], column[nh2] = column[nh2], column[nh1]


def drop_residues(d, label_seq_ids):
  keep = [i for i, s in enumerate(d['_atom_site.label_seq_id']) if s not in label_seq_ids]
  for key in [k for k in d if k.startswith('_atom_site.')]:
    d[key] = [d[key][i] for i in keep]


def modify(key, d):
  if key == '2HHB_A':
    # One residue of the aligned region differs (realignment); Met 32 as selenomethionine;
    # the first arginine's NH1/NH2 swapped; residues 50-52 unobserved (in SEQRES, no atoms).
    mutate_seqres(d, 10, 'ALA')
    drop_residues(d, {'50', '51', '52'})
    make_selenomethionine(d, next(s for s, c in zip(d['_atom_site.label_seq_id'],
                                                     d['_atom_site.label_comp_id']) if c == 'MET'))
    swap_first_arginine_nh(d)
  if key == '1UBQ_A':
    make_selenomethionine(d, '1')


def write_mmcif(directory):
  entries = {}
  for key in DATABASE:
    pdb_id = key.split('_')[0].lower()
    d = as_lists(MMCIF2Dict(os.path.join(SHARED, 'structures', f'{key}.cif')))
    modify(key, d)
    entries[pdb_id] = merge(entries[pdb_id], d) if pdb_id in entries else d
  for pdb_id, d in entries.items():
    io = MMCIFIO()
    io.set_dict(rewrite(pdb_id, d))
    io.save(os.path.join(directory, f'{pdb_id}.cif'))


def main():
  hhr_path = os.path.join(OUT_DATA, f'{QUERY}_hhsearch.hhr')
  mmcif_dir = os.path.join(OUT_DATA, 'mmcif')
  os.makedirs(OUT_DATA, exist_ok=True)
  shutil.rmtree(mmcif_dir, ignore_errors=True)
  os.makedirs(mmcif_dir)
  with open(hhr_path, 'w') as f:
    f.write(search())
  with open(os.path.join(OUT_DATA, f'{QUERY}.fasta'), 'w') as f:
    f.write(f'>{QUERY}\n{observed_sequence(QUERY)}\n')
  write_mmcif(mmcif_dir)

  with open(hhr_path) as f:
    hits = parsers.parse_hhr(f.read())
  query_sequence = observed_sequence(QUERY)
  arrays = {}
  report = {'query': QUERY, 'query_sequence': query_sequence, 'runs': []}
  for name, max_hits, max_date, query_date in RUNS:
    featurizer = templates.TemplateHitFeaturizer(
        mmcif_dir=mmcif_dir, max_template_date=max_date, max_hits=max_hits,
        kalign_binary_path=shutil.which('kalign'), release_dates_path=None,
        obsolete_pdbs_path=None)
    result = featurizer.get_templates(
        query_sequence=query_sequence, query_pdb_code=None,
        query_release_date=(datetime.datetime.strptime(query_date, '%Y-%m-%d')
                            if query_date else None),
        hhr_hits=hits)
    f = result.features
    for key, value in f.items():
      if value.dtype != object:
        arrays[f'{name}/{key}'] = value
    report['runs'].append({
        'name': name, 'max_hits': max_hits, 'max_template_date': max_date,
        'query_release_date': query_date,
        'template_domain_names': [x.decode() for x in f['template_domain_names']],
        'template_sequence': [x.decode() for x in f['template_sequence']],
        'template_release_date': [x.decode() for x in f['template_release_date']],
        'errors': list(result.errors), 'warnings': list(result.warnings),
    })
    print(name, report['runs'][-1]['template_domain_names'],
          f'{len(result.warnings)} warnings')
  np.savez_compressed(os.path.join(OUT_REF, f'templates_{QUERY}.npz'), **arrays)
  with open(os.path.join(OUT_REF, f'templates_{QUERY}.json'), 'w') as f:
    json.dump(report, f, indent=1)


if __name__ == '__main__':
  main()
