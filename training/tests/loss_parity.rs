//! Every loss equals DeepMind's (alphafold 2.0.0, float64) on a real chain with synthetic
//! predictions, and so do the gradients of the structure-module loss and of each head's loss
//! (tools/reference/make_loss_fixtures.py writes the fixture).

use burn::backend::Autodiff;
use burn::prelude::*;
use ferrofold_features::labels::{Atom14, RigidGroupFrames};
use ferrofold_features::protein::read_structure;
use ferrofold_features::FeatureDict;
use ferrofold_model::host::host_tensor;
use ferrofold_model::host::to_array;
use ferrofold_model::CpuF64;
use ferrofold_tests::fixtures;
use ferrofold_training::labels::StructureLabels;
use ferrofold_training::losses::violations::{find_structural_violations, ViolationConfig};
use ferrofold_training::losses::{
    alphafold_loss, chi, fape, heads, LossConfig, MsaTargets, Predictions,
};
use ndarray::{Array1, Array2, Array3, ArrayD, Ix1, Ix2, Ix3};

type B = CpuF64;
type AD = Autodiff<CpuF64>;
struct Fixture(FeatureDict);

impl Fixture {
    fn load() -> Self {
        let path = fixtures().join("reference/losses_1UBQ_A.npz");
        Self(FeatureDict::load_npz(&path).unwrap_or_else(|e| panic!("{e}")))
    }
    fn get(&self, name: &str) -> ArrayD<f64> {
        self.0.get(name).unwrap_or_else(|| panic!("`{name}` missing")).to_f64()
    }
    fn scalar(&self, name: &str) -> f64 {
        self.get(name).iter().next().copied().expect("scalar")
    }
    fn a1(&self, name: &str) -> Array1<f64> {
        self.get(name).into_dimensionality::<Ix1>().unwrap()
    }
    fn a2(&self, name: &str) -> Array2<f64> {
        self.get(name).into_dimensionality::<Ix2>().unwrap()
    }
    fn a3(&self, name: &str) -> Array3<f64> {
        self.get(name).into_dimensionality::<Ix3>().unwrap()
    }
    fn tensor<Bk: Backend, const D: usize>(&self, name: &str) -> Tensor<Bk, D> {
        host_tensor(self.get(name), &Default::default())
    }

    /// DeepMind's labels, as ferrofold's label type.
    fn labels(&self) -> StructureLabels {
        let int = |name: &str| self.a1(name).mapv(|x| x as i32);
        let rigid = RigidGroupFrames {
            gt_frames: self.a3("label_rigidgroups_gt_frames"),
            gt_exists: self.a2("label_rigidgroups_gt_exists"),
            group_exists: self.a2("label_rigidgroups_gt_exists"),
            group_is_ambiguous: Array2::zeros((0, 0)),
            alt_gt_frames: self.a3("label_rigidgroups_alt_gt_frames"),
        };
        StructureLabels {
            aatype: int("label_aatype"),
            residue_index: int("label_residue_index"),
            all_atom_positions: self.a3("label_all_atom_positions"),
            all_atom_mask: self.a2("label_all_atom_mask"),
            atom37_atom_exists: self.a2("label_atom37_atom_exists"),
            atom14: Atom14 {
                gt_positions: self.a3("label_atom14_gt_positions"),
                gt_exists: self.a2("label_atom14_gt_exists"),
                alt_gt_positions: self.a3("label_atom14_alt_gt_positions"),
                alt_gt_exists: self.a2("label_atom14_alt_gt_exists"),
                atom_is_ambiguous: self.a2("label_atom14_atom_is_ambiguous"),
                atom_exists: self.a2("label_atom14_atom_exists"),
            },
            rigid_groups: rigid,
            chi_angles: self.a2("label_chi_angles"),
            chi_mask: self.a2("label_chi_mask"),
            pseudo_beta: self.a2("label_pseudo_beta"),
            pseudo_beta_mask: self.a1("label_pseudo_beta_mask"),
            resolution: self.scalar("label_resolution"),
        }
    }

