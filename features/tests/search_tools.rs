//! The search-tool runners against the real Debian tools (installed by `.ci/run`) on a tiny
//! database made from fixture sequences.

use ferrofold_features::parsers::{a3m::parse_a3m, fasta::parse_fasta, stockholm::parse_stockholm};
use ferrofold_features::tools::{hhblits, jackhmmer, kalign, mmseqs_easy_search, RunOptions};
use ferrofold_tests::data;

/// A FASTA database: the ungapped rows of two real jackhmmer alignments (ubiquitins, zinc fingers).
fn tiny_database(dir: &std::path::Path) -> std::path::PathBuf {
    let mut fasta = String::new();
    for key in ["1UBQ_A", "1A1F_A"] {
        let msa = ferrofold_features::parsers::stockholm::parse_stockholm_file(&data(&format!(
            "{key}.sto"
        )))
        .unwrap();
        for (i, s) in msa.sequences.iter().enumerate() {
            fasta.push_str(&format!(">{key}_{i}\n{}\n", s.replace('-', "")));
        }
    }
    let path = dir.join("db.fasta");
    std::fs::write(&path, fasta).unwrap();
    path
}

const UBIQUITIN: &str =
    "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG";

#[test]
fn jackhmmer_finds_the_ubiquitins_and_caches() {
    let dir = tempfile::tempdir().unwrap();
    let db = tiny_database(dir.path());
    let options = RunOptions { cache_dir: Some(dir.path().join("cache")), ..RunOptions::default() };
    let sto = jackhmmer(UBIQUITIN, &db, 1, &options).unwrap();
    let msa = parse_stockholm(&sto, "jackhmmer output").unwrap();
    assert!(msa.len() >= 10, "only {} hits", msa.len());
    // jackhmmer writes the query first, which is what AlphaFold's Stockholm reading relies on.
    assert_eq!(msa.descriptions[0], "query");
    assert_eq!(msa.sequences[0], UBIQUITIN);
    assert!(
        msa.descriptions[1..].iter().all(|d| d.starts_with("1UBQ_A")),
        "{:?}",
        msa.descriptions
    );
    // The second identical call is served from the cache: mark the cached file and get it back.
    let cached: Vec<_> =
        std::fs::read_dir(dir.path().join("cache")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(cached.len(), 1);
    std::fs::write(&cached[0], "# cached marker\n").unwrap();
    assert_eq!(jackhmmer(UBIQUITIN, &db, 1, &options).unwrap(), "# cached marker\n");
    // Other settings miss the cache and run the tool.
    assert_ne!(jackhmmer(UBIQUITIN, &db, 2, &options).unwrap(), "# cached marker\n");
}

#[test]
fn mmseqs_and_kalign_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = tiny_database(dir.path());
    let hits = mmseqs_easy_search(UBIQUITIN, &db, &RunOptions::default()).unwrap();
    let first = hits.lines().next().expect("at least one hit");
    assert!(first.split('\t').nth(1).unwrap().starts_with("1UBQ_A"), "{first}");

    let aligned =
        kalign(&[("a", UBIQUITIN), ("b", &UBIQUITIN[5..60])], &RunOptions::default()).unwrap();
    let records = parse_fasta(&aligned.replace('-', "X"), "kalign").unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].sequence.len(), records[1].sequence.len());
    assert_eq!(records[1].sequence.replace('X', ""), UBIQUITIN[5..60]);
}

#[test]
fn hhblits_finds_the_ubiquitins() {
    let dir = tempfile::tempdir().unwrap();
    // An hhblits database of single-sequence entries: distant ubiquitins (40–85% identical to
    // the query; hhblits filters closer ones out of its alignment) and zinc fingers.
    let mut entries = Vec::new();
    for key in ["1UBQ_A", "1A1F_A"] {
        let msa = ferrofold_features::parsers::stockholm::parse_stockholm_file(&data(&format!(
            "{key}.sto"
        )))
        .unwrap();
        let query = msa.sequences[0].as_bytes();
        let identity = |s: &str| {
            let same = s.bytes().zip(query).filter(|(a, b)| a == *b && *a != b'-').count();
            same as f64 / query.len() as f64
        };
        let distant = msa
            .sequences
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, s)| key != "1UBQ_A" || (0.4..0.85).contains(&identity(s)));
        for (i, s) in distant.take(6) {
            entries.push((format!("{key}_{i}"), s.replace('-', "")));
        }
    }
    let db = ferrofold_tests::hhsuite_database(dir.path(), &entries);
    let a3m = hhblits(UBIQUITIN, &db, &RunOptions::default()).unwrap();
    let msa = parse_a3m(&a3m, "hhblits output").unwrap();
    // The query first, as AlphaFold's A3M reading expects, then hits of the ubiquitins only.
    assert_eq!(msa.sequences[0], UBIQUITIN);
    assert!(msa.len() >= 4, "only {} rows:\n{a3m}", msa.len());
    let hits = &msa.descriptions[1..];
    assert!(hits.iter().all(|d| d.starts_with("1UBQ_A")), "{hits:?}");
}
