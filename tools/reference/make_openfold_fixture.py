"""Makes an OpenFold checkpoint (`.pt`) holding the reduced fixture's parameters.

OpenFold's own code does the work: its `AlphaFold` module is built with the reduced preset's
sizes, DeepMind's parameter file is loaded into it by OpenFold's `import_jax_weights_`, and the
module's `state_dict()` is saved with `torch.save`, exactly as OpenFold's released checkpoints
are. ferrofold reading this file back must then compute what it computes from the `.npz`.

Needs torch (PyPI) and an OpenFold source tree (github: aqlaboratory/openfold; not on PyPI).
OpenFold's CUDA attention extension is not needed for building the module and importing
weights, so an empty stand-in module takes its import.

    python make_openfold_fixture.py --openfold-src /path/to/openfold \
        --params ../../tests/fixtures/reference/reduced_s0/params_reduced.npz \
        --out ../../tests/fixtures/reference/reduced_s0/openfold_reduced.pt

With --full, OpenFold's model_1_ptm at full size takes a full-size parameter file (such as
make_ref.py --preset model_1_ptm writes).
"""

import argparse
import json
import os
import subprocess
import sys
import types


def reduced_config(model_config):
    """OpenFold's model_1_ptm configuration with the reduced preset's sizes (model/src/config.rs)."""
    c = model_config("model_1_ptm")
    c.globals.c_m = 16
    c.globals.c_z = 8
    c.globals.c_t = 8
    c.globals.c_e = 8
    c.globals.c_s = 32
    m = c.model
    t = m.template
    t.template_pair_stack.c_hidden_tri_att = 4
    t.template_pair_stack.c_hidden_tri_mul = 8
    t.template_pair_stack.no_heads = 2
    t.template_pointwise_attention.c_hidden = 4
    t.template_pointwise_attention.no_heads = 2
    e = m.extra_msa.extra_msa_stack
    e.c_hidden_msa_att = 4
    e.c_hidden_opm = 4
    e.c_hidden_mul = 8
    e.c_hidden_pair_att = 4
    e.no_heads_msa = 2
    e.no_heads_pair = 2
    e.no_blocks = 1
    s = m.evoformer_stack
    s.c_hidden_msa_att = 8
    s.c_hidden_opm = 4
    s.c_hidden_mul = 8
    s.c_hidden_pair_att = 4
    s.no_heads_msa = 2
    s.no_heads_pair = 2
    s.no_blocks = 2
    sm = m.structure_module
    sm.c_ipa = 4
    sm.c_resnet = 8
    sm.no_heads_ipa = 2
    sm.no_qk_points = 2
    sm.no_v_points = 2
    sm.no_blocks = 2
    m.heads.lddt.c_hidden = 8
    return c


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--openfold-src", required=True, help="directory holding the openfold package")
    parser.add_argument("--params", required=True, help="DeepMind-layout .npz of the reduced preset")
    parser.add_argument("--out", required=True, help="the .pt to write")
    parser.add_argument("--full", action="store_true",
                        help="OpenFold's model_1_ptm at full size (for a full-size parameter file)")
    args = parser.parse_args()

    sys.path.insert(0, args.openfold_src)
    # OpenFold imports its compiled attention kernel at module load; building the module and
    # importing weights never call it.
    sys.modules.setdefault("attn_core_inplace_cuda", types.ModuleType("attn_core_inplace_cuda"))

    import torch
    from openfold.config import model_config
    from openfold.model.model import AlphaFold
    from openfold.utils.import_weights import import_jax_weights_

    config = model_config("model_1_ptm") if args.full else reduced_config(model_config)
    model = AlphaFold(config)
    import_jax_weights_(model, args.params, version="model_1_ptm")
    state = model.state_dict()
    torch.save(state, args.out)
    # Provenance beside the checkpoint: the OpenFold revision and torch version that made it.
    try:
        revision = subprocess.run(["git", "-C", args.openfold_src, "rev-parse", "HEAD"],
                                  capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        revision = None
    meta = {
        "generator": "tools/reference/make_openfold_fixture.py",
        "args": vars(args),
        "openfold_revision": revision,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "tensors": len(state),
        "parameters": int(sum(v.numel() for v in state.values())),
    }
    with open(os.path.splitext(args.out)[0] + ".meta.json", "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
