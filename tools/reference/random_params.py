"""Random parameters for the reference fixtures: haiku's initial values, every leaf perturbed
(shared by make_ref.py and make_multimer_ref.py)."""
import numpy as np

# Layer stacks: their parameters have a leading axis over the blocks.
STACKED_MARKERS = ('/evoformer_iteration', '/extra_msa_stack', '__layer_stack_no_state',
                   '/template_embedding_iteration')


def is_stacked(module_name):
  return any(m in module_name for m in STACKED_MARKERS)


def perturb_params(params, rng, rel=0.1, const_scale=0.1):
  """Haiku init -> random-normal perturbation of EVERY leaf.

  * leaves that haiku initialised randomly: w + rel*std(w)*N(0,1)
  * constant leaves (zero-initialised final layers / gates, biases, LayerNorm
    scale/offset, gating_b=1, IPA point weights):
      - weight tensors: N(0, 1/fan_in)  (fan_in = input channels), added
      - vectors: c + const_scale*N(0,1)
  All float32.
  """
  out = {}
  for mod, d in params.items():
    out[mod] = {}
    stacked = is_stacked(mod)
    for name, v in d.items():
      v = np.asarray(v, np.float32)
      shp = v.shape[1:] if stacked else v.shape
      if v.size > 1 and np.std(v) > 0:
        noise = rel * np.std(v) * rng.standard_normal(v.shape)
      elif len(shp) >= 2:
        if name == 'output_w':          # [heads, c, out]
          fan_in = int(np.prod(shp[:-1]))
        elif name.endswith('_w'):       # [in, heads, c] / [in, heads]
          fan_in = int(shp[0])
        else:                           # Linear 'weights' [in, out]
          fan_in = int(np.prod(shp[:-1]))
        noise = rng.standard_normal(v.shape) / np.sqrt(fan_in)
      else:
        noise = const_scale * rng.standard_normal(v.shape)
      out[mod][name] = (v + noise).astype(np.float32)
  return out
