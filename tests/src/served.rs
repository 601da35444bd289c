//! What the local test servers ([`crate::http`]) serve: parameter archives in DeepMind's layout
//! and ColabFold's MMseqs2 API with a real alignment.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ferrofold_features::parsers::stockholm::parse_stockholm_file;
use ferrofold_model::ParamFile;
use ndarray::{ArrayD, IxDyn};

use crate::example;
use crate::http::{Reply, Request, TestServer};

/// `params` as DeepMind's `.npz` (written directly: values are not checked, so that a test can
/// serve a file with NaN).
pub fn params_npz(params: &ParamFile) -> Vec<u8> {
    let mut npz = ndarray_npy::NpzWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, tensor) in &params.tensors {
        let array = ArrayD::from_shape_vec(IxDyn(&tensor.shape), tensor.data.clone())
            .expect("the tensor's shape fits its values");
        npz.add_array(name.as_str(), &array).expect("write to memory");
    }
    npz.finish().expect("write to memory").into_inner()
}

/// A tar archive of `files` (name, bytes).
pub fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    tar_into(Vec::new(), files)
}

fn tar_into<W: std::io::Write>(out: W, files: &[(&str, &[u8])]) -> W {
    let mut builder = tar::Builder::new(out);
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, *bytes).expect("write to memory");
    }
    builder.into_inner().expect("write to memory")
}

/// The example's alignment (`examples/ubiquitin.sto`, a real jackhmmer search) as A3M
/// (deletions as lowercase residues before their column), its query named 101 as in
/// ColabFold's results; and the query.
pub fn example_a3m() -> (String, String) {
    let msa = parse_stockholm_file(&example("ubiquitin.sto")).expect("the example");
    let mut a3m = String::new();
    for (k, (row, deletions)) in msa.sequences.iter().zip(&msa.deletion_matrix).enumerate() {
        let name = if k == 0 { "101".to_string() } else { msa.descriptions[k].clone() };
        let mut text = String::new();
        for (residue, &deleted) in row.chars().zip(deletions) {
            text.push_str(&"x".repeat(deleted as usize));
            text.push(residue);
        }
        a3m.push_str(&format!(">{name}\n{text}\n"));
    }
    (a3m, msa.sequences[0].clone())
}

/// A result archive as ColabFold's server sends it (`.tar.gz`, NUL-terminated blocks).
pub fn colabfold_result(uniref: &str, environmental: &str) -> Vec<u8> {
    let (uniref, environmental) = (format!("{uniref}\0"), format!("{environmental}\0"));
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let files: [(&str, &[u8]); 3] = [
        ("uniref.a3m", uniref.as_bytes()),
        ("bfd.mgnify30.metaeuk30.smag30.a3m", environmental.as_bytes()),
        ("pdb70.m8", b""),
    ];
    tar_into(encoder, &files).finish().expect("write to memory")
}

/// A server speaking ColabFold's MMseqs2 API as the real one does when busy: it rate-limits
/// the first submission, reports the job pending, running, then complete, and serves `archive`.
pub fn colabfold_server(archive: Vec<u8>) -> TestServer {
    let submissions = Arc::new(AtomicUsize::new(0));
    let polls = Arc::new(AtomicUsize::new(0));
    TestServer::start(move |request: &Request| match request.path.as_str() {
        "/ticket/msa" if request.method == "POST" => {
            if submissions.fetch_add(1, Ordering::SeqCst) == 0 {
                Reply::json(r#"{"status": "RATELIMIT"}"#)
            } else {
                Reply::json(r#"{"id": "job1", "status": "PENDING"}"#)
            }
        }
        "/ticket/job1" => match polls.fetch_add(1, Ordering::SeqCst) {
            0 => Reply::json(r#"{"id": "job1", "status": "RUNNING"}"#),
            _ => Reply::json(r#"{"id": "job1", "status": "COMPLETE"}"#),
        },
        "/result/download/job1" => Reply::new(200, archive.clone()),
        _ => Reply::not_found(),
    })
}