    fn predictions<Bk: Backend>(&self) -> Predictions<Bk> {
        Predictions {
            traj: self.tensor("pred_traj"),
            sidechain_frames: self.tensor("pred_sidechain_frames"),
            atom14_positions: self.tensor("pred_atom14_pred_positions"),
            angles_sin_cos: self.tensor("pred_angles_sin_cos"),
            unnormalized_angles_sin_cos: self.tensor("pred_unnormalized_angles_sin_cos"),
            final_atom_positions: self.tensor("final_atom_positions"),
            distogram_logits: self.tensor("pred_distogram_logits"),
            masked_msa_logits: self.tensor("pred_masked_msa_logits"),
            predicted_lddt_logits: self.tensor("pred_predicted_lddt_logits"),
            experimentally_resolved_logits: self.tensor("pred_experimentally_resolved_logits"),
            predicted_aligned_error_logits: Some(
                self.tensor("pred_predicted_aligned_error_logits"),
            ),
        }
    }

    fn msa_targets(&self) -> MsaTargets {
        MsaTargets {
            true_msa: self.a2("pred_true_msa").mapv(|x| x as i32),
            bert_mask: self.a2("pred_bert_mask"),
        }
    }
}

fn scalar<Bk: Backend>(t: Tensor<Bk, 1>) -> f64 {
    to_array(t)[[0]]
}

/// |ours − reference| / max(|reference|, tiny) within `tolerance` (max over elements, relative
/// to the largest reference magnitude).
fn assert_rel(name: &str, ours: &ArrayD<f64>, reference: &ArrayD<f64>, tolerance: f64) {
    assert_eq!(ours.shape(), reference.shape(), "{name}: shape");
    let scale = reference.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-12);
    let diff = ours.iter().zip(reference).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        diff / scale <= tolerance,
        "{name}: max |diff| {diff:e} / max |ref| {scale:e} > {tolerance:e}"
    );
}

fn assert_scalar(name: &str, ours: f64, reference: f64, tolerance: f64) {
    let rel = (ours - reference).abs() / reference.abs().max(1e-12);
    assert!(rel <= tolerance, "{name}: {ours} vs {reference} (relative {rel:e})");
}

/// The project's float64 standard. (DeepMind's true backbone frames pass through a quaternion
/// computed by an eigendecomposition, ours do not: they differ by ~2e-8.)
const TOL: f64 = 1e-6;

