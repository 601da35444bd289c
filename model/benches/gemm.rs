//! GEMM on the network's own shapes (`model_1_ptm`, 128 residues, 64 MSA rows): burn-ndarray's
//! `matrixmultiply` against the `gemm` crate (AVX-512/FMA kernels, its own rayon threading),
//! float32, all cores, each the way burn-ndarray would call it (one call for a single matrix,
//! batches spread over rayon's threads). Checks that both give the same products.
//!
//! ```sh
//! cargo bench -p ferrofold-model --bench gemm     # writes bench/results/gemm.json
//! ```

use std::path::PathBuf;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rayon::prelude::*;

/// (what, batch, m, k, n)
const SHAPES: [(&str, usize, usize, usize, usize); 7] = [
    ("pair linear 128→128 (128² rows)", 1, 16_384, 128, 128),
    ("pair transition 128→512", 1, 16_384, 128, 512),
    ("pair transition 512→128", 1, 16_384, 512, 128),
    ("MSA linear 256→256 (64×128 rows)", 1, 8_192, 256, 256),
    ("MSA transition 256→1024", 1, 8_192, 256, 1_024),
    ("triangle multiplication (128 channels of 128×128)", 128, 128, 128, 128),
    ("attention logits (512 batch·heads, 128 queries, 128 keys, 32 deep)", 512, 128, 32, 128),
];

fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// (batch, m, k, n)
type Shape = (usize, usize, usize, usize);

/// Row-major `out[b] = lhs[b] · rhs[b]` with matrixmultiply.
fn with_matrixmultiply((batch, m, k, n): Shape, lhs: &[f32], rhs: &[f32], out: &mut [f32]) {
    let one = |l: &[f32], r: &[f32], o: &mut [f32]| unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            l.as_ptr(),
            k as isize,
            1,
            r.as_ptr(),
            n as isize,
            1,
            0.0,
            o.as_mut_ptr(),
            n as isize,
            1,
        );
    };
    if batch == 1 {
        one(lhs, rhs, out);
    } else {
        out.par_chunks_mut(m * n)
            .enumerate()
            .for_each(|(b, o)| one(&lhs[b * m * k..][..m * k], &rhs[b * k * n..][..k * n], o));
    }
}

/// The same with the `gemm` crate.
fn with_gemm((batch, m, k, n): Shape, lhs: &[f32], rhs: &[f32], out: &mut [f32]) {
    let one = |l: &[f32], r: &[f32], o: &mut [f32], parallelism| unsafe {
        gemm::gemm(
            m,
            n,
            k,
            o.as_mut_ptr(),
            1,
            n as isize,
            false,
            l.as_ptr(),
            1,
            k as isize,
            r.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    };
    if batch == 1 {
        one(lhs, rhs, out, gemm::Parallelism::Rayon(rayon::current_num_threads()));
    } else {
        out.par_chunks_mut(m * n).enumerate().for_each(|(b, o)| {
            one(&lhs[b * m * k..][..m * k], &rhs[b * k * n..][..k * n], o, gemm::Parallelism::None)
        });
    }
}

type Gemm = fn(Shape, &[f32], &[f32], &mut [f32]);

/// Seconds per call: the median of calls repeated for about a second, after one warm-up.
fn seconds(
    f: Gemm,
    shape: (usize, usize, usize, usize),
    lhs: &[f32],
    rhs: &[f32],
    out: &mut [f32],
) -> f64 {
    f(shape, lhs, rhs, out);
    let mut times = Vec::new();
    let started = Instant::now();
    while times.len() < 3 || started.elapsed().as_secs_f64() < 1.0 {
        let t = Instant::now();
        f(shape, lhs, rhs, out);
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    println!(
        "{:<70} {:>12} {:>12} {:>8} {:>10}",
        "shape", "mm GFLOP/s", "gemm GFLOP/s", "ratio", "max diff"
    );
    let mut rows = Vec::new();
    for (what, batch, m, k, n) in SHAPES {
        let lhs = random(batch * m * k, 1);
        let rhs = random(batch * k * n, 2);
        let mut ours = vec![0f32; batch * m * n];
        let mut theirs = vec![0f32; batch * m * n];
        let shape = (batch, m, k, n);
        let mm = seconds(with_matrixmultiply, shape, &lhs, &rhs, &mut ours);
        let gm = seconds(with_gemm, shape, &lhs, &rhs, &mut theirs);
        let scale = ours.iter().fold(0f32, |a, x| a.max(x.abs()));
        let diff = ours.iter().zip(&theirs).fold(0f32, |a, (x, y)| a.max((x - y).abs())) / scale;
        let flops = 2.0 * (batch * m * k * n) as f64;
        let (mm_rate, gemm_rate) = (flops / mm / 1e9, flops / gm / 1e9);
        println!(
            "{what:<70} {mm_rate:>12.1} {gemm_rate:>12.1} {:>8.2} {diff:>10.1e}",
            gemm_rate / mm_rate
        );
        rows.push(serde_json::json!({
            "shape": what, "batch": batch, "m": m, "k": k, "n": n,
            "matrixmultiply_s": mm, "gemm_s": gm, "gemm_speedup": mm / gm,
            "max_relative_difference": diff,
        }));
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bench/results/gemm.json");
    let json = serde_json::json!({ "threads": rayon::current_num_threads(), "shapes": rows });
    std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    println!("wrote {}", path.display());
}
