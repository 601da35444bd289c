//! The HHR parser reads hhsearch's output exactly as DeepMind's `parsers.parse_hhr` does
//! (tools/reference/make_hhr_fixtures.py), and names the line of what it cannot read.

use ferrofold_features::parsers::hhr::{parse_hhr, parse_hhr_file, HhrHit};
use ferrofold_tests::{data, fixtures};

#[test]
fn hits_equal_deepminds_parse() {
    let ours = parse_hhr_file(&data("1AKE_A_hhsearch.hhr")).unwrap();
    let text = std::fs::read_to_string(fixtures().join("reference/hhr_1AKE_A.json")).unwrap();
    let theirs: Vec<HhrHit> = serde_json::from_str(&text).unwrap();
    assert_eq!(ours.len(), 5);
    assert_eq!(ours, theirs);
    // The second hit aligns a zinc finger to the query with gaps on both sides.
    let hit = &ours[1];
    assert!(hit.query.contains('-') && hit.indices_query.contains(&-1));
    assert_eq!(hit.query.len(), hit.indices_hit.len());
}

#[test]
fn damaged_files_name_the_line() {
    let text = std::fs::read_to_string(data("1AKE_A_hhsearch.hhr")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let first_hit = lines.iter().position(|l| l.starts_with("No 1")).unwrap();

    // A summary line without its scores.
    let mut broken = lines.clone();
    broken[first_hit + 2] = "Probab=100.00  E-value=1.5e-95";
    let err = parse_hhr(&broken.join("\n"), "x.hhr").unwrap_err().to_string();
    assert!(err.contains("x.hhr") && err.contains(&format!("x.hhr:{}:", first_hit + 3)), "{err}");

    // A hit row shorter than its query row.
    let t_line = lines.iter().position(|l| l.starts_with("T 1AKE_A")).unwrap();
    let mut broken: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    broken[t_line] = broken[t_line].replacen("MRIILLG", "MRIIL", 1);
    let err = parse_hhr(&broken.join("\n"), "x.hhr").unwrap_err().to_string();
    assert!(err.contains(&format!("x.hhr:{}:", t_line + 1)), "{err}");

    // Cut in the middle of a hit: the hit's name line is missing.
    let err = parse_hhr(&lines[..first_hit + 1].join("\n"), "x.hhr").unwrap_err().to_string();
    assert!(err.contains("name"), "{err}");

    // No hits at all is not an error.
    assert!(parse_hhr(&lines[..first_hit].join("\n"), "x.hhr").unwrap().is_empty());
}