#[test]
fn labels_from_the_structure_equal_deepminds() {
    let f = Fixture::load();
    let protein = read_structure(&fixtures().join("data/1UBQ_A.pdb"), None).unwrap();
    let ours = StructureLabels::from_protein(&protein, 1.8);
    let theirs = f.labels();
    assert_eq!(ours.aatype, theirs.aatype);
    // DeepMind's parser keeps coordinates in float32: 1e-5 Å.
    let close = |name: &str, a: ArrayD<f64>, b: ArrayD<f64>, tol: f64| {
        let diff = a.iter().zip(&b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
        assert_eq!(a.shape(), b.shape(), "{name}");
        assert!(diff <= tol, "{name}: {diff:e}");
    };
    close(
        "atom14_gt_positions",
        ours.atom14.gt_positions.into_dyn(),
        theirs.atom14.gt_positions.into_dyn(),
        1e-5,
    );
    close(
        "atom14_alt_gt_positions",
        ours.atom14.alt_gt_positions.into_dyn(),
        theirs.atom14.alt_gt_positions.into_dyn(),
        1e-5,
    );
    close(
        "atom14_alt_gt_exists",
        ours.atom14.alt_gt_exists.into_dyn(),
        theirs.atom14.alt_gt_exists.into_dyn(),
        0.0,
    );
    close(
        "atom14_atom_is_ambiguous",
        ours.atom14.atom_is_ambiguous.into_dyn(),
        theirs.atom14.atom_is_ambiguous.into_dyn(),
        0.0,
    );
    close(
        "atom37_atom_exists",
        ours.atom37_atom_exists.into_dyn(),
        theirs.atom37_atom_exists.into_dyn(),
        0.0,
    );
    close(
        "rigidgroups_gt_frames",
        ours.rigid_groups.gt_frames.into_dyn(),
        theirs.rigid_groups.gt_frames.into_dyn(),
        1e-4,
    );
    close(
        "rigidgroups_alt_gt_frames",
        ours.rigid_groups.alt_gt_frames.into_dyn(),
        theirs.rigid_groups.alt_gt_frames.into_dyn(),
        1e-4,
    );
    close("chi_mask", ours.chi_mask.into_dyn(), theirs.chi_mask.into_dyn(), 0.0);
    // Chi angles: compare as sine and cosine (an angle of ±π may differ in sign).
    let sc = |a: &Array2<f64>| a.mapv(f64::sin).into_dyn();
    let cc = |a: &Array2<f64>| a.mapv(f64::cos).into_dyn();
    close("chi sin", sc(&ours.chi_angles), sc(&theirs.chi_angles), 1e-4);
    close("chi cos", cc(&ours.chi_angles), cc(&theirs.chi_angles), 1e-4);
    close("pseudo_beta", ours.pseudo_beta.into_dyn(), theirs.pseudo_beta.into_dyn(), 1e-5);
}

#[test]
fn stereochemical_bounds_equal_deepminds() {
    let f = Fixture::load();
    let bounds = ferrofold_features::stereo_chemistry::atom14_distance_bounds(1.5, 12.0);
    let flat = |b: &Vec<[[f64; 14]; 14]>| {
        ArrayD::from_shape_vec(vec![21, 14, 14], b.iter().flatten().flatten().copied().collect())
            .unwrap()
    };
    // DeepMind builds the table in float32.
    let lower = f.get("atom14_dists_lower_bound");
    assert_rel("lower bound", &flat(&bounds.lower), &lower, TOL);
    let upper = f.get("atom14_dists_upper_bound");
    let finite = |a: &ArrayD<f64>| a.mapv(|x| if x > 1e9 { 0.0 } else { x });
    assert_rel("upper bound (bonded)", &finite(&flat(&bounds.upper)), &finite(&upper), TOL);
    assert_eq!(
        flat(&bounds.upper).iter().filter(|x| **x > 1e9).count(),
        upper.iter().filter(|x| **x > 1e9).count()
    );
}

#[test]
fn structure_module_terms_equal_deepminds() {
    let f = Fixture::load();
    let labels = f.labels().to_tensors::<B>(&Default::default());
    let pred = f.predictions::<B>();
    let config = LossConfig::alphafold();

    let per_layer = fape::backbone_fape_per_layer(pred.traj.clone(), &labels, 10.0, 10.0, 1.0);
    assert_rel(
        "backbone FAPE per layer",
        &to_array(per_layer),
        &f.get("backbone_fape_per_layer"),
        TOL,
    );
    let unclamped = fape::backbone_fape_per_layer(pred.traj.clone(), &labels, 10.0, 10.0, 0.0);
    assert_scalar(
        "unclamped FAPE",
        scalar(unclamped.mean()),
        f.scalar("backbone_fape_unclamped_mean"),
        TOL,
    );

    let renamed = fape::rename_symmetric_ground_truth(pred.atom14_positions.clone(), &labels);
    assert_eq!(renamed.alt_naming_is_better, f.a1("alt_naming_is_better"));
    assert_eq!(renamed.alt_naming_is_better.sum(), 10.0, "the ten swapped residues are renamed");
    let sidechain = fape::sidechain_fape(
        pred.sidechain_frames.clone(),
        pred.atom14_positions.clone(),
        &renamed,
        &labels,
        10.0,
        10.0,
    );
    assert_scalar("sidechain FAPE", scalar(sidechain), f.scalar("sidechain_fape"), TOL);
    assert_scalar(
        "chi",
        scalar(chi::supervised_chi_loss(pred.angles_sin_cos.clone(), &labels)),
        f.scalar("chi_loss"),
        TOL,
    );
    assert_scalar(
        "angle norm",
        scalar(chi::angle_norm_loss(pred.unnormalized_angles_sin_cos.clone(), &labels)),
        f.scalar("angle_norm_loss"),
        TOL,
    );

    let v = find_structural_violations(
        pred.atom14_positions.clone(),
        &labels,
        &ViolationConfig::default(),
    );
    // The within-residue bounds are float32 in DeepMind's table: 1e-6.
    for (name, ours, tol) in [
        ("bonds_c_n_loss_mean", scalar(v.bonds_c_n_loss_mean.clone()), TOL),
        ("angles_ca_c_n_loss_mean", scalar(v.angles_ca_c_n_loss_mean.clone()), TOL),
        ("angles_c_n_ca_loss_mean", scalar(v.angles_c_n_ca_loss_mean.clone()), TOL),
        ("clashes_mean_loss", scalar(v.clashes_mean_loss.clone()), TOL),
    ] {
        assert_scalar(name, ours, f.scalar(name), tol);
    }
    assert_rel(
        "connections per residue",
        &to_array(v.connections_per_residue_loss_sum.clone()),
        &f.get("connections_per_residue_loss_sum"),
        TOL,
    );
    assert_rel(
        "clash per atom",
        &to_array(v.clashes_per_atom_loss_sum.clone()),
        &f.get("clashes_per_atom_loss_sum"),
        TOL,
    );
    assert_rel(
        "within per atom",
        &to_array(v.within_per_atom_loss_sum.clone()),
        &f.get("within_per_atom_loss_sum"),
        1e-6,
    );
    assert_eq!(
        v.clashes_per_atom_clash_mask.clone().into_dyn(),
        f.get("clashes_per_atom_clash_mask")
    );
    assert_eq!(
        v.within_per_atom_violations.clone().into_dyn(),
        f.get("within_per_atom_violations")
    );
    assert_eq!(
        Array1::from(v.connections_per_residue_violation_mask.clone()).into_dyn(),
        f.get("connections_per_residue_violation_mask")
    );
    let mask = f.a1("total_per_residue_violations_mask");
    assert_eq!(Array1::from(v.total_per_residue_violations_mask.clone()), mask);
    assert!(mask.sum() > 0.0 && mask.sum() < mask.len() as f64, "some residues violate, some not");

    let total = alphafold_loss(&pred, &labels, &f.msa_targets(), &config);
    let values = total.values();
    assert_scalar(
        "structure module loss",
        values["structure_module"],
        f.scalar("structure_module_loss"),
        TOL,
    );
    assert_scalar("fape (last layer)", values["fape"], f.scalar("backbone_fape_last"), TOL);
}

#[test]
fn head_losses_equal_deepminds() {
    let f = Fixture::load();
    let labels = f.labels().to_tensors::<B>(&Default::default());
    let pred = f.predictions::<B>();
    let msa = f.msa_targets();
    let distogram = heads::distogram_loss(pred.distogram_logits.clone(), &labels, 2.3125, 21.6875);
    assert_scalar("distogram", scalar(distogram), f.scalar("distogram_loss"), TOL);
    let masked =
        heads::masked_msa_loss(pred.masked_msa_logits.clone(), &msa.true_msa, &msa.bert_mask);
    assert_scalar("masked msa", scalar(masked), f.scalar("masked_msa_loss"), TOL);
    let (plddt, lddt) = heads::predicted_lddt_loss(
        pred.predicted_lddt_logits.clone(),
        pred.final_atom_positions.clone(),
        &labels,
        15.0,
    );
    assert_rel(
        "lddt per residue",
        &Array1::from(lddt.per_residue).into_dyn(),
        &f.get("lddt_ca_per_residue"),
        TOL,
    );
    assert_scalar("predicted lddt", scalar(plddt), f.scalar("predicted_lddt_loss"), TOL);
    let resolved =
        heads::experimentally_resolved_loss(pred.experimentally_resolved_logits.clone(), &labels);
    assert_scalar(
        "experimentally resolved",
        scalar(resolved),
        f.scalar("experimentally_resolved_loss"),
        TOL,
    );
    let final_affine = pred.traj.clone().narrow(0, 7, 1).reshape([76, 7]);
    let pae = heads::predicted_aligned_error_loss(
        pred.predicted_aligned_error_logits.clone().unwrap(),
        final_affine,
        &labels,
        31.0,
    );
    assert_scalar(
        "predicted aligned error",
        scalar(pae),
        f.scalar("predicted_aligned_error_loss"),
        TOL,
    );
    assert_eq!(heads::resolution_filter(0.0, 0.1, 3.0), 0.0, "NMR structures are filtered");
}

#[test]
fn gradients_equal_deepminds() {
    let f = Fixture::load();
    let labels = f.labels().to_tensors::<AD>(&Default::default());
    let pred = f.predictions::<AD>();
    let leaves = [
        pred.traj.clone().require_grad(),
        pred.sidechain_frames.clone().require_grad(),
        pred.atom14_positions.clone().require_grad(),
    ];
    let angles = pred.angles_sin_cos.clone().require_grad();
    let unnormalized = pred.unnormalized_angles_sin_cos.clone().require_grad();
    let pred = Predictions {
        traj: leaves[0].clone(),
        sidechain_frames: leaves[1].clone(),
        atom14_positions: leaves[2].clone(),
        angles_sin_cos: angles.clone(),
        unnormalized_angles_sin_cos: unnormalized.clone(),
        distogram_logits: pred.distogram_logits.require_grad(),
        masked_msa_logits: pred.masked_msa_logits.require_grad(),
        predicted_lddt_logits: pred.predicted_lddt_logits.require_grad(),
        experimentally_resolved_logits: pred.experimentally_resolved_logits.require_grad(),
        predicted_aligned_error_logits: pred
            .predicted_aligned_error_logits
            .map(|t| t.require_grad()),
        ..pred
    };
    // Each term separately: the structure module's loss, then each head's.
    let breakdown = alphafold_loss(
        &pred,
        &labels,
        &f.msa_targets(),
        &LossConfig { predicted_aligned_error_weight: 1.0, ..LossConfig::alphafold() },
    );
    let structure = breakdown.terms["structure_module"].clone();
    let grads = structure.backward();
    for (name, leaf) in ["traj", "sidechain_frames", "atom14_pred_positions"].iter().zip(&leaves) {
        let ours = to_array(leaf.grad(&grads).expect("gradient"));
        assert_rel(
            &format!("d structure / d {name}"),
            &ours,
            &f.get(&format!("structure_module_grad_{name}")),
            TOL,
        );
    }
    let ours = to_array(angles.grad(&grads).unwrap());
    assert_rel(
        "d structure / d angles",
        &ours,
        &f.get("structure_module_grad_angles_sin_cos"),
        TOL,
    );
    let ours = to_array(unnormalized.grad(&grads).unwrap());
    assert_rel(
        "d structure / d unnormalized angles",
        &ours,
        &f.get("structure_module_grad_unnormalized_angles_sin_cos"),
        TOL,
    );

    let head = |term: &str| breakdown.terms[term].clone().backward();
    let g = head("distogram");
    let ours = to_array(pred.distogram_logits.grad(&g).unwrap())
        .slice_move(ndarray::s![..16, .., ..])
        .into_dyn();
    assert_rel("d distogram / d logits", &ours, &f.get("distogram_grad"), TOL);
    let g = head("masked_msa");
    assert_rel(
        "d masked msa / d logits",
        &to_array(pred.masked_msa_logits.grad(&g).unwrap()),
        &f.get("masked_msa_grad"),
        TOL,
    );
    let g = head("predicted_lddt");
    assert_rel(
        "d plddt / d logits",
        &to_array(pred.predicted_lddt_logits.grad(&g).unwrap()),
        &f.get("predicted_lddt_grad"),
        TOL,
    );
    let g = head("experimentally_resolved");
    assert_rel(
        "d resolved / d logits",
        &to_array(pred.experimentally_resolved_logits.grad(&g).unwrap()),
        &f.get("experimentally_resolved_grad"),
        TOL,
    );
    let g = head("predicted_aligned_error");
    let logits = pred.predicted_aligned_error_logits.as_ref().unwrap();
    let ours = to_array(logits.grad(&g).unwrap()).slice_move(ndarray::s![..16, .., ..]).into_dyn();
    assert_rel("d pae / d logits", &ours, &f.get("predicted_aligned_error_grad"), TOL);
}
