#!/usr/bin/env python3
"""The one-letter parent of every chemical component AlphaFold's mmCIF reader knows.

DeepMind's `mmcif_parsing.parse` (alphafold 2.0.0) turns `_entity_poly_seq.mon_id` into the
SEQRES letters with Biopython 1.79's `SCOPData.protein_letters_3to1` (modified residues map to
their parent, e.g. MSE -> M; anything else -> X). This writes that table as
features/src/modified_residues.txt (`CCD-ID LETTER` per line; entries mapping to X or to more
than one letter are left out, since both read as X), which features/src/parsers/mmcif.rs embeds.

Run: tools/reference/venv/bin/python tools/reference/make_modified_residues.py
"""
import os

from Bio.Data import SCOPData

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'features', 'src', 'modified_residues.txt')

rows = sorted((k, v) for k, v in SCOPData.protein_letters_3to1.items()
              if len(v) == 1 and v != 'X')
with open(OUT, 'w') as f:
  for k, v in rows:
    f.write(f'{k} {v}\n')
print(f'{len(rows)} components')
