#!/usr/bin/env python3
"""Fixture for the parity tests of ferrofold's training losses (training/src/losses/).

DeepMind's loss functions (alphafold 2.0.0: folding.StructureModule.loss with backbone and
side-chain FAPE, chi and angle-norm, structural violations; the heads' losses; lddt) run in
float64 on a real chain (tests/fixtures/data/1UBQ_A.pdb) against synthetic predictions: the true
structure moved by seeded noise, large in the early structure-module layers (so that FAPE's clamp
engages) and small in the last, with ten ambiguous residues predicted in their swapped naming (so
that the renaming picks the alternative ground truth). The predictions are saved as inputs; the
labels are DeepMind's own (atom37_to_frames, atom37_to_torsion_angles, atom37_to_atom14,
get_alt_atom14, pseudo_beta_fn), saved too so that the Rust test can check its own label code.

Outputs the losses, their parts, and the gradients of the structure-module loss and of each
head's loss with respect to its inputs (jax.grad), in tests/fixtures/reference/losses_1UBQ_A.npz.
Run: tools/reference/venv/bin/python tools/reference/make_loss_fixtures.py
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import af2compat  # noqa: E402,F401  (before any alphafold import)

import jax  # noqa: E402
jax.config.update('jax_enable_x64', True)
import haiku as hk  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402

from alphafold.common import protein as af_protein  # noqa: E402
from alphafold.common import residue_constants as rc  # noqa: E402
from alphafold.model import all_atom, config, folding, modules, quat_affine, r3  # noqa: E402
from alphafold.model import utils as af_utils  # noqa: E402
from make_fixtures import atom14_index_maps  # noqa: E402

# folding.find_structural_violations gathers from a Python list, which jax 0.4.38's take refuses.
_batched_gather = af_utils.batched_gather
af_utils.batched_gather = lambda params, indices, *a, **k: _batched_gather(
    jnp.asarray(params), indices, *a, **k)

ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
DATA = os.path.join(ROOT, 'tests', 'fixtures', 'data')
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'reference', 'losses_1UBQ_A.npz')
# residue_constants.load_stereo_chemical_props reads this path relative to the working
# directory; the alphafold 2.0.0 wheel lacks the file, the colabfold build of v2.3.2 has it.
STEREO_DIR = os.path.join(HERE, 'cf_pipeline')

LAYERS = 8
MSA_ROWS = 12


def labels(prot):
  aatype = prot.aatype
  pos = jnp.asarray(prot.atom_positions, jnp.float64)
  mask = jnp.asarray(prot.atom_mask, jnp.float64)
  to37, to14 = atom14_index_maps()
  atom37_exists = rc.restype_atom37_mask[aatype].astype(np.float64)
  atom14_exists = rc.restype_atom14_mask[aatype].astype(np.float64)
  batch14 = {'residx_atom14_to_atom37': jnp.asarray(to37[aatype]),
             'atom14_atom_exists': jnp.asarray(atom14_exists)}
  gt14 = all_atom.atom37_to_atom14(pos, batch14)
  gt14_exists = all_atom.atom37_to_atom14(mask, batch14)
  # all_atom.get_alt_atom14 multiplies a Vecs namedtuple by an array (tuple repetition in this
  # version), so its two lines are applied here with DeepMind's renaming matrices.
  renaming = all_atom.RENAMING_MATRICES[aatype].astype(np.float64)
  alt14 = np.einsum('rix,rij->rjx', np.asarray(gt14), renaming)
  alt14_exists = np.einsum('ri,rij->rj', np.asarray(gt14_exists), renaming)
  ambiguous = (np.einsum('rii->ri', renaming) == 0).astype(np.float64)
  frames = all_atom.atom37_to_frames(jnp.asarray(aatype), pos, mask)
  tors = all_atom.atom37_to_torsion_angles(jnp.asarray(aatype)[None], pos[None], mask[None])
  chi_sin_cos = np.asarray(tors['torsion_angles_sin_cos'])[0, :, 3:]
  backbone_rigid = r3.rigids_from_tensor_flat12(frames['rigidgroups_gt_frames'][:, 0])
  backbone_quat = quat_affine.rot_to_quat(
      [[backbone_rigid.rot.xx, backbone_rigid.rot.xy, backbone_rigid.rot.xz],
       [backbone_rigid.rot.yx, backbone_rigid.rot.yy, backbone_rigid.rot.yz],
       [backbone_rigid.rot.zx, backbone_rigid.rot.zy, backbone_rigid.rot.zz]])
  backbone_trans = r3.vecs_to_tensor(backbone_rigid.trans)
  pseudo_beta, pseudo_beta_mask = modules.pseudo_beta_fn(jnp.asarray(aatype), pos, mask)
  return {
      'aatype': aatype.astype(np.int32),
      'residue_index': prot.residue_index.astype(np.int32),
      'seq_mask': np.ones(len(aatype)),
      'all_atom_positions': np.asarray(pos),
      'all_atom_mask': np.asarray(mask),
      'atom37_atom_exists': atom37_exists,
      'atom14_atom_exists': atom14_exists,
      'residx_atom14_to_atom37': to37[aatype].astype(np.int32),
      'residx_atom37_to_atom14': to14[aatype].astype(np.int32),
      'atom14_gt_positions': np.asarray(gt14),
      'atom14_gt_exists': np.asarray(gt14_exists),
      'atom14_alt_gt_positions': alt14,
      'atom14_alt_gt_exists': np.asarray(alt14_exists),
      'atom14_atom_is_ambiguous': ambiguous,
      'rigidgroups_gt_frames': np.asarray(frames['rigidgroups_gt_frames']),
      'rigidgroups_gt_exists': np.asarray(frames['rigidgroups_gt_exists']),
      'rigidgroups_alt_gt_frames': np.asarray(frames['rigidgroups_alt_gt_frames']),
      'backbone_affine_tensor': np.concatenate(
          [np.asarray(backbone_quat), np.asarray(backbone_trans)], -1),
      'backbone_affine_mask': np.asarray(frames['rigidgroups_gt_exists'][:, 0]),
      'chi_angles': np.arctan2(chi_sin_cos[..., 0], chi_sin_cos[..., 1]),
      'chi_mask': np.asarray(tors['torsion_angles_mask'])[0, :, 3:],
      'pseudo_beta': np.asarray(pseudo_beta),
      'pseudo_beta_mask': np.asarray(pseudo_beta_mask),
      'resolution': np.float64(1.8),
  }


def random_rotation(rng, scale, n):
  """Rotations by small random angles (axis-angle with normal components of `scale` rad)."""
  v = rng.normal(scale=scale, size=(n, 3))
  theta = np.linalg.norm(v, axis=-1, keepdims=True)
  k = v / np.maximum(theta, 1e-12)
  kx = np.zeros((n, 3, 3))
  kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
  kx = kx - np.swapaxes(kx, 1, 2)
  t = theta[..., None]
  return np.eye(3)[None] + np.sin(t) * kx + (1 - np.cos(t)) * kx @ kx


def logits(rng, shape):
  # Multiples of 1/8: exact in any precision, and few distinct values keep the file small.
  return np.round(rng.normal(scale=2.0, size=shape) * 8) / 8


def predictions(rng, lab):
  n = len(lab['aatype'])
  quat = lab['backbone_affine_tensor'][:, :4]
  trans = lab['backbone_affine_tensor'][:, 4:]
  noise = [12.0, 8.0, 5.0, 3.0, 2.0, 1.5, 1.0, 0.5]
  traj = []
  for sigma in noise:
    q = quat + rng.normal(scale=0.05 * sigma, size=quat.shape)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    traj.append(np.concatenate([q, trans + rng.normal(scale=sigma, size=trans.shape)], -1))
  traj = np.stack(traj)

  frames = lab['rigidgroups_gt_frames'].reshape(n * 8, 12).copy()
  rot = frames[:, :9].reshape(-1, 3, 3) @ random_rotation(rng, 0.1, n * 8)
  frames[:, :9] = rot.reshape(-1, 9)
  frames[:, 9:] += rng.normal(scale=0.5, size=(n * 8, 3))
  sc_frames = frames.reshape(n, 8, 12)

  # Ten ambiguous residues predicted in their alternative naming, so that renaming flips them.
  ambiguous_residues = np.nonzero(lab['atom14_atom_is_ambiguous'].max(-1))[0]
  swapped = rng.choice(ambiguous_residues, size=min(10, len(ambiguous_residues)), replace=False)
  atom14 = lab['atom14_gt_positions'].copy()
  atom14[swapped] = lab['atom14_alt_gt_positions'][swapped]
  ca = lab['atom14_gt_positions'][:, 1:2]
  atom14 = np.where(lab['atom14_gt_exists'][..., None] > 0, atom14,
                    ca + rng.normal(scale=1.5, size=atom14.shape))
  atom14 = atom14 + rng.normal(scale=0.1, size=atom14.shape)
  atom14 *= lab['atom14_atom_exists'][..., None]

  unnormalized = rng.normal(size=(LAYERS, n, 7, 2))
  angles = unnormalized / np.linalg.norm(unnormalized, axis=-1, keepdims=True)
  return {
      'traj': traj,
      'sidechain_frames': sc_frames,
      'atom14_pred_positions': atom14,
      'swapped_residues': np.sort(swapped).astype(np.int32),
      'unnormalized_angles_sin_cos': unnormalized,
      'angles_sin_cos': angles,
      'distogram_logits': logits(rng, (n, n, 64)),
      'masked_msa_logits': logits(rng, (MSA_ROWS, n, 23)),
      'true_msa': rng.integers(0, 22, size=(MSA_ROWS, n)).astype(np.int32),
      'bert_mask': (rng.random((MSA_ROWS, n)) < 0.15).astype(np.float64),
      'predicted_lddt_logits': logits(rng, (n, 50)),
      'experimentally_resolved_logits': logits(rng, (n, 37)),
      'predicted_aligned_error_logits': logits(rng, (n, n, 64)),
  }


def main():
  rng = np.random.default_rng(20261127)
  with open(os.path.join(DATA, '1UBQ_A.pdb')) as f:
    prot = af_protein.from_pdb_string(f.read())
  lab = labels(prot)
  pred = predictions(rng, lab)
  cfg = config.model_config('model_1_ptm').model
  heads = cfg.heads
  sm_config = heads.structure_module
  batch = {k: jnp.asarray(v) for k, v in lab.items()}
  n = len(lab['aatype'])
  to37 = lab['residx_atom14_to_atom37']

  def sm_value(traj, sc_frames, atom14, angles, unnormalized):
    return {
        'traj': traj,
        'sidechains': {
            'frames': r3.rigids_from_tensor_flat12(sc_frames[None]),
            'atom_pos': r3.vecs_from_tensor(atom14[None]),
            'angles_sin_cos': angles,
            'unnormalized_angles_sin_cos': unnormalized,
        },
        'final_atom14_positions': atom14,
    }

  def structure_loss(traj, sc_frames, atom14, angles, unnormalized):
    module = folding.StructureModule(sm_config, cfg.global_config)
    return module.loss(sm_value(traj, sc_frames, atom14, angles, unnormalized), batch)

  sm_inputs = [jnp.asarray(pred[k]) for k in (
      'traj', 'sidechain_frames', 'atom14_pred_positions', 'angles_sin_cos',
      'unnormalized_angles_sin_cos')]
  sm_fn = hk.transform(structure_loss)
  cwd = os.getcwd()
  os.chdir(STEREO_DIR)
  try:
    sm = sm_fn.apply({}, None, *sm_inputs)
    sm_grads = jax.grad(lambda *a: sm_fn.apply({}, None, *a)['loss'],
                        argnums=(0, 1, 2, 3, 4))(*sm_inputs)
    value = sm_value(*sm_inputs)
    value.update(folding.compute_renamed_ground_truth(batch, sm_inputs[2]))
    violations = folding.find_structural_violations(batch, sm_inputs[2], sm_config)
    violation_metrics = folding.compute_violation_metrics(batch, sm_inputs[2], violations)
    bounds = rc.make_atom14_dists_bounds(
        overlap_tolerance=sm_config.clash_overlap_tolerance,
        bond_length_tolerance_factor=sm_config.violation_tolerance_factor)
  finally:
    os.chdir(cwd)

  unclamped = {'loss': 0.0}
  folding.backbone_loss(unclamped, dict(batch, use_clamped_fape=0.0), value, sm_config)
  per_layer_fape = jax.vmap(
      lambda t: all_atom.frame_aligned_point_error(
          r3.rigids_from_quataffine(quat_affine.QuatAffine.from_tensor(t)),
          r3.rigids_from_quataffine(
              quat_affine.QuatAffine.from_tensor(batch['backbone_affine_tensor'])),
          batch['backbone_affine_mask'],
          r3.rigids_from_quataffine(quat_affine.QuatAffine.from_tensor(t)).trans,
          r3.rigids_from_quataffine(
              quat_affine.QuatAffine.from_tensor(batch['backbone_affine_tensor'])).trans,
          batch['backbone_affine_mask'], l1_clamp_distance=sm_config.fape.clamp_distance,
          length_scale=sm_config.fape.loss_unit_distance))(sm_inputs[0])

  atom37_pred = all_atom.atom14_to_atom37(
      sm_inputs[2], {'residx_atom37_to_atom14': batch['residx_atom37_to_atom14'],
                     'atom37_atom_exists': batch['atom37_atom_exists']})
  atom37_pred = atom37_pred * batch['atom37_atom_exists'][..., None]

  def head_loss(cls, head_config, name, field, logits):
    def fn(logits):
      head = cls(head_config, cfg.global_config)
      value = {'logits': logits}
      if name == 'distogram':
        value['bin_edges'] = jnp.linspace(head_config.first_break, head_config.last_break,
                                          head_config.num_bins - 1)
      if name == 'predicted_lddt':
        value = {'predicted_lddt': value,
                 'structure_module': {'final_atom_positions': atom37_pred}}
      if name == 'predicted_aligned_error':
        value['breaks'] = jnp.linspace(0., head_config.max_error_bin, head_config.num_bins - 1)
        value = {'predicted_aligned_error': value,
                 'structure_module': {'final_affines': sm_inputs[0][-1]}}
      return head.loss(value, dict(batch, true_msa=jnp.asarray(pred['true_msa']),
                                   bert_mask=jnp.asarray(pred['bert_mask'])))['loss']
    f = hk.transform(fn)
    loss = f.apply({}, None, logits)
    grad = jax.grad(lambda x: f.apply({}, None, x))(logits)
    grad = np.asarray(grad)
    if grad.ndim == 3 and name != 'masked_msa':
      grad = grad[:16]  # pair logits: the first 16 rows keep the fixture small
    return {f'{name}_loss': np.asarray(loss), f'{name}_grad': grad}

  pae_config = ml_collections.ConfigDict(heads.predicted_aligned_error.to_dict())
  out = {}
  for cls, head_config, name in (
      (modules.DistogramHead, heads.distogram, 'distogram'),
      (modules.MaskedMsaHead, heads.masked_msa, 'masked_msa'),
      (modules.PredictedLDDTHead, heads.predicted_lddt, 'predicted_lddt'),
      (modules.ExperimentallyResolvedHead, heads.experimentally_resolved,
       'experimentally_resolved'),
      (modules.PredictedAlignedErrorHead, pae_config, 'predicted_aligned_error'),
  ):
    out.update(head_loss(cls, head_config, name, None,
                         jnp.asarray(pred[f'{name}_logits'])))

  from alphafold.model import lddt as af_lddt  # noqa: E402
  out['lddt_ca_per_residue'] = np.asarray(af_lddt.lddt(
      atom37_pred[None, :, 1], batch['all_atom_positions'][None, :, 1],
      batch['all_atom_mask'][None, :, 1:2], cutoff=15., per_residue=True)[0])

  br, wr = violations['between_residues'], violations['within_residues']
  out.update({
      'structure_module_loss': np.asarray(sm['loss']),
      'backbone_fape_last': np.asarray(sm['fape']),
      'backbone_fape_per_layer': np.asarray(per_layer_fape),
      'backbone_fape_unclamped_mean': np.asarray(unclamped['loss']),
      'sidechain_fape': np.asarray(sm['sidechain_fape']),
      'chi_loss': np.asarray(sm['chi_loss']),
      'angle_norm_loss': np.asarray(sm['angle_norm_loss']),
      'alt_naming_is_better': np.asarray(value['alt_naming_is_better']),
      'bonds_c_n_loss_mean': np.asarray(br['bonds_c_n_loss_mean']),
      'angles_ca_c_n_loss_mean': np.asarray(br['angles_ca_c_n_loss_mean']),
      'angles_c_n_ca_loss_mean': np.asarray(br['angles_c_n_ca_loss_mean']),
      'connections_per_residue_loss_sum': np.asarray(br['connections_per_residue_loss_sum']),
      'connections_per_residue_violation_mask':
          np.asarray(br['connections_per_residue_violation_mask']),
      'clashes_mean_loss': np.asarray(br['clashes_mean_loss']),
      'clashes_per_atom_loss_sum': np.asarray(br['clashes_per_atom_loss_sum']),
      'clashes_per_atom_clash_mask': np.asarray(br['clashes_per_atom_clash_mask']),
      'within_per_atom_loss_sum': np.asarray(wr['per_atom_loss_sum']),
      'within_per_atom_violations': np.asarray(wr['per_atom_violations']),
      'total_per_residue_violations_mask':
          np.asarray(violations['total_per_residue_violations_mask']),
      'atom14_dists_lower_bound': np.asarray(bounds['lower_bound'], np.float64),
      'atom14_dists_upper_bound': np.asarray(bounds['upper_bound'], np.float64),
      'final_atom_positions': np.asarray(atom37_pred),
  })
  out.update({f'metric_{k}': np.asarray(v) for k, v in violation_metrics.items()})
  out.update({f'structure_module_grad_{k}': np.asarray(g) for k, g in zip(
      ('traj', 'sidechain_frames', 'atom14_pred_positions', 'angles_sin_cos',
       'unnormalized_angles_sin_cos'), sm_grads)})
  out.update({f'label_{k}': np.asarray(v) for k, v in lab.items()})
  out.update({f'pred_{k}': np.asarray(v) for k, v in pred.items()})
  np.savez_compressed(OUT, **out)
  print(f'wrote {OUT}: {len(out)} arrays; structure loss {float(sm["loss"]):.6f}, '
        f'{int(out["alt_naming_is_better"].sum())} renamed, '
        f'{int(out["total_per_residue_violations_mask"].sum())} residues with violations; '
        f'residues {n}, atom14 map {to37.shape}')


if __name__ == '__main__':
  main()
