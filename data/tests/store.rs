//! The HDF5 store holds exactly what the structure and alignment files hold, a killed build
//! continues where it stopped, and `verify` finds a damaged shard.

use ferrofold_data::store::{build_store, BuildOptions, ChainStore, Manifest};
use ferrofold_data::TrainingChain;
use ferrofold_tests::data as fixture_data;
fn options() -> BuildOptions {
    BuildOptions { shard_size: 2 }
}

#[test]
fn store_round_trips_chains_and_alignments() {
    let store = tempfile::tempdir().unwrap();
    let summary = build_store(
        &fixture_data(""),
        Some(&fixture_data("")),
        store.path(),
        &options(),
        |_, _| {},
    )
    .unwrap();
    // Four chains come as both .cif and .pdb: the second file of each is refused by name.
    assert_eq!((summary.added, summary.skipped, summary.total), (5, 4, 5));
    let opened = ChainStore::open(store.path()).unwrap();
    assert!(opened.manifest.skipped.iter().all(|s| s.error.contains("already stored")));
    for entry in opened.entries() {
        let stored = opened.read(&entry.id).unwrap();
        let original =
            TrainingChain::read(std::path::Path::new(&entry.source), Some(&fixture_data("")))
                .unwrap();
        assert_eq!(stored.sequence(), original.sequence());
        assert_eq!(stored.protein.aatype, original.protein.aatype);
        assert_eq!(stored.protein.residue_index, original.protein.residue_index);
        assert_eq!(stored.protein.atom_mask, original.protein.atom_mask);
        assert_eq!(stored.protein.insertion_codes, original.protein.insertion_codes);
        let max_diff = (&stored.protein.atom_positions - &original.protein.atom_positions)
            .iter()
            .fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(max_diff < 1e-4, "{}: coordinates stored as float32 ({max_diff})", entry.id);
        let (a, b) = (stored.msa.as_ref(), original.msa.as_ref());
        assert_eq!(a.map(|m| &m.sequences), b.map(|m| &m.sequences), "{}", entry.id);
        assert_eq!(a.map(|m| &m.deletion_matrix), b.map(|m| &m.deletion_matrix));
        assert_eq!(entry.msa_rows, b.map_or(0, |m| m.len()));
    }
    assert!(opened.entries().iter().any(|e| e.msa_rows > 1), "alignments stored");
    assert_eq!(opened.verify(), Vec::<String>::new());
}

#[test]
fn a_killed_build_continues_and_verify_finds_damage() {
    let store = tempfile::tempdir().unwrap();
    build_store(&fixture_data(""), None, store.path(), &options(), |_, _| {}).unwrap();
    let manifest_path = store.path().join("manifest.json");
    let complete: Manifest =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();

    // As if killed after writing the last shard but before recording it, with a half-written
    // shard beside it.
    let mut cut = complete.clone();
    let last_shard = cut.shards.pop().unwrap();
    let lost: Vec<String> =
        cut.chains.iter().filter(|c| c.shard == last_shard).map(|c| c.source.clone()).collect();
    cut.chains.retain(|c| c.shard != last_shard);
    cut.skipped
        .retain(|s| !lost.iter().any(|l| l.replace(".cif", "") == s.file.replace(".pdb", "")));
    std::fs::write(&manifest_path, serde_json::to_string(&cut).unwrap()).unwrap();
    std::fs::write(store.path().join("shards/shard_00099.h5.partial"), b"half").unwrap();

    let again = build_store(&fixture_data(""), None, store.path(), &options(), |_, _| {}).unwrap();
    assert!(again.added >= lost.len() && again.added > 0);
    assert_eq!(again.total, complete.chains.len());
    let reopened = ChainStore::open(store.path()).unwrap();
    let mut ids: Vec<_> = reopened.entries().iter().map(|e| e.id.clone()).collect();
    let mut expected: Vec<_> = complete.chains.iter().map(|e| e.id.clone()).collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(reopened.verify(), Vec::<String>::new());

    // Nothing left to do.
    let idle = build_store(&fixture_data(""), None, store.path(), &options(), |_, _| {}).unwrap();
    assert_eq!(idle.added, 0);

    // A damaged shard: every chain in it is reported.
    let damaged = &reopened.manifest.shards[0];
    std::fs::write(store.path().join(damaged), b"not hdf5").unwrap();
    let problems = reopened.verify();
    let in_shard = reopened.entries().iter().filter(|e| &e.shard == damaged).count();
    assert_eq!(problems.len(), in_shard, "{problems:?}");
}

#[test]
fn opening_a_directory_without_manifest_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let error = ChainStore::open(dir.path()).unwrap_err().to_string();
    assert!(error.contains("manifest.json"), "{error}");
}

#[test]
fn mmseqs_clusters_the_stored_sequences() {
    let store = tempfile::tempdir().unwrap();
    build_store(&fixture_data(""), None, store.path(), &options(), |_, _| {}).unwrap();
    let opened = ChainStore::open(store.path()).unwrap();
    let (path, count) = ferrofold_data::cluster::cluster_store(
        &opened,
        0.4,
        0.8,
        1,
        std::time::Duration::from_secs(300),
    )
    .unwrap();
    let clusters = ferrofold_data::sampling::read_clusters(&path).unwrap();
    assert_eq!(clusters.len(), opened.entries().len());
    // 1AKE and 4AKE are the same adenylate kinase; the other three are unrelated.
    assert_eq!(clusters["1AKE_A"], clusters["4AKE_A"]);
    assert_eq!(count, 4);
}

#[test]
fn verify_finds_values_changed_inside_a_readable_shard() {
    let store = tempfile::tempdir().unwrap();
    build_store(&fixture_data(""), None, store.path(), &options(), |_, _| {}).unwrap();
    let opened = ChainStore::open(store.path()).unwrap();
    assert!(opened.entries().iter().all(|e| e.checksum.is_some()), "checksums recorded");
    let entry = &opened.entries()[0];
    let chain = opened.read(&entry.id).unwrap();
    // The first stored atom's coordinates, as the shard holds them (float32, little-endian).
    let ca = chain.protein.atom_mask.row(0).iter().position(|&m| m > 0.5).unwrap();
    let bytes: Vec<u8> = (0..3)
        .flat_map(|x| (chain.protein.atom_positions[(0, ca, x)] as f32).to_le_bytes())
        .collect();
    let shard = store.path().join(&entry.shard);
    let mut content = std::fs::read(&shard).unwrap();
    let at = content.windows(bytes.len()).position(|w| w == bytes.as_slice()).unwrap();
    // Flip the low bytes of x: the file stays valid HDF5 and the value stays finite.
    content[at] ^= 0xff;
    content[at + 1] ^= 0xff;
    std::fs::write(&shard, content).unwrap();
    let problems = opened.verify();
    assert!(
        problems.iter().any(|p| p.starts_with(&entry.id) && p.contains("checksum")),
        "{problems:?}"
    );
}
