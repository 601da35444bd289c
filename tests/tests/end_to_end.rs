//! FASTA → features → network → PDB → score, across the crates as a user's pipeline chains
//! them: the library predicts the bundled example, the written PDB is read back and scored
//! against the deposited structure, and the training loop's validation metric (lDDT-Cα of
//! `ferrofold_training`) agrees with `ferrofold score`'s on the same coordinates.

use ferrofold_features::parsers::fasta::parse_fasta_file;
use ferrofold_features::protein::read_structure;
use ferrofold_inference::{predict_record, ModelSpec, PredictOptions, RecordInputs};
use ferrofold_model::CpuF32;
use ferrofold_tests::{data, example};
use ferrofold_training::losses::heads::CaLddt;

#[test]
fn the_example_is_predicted_written_read_back_and_scored() {
    let out = tempfile::tempdir().unwrap();
    let record = parse_fasta_file(&example("ubiquitin.fasta")).unwrap().remove(0);
    let options = PredictOptions {
        models: vec![ModelSpec::bundled()],
        num_recycle: Some(1),
        plots: false,
        ..Default::default()
    };
    let alignments = [example("ubiquitin.sto")];
    let result = predict_record::<CpuF32>(
        &Default::default(),
        &record,
        &RecordInputs { alignments: &alignments, template_hits: None },
        &options,
        out.path(),
        &mut |_| {},
    )
    .unwrap();
    let best = &result.ranked[0];

    // The PDB file holds the network's atoms (to the format's 0.001 Å) and pLDDT.
    let written = read_structure(&result.dir.join("ranked_0.pdb"), None).unwrap();
    assert_eq!(written.len(), record.sequence.len());
    let largest = (&written.atom_positions - &best.chains[0].atom_positions)
        .iter()
        .zip(best.chains[0].atom_mask.iter().flat_map(|&m| [m; 3]))
        .filter(|(_, m)| *m > 0.0)
        .fold(0.0f64, |m, (d, _)| m.max(d.abs()));
    assert!(largest <= 5e-4, "coordinates moved by {largest} Å in the PDB file");
    for (residue, plddt) in best.plddt.iter().enumerate() {
        let b_factor = written.b_factors[[residue, 1]];
        assert!((b_factor - plddt).abs() <= 5e-3, "residue {residue}: {b_factor} vs {plddt}");
    }

    // Scored against the deposited chain: `score`'s lDDT-Cα is the training loop's.
    let deposited = read_structure(&data("1UBQ_A.pdb"), None).unwrap();
    let scores = ferrofold_inference::score::score(&written, &deposited).unwrap();
    assert_eq!(scores.aligned, record.sequence.len());
    let training = CaLddt::compute(
        written.atom_positions.view(),
        deposited.atom_positions.view(),
        deposited.atom_mask.view(),
        15.0,
    )
    .global();
    assert!((scores.lddt_ca - training).abs() < 1e-9, "{} vs {training}", scores.lddt_ca);
    assert!((0.0..=1.0).contains(&scores.tm_score), "{scores:?}");
}
