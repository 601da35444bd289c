#!/usr/bin/env bash
# Builds the Python environment that runs DeepMind's AlphaFold2 code on CPU (PyPI only).
# jaxlib 0.4.38 on purpose: 0.4.2x computes wrong float32 under jit on AVX-512 CPUs
# (see check_xla_cpu.py). Idempotent: an existing venv is reused.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -x venv/bin/python ]; then
  python3 -m venv venv
  venv/bin/pip install -q --upgrade pip
fi
venv/bin/pip install -q "jax[cpu]==0.4.38" "jaxlib==0.4.38" "dm-haiku==0.0.13" \
    "numpy==1.26.4" "scipy==1.13.1" "ml-collections==1.1.0" "dm-tree==0.1.10" \
    "absl-py==2.5.1" "immutabledict==4.3.1" "biopython==1.79" "pandas==2.2.3"
# biopython 1.79: the last release with Bio.Data.SCOPData, which alphafold.data imports.
# DeepMind's model code; its declared dependencies pull tensorflow and docker, which it does not need here.
venv/bin/pip install -q --no-deps "alphafold==2.0.0"
# DeepMind's v2.3.2 input pipeline on a NumPy backend, kept out of site-packages (af2compat.py wires it in).
[ -d cf_pipeline/alphafold ] || venv/bin/pip install -q --no-deps --target cf_pipeline "alphafold-colabfold==2.3.27"
# DeepMind's AlphaFold v2.3.2 source, for the multimer network (PyPI's alphafold stops at 2.0.0):
# a clone of tag v2.3.2, or an existing checkout of it named by ALPHAFOLD_V232_SRC.
if [ ! -d af232/alphafold ]; then
  if [ -n "${ALPHAFOLD_V232_SRC:-}" ]; then
    mkdir -p af232 && cp -r "$ALPHAFOLD_V232_SRC/alphafold" af232/
  else
    git clone --quiet --depth 1 --branch v2.3.2 https://github.com/google-deepmind/alphafold.git af232
  fi
fi
venv/bin/python -c "import sys; sys.path.insert(0,'af232'); from alphafold.model import modules_multimer"
venv/bin/python -c "import sys; sys.path.insert(0,'.'); import af2compat; \
from alphafold.model import modules; from alphafold.model.tf import input_pipeline; print('reference env ok')"
