//! The machine's f32 matmul rate through `gemm`, the library kgfuse's CPU
//! BERT forward calls: the reference for "how close to peak" in
//! `benches/text_bench.py`.
//!
//! ```sh
//! cargo run --release --example matmul_peak -- --threads 2
//! ```
//!
//! It prints the best GFLOP/s of (1) one 1024³ matmul split over all
//! threads, and (2) the forward's own calls (a chunk of 128 token rows by
//! each MiniLM weight, and one attention head of 256 tokens), run the way
//! the forward runs them: one single-threaded call per thread at once.
//! `--json` prints one JSON object instead.

use std::time::{Duration, Instant};

use rayon::prelude::*;

/// `[m, k] x [k, n]`, named.
const FORWARD_SHAPES: [(&str, usize, usize, usize); 6] = [
    ("qkv 128x384x1152", 128, 1152, 384),
    ("attention out 128x384x384", 128, 384, 384),
    ("ffn in 128x384x1536", 128, 1536, 384),
    ("ffn out 128x1536x384", 128, 384, 1536),
    ("scores 256x32x256", 256, 256, 32),
    ("context 256x256x32", 256, 32, 256),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads = match args.iter().position(|a| a == "--threads") {
        Some(i) => match args.get(i + 1).and_then(|t| t.parse().ok()) {
            Some(n) => n,
            None => {
                eprintln!("error: --threads needs a number");
                std::process::exit(2);
            }
        },
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let json = args.iter().any(|a| a == "--json");
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .expect("the global pool is built once");

    let (a, b, mut c) = buffers(1024, 1024, 1024);
    let square = best_rate(
        || {
            let started = Instant::now();
            matmul(
                1024,
                1024,
                1024,
                &a,
                &b,
                &mut c,
                gemm::Parallelism::Rayon(threads),
            );
            started.elapsed()
        },
        2.0 * 1024f64.powi(3),
    );
    let forward: Vec<(&str, f64)> = FORWARD_SHAPES
        .iter()
        .map(|&(name, m, n, k)| {
            let per_call = 2.0 * (m * n * k) as f64;
            let mut per_thread: Vec<_> = (0..threads).map(|_| buffers(m, n, k)).collect();
            let rate = best_rate(
                || {
                    let started = Instant::now();
                    per_thread.par_iter_mut().for_each(|(a, b, c)| {
                        for _ in 0..8 {
                            matmul(m, n, k, a, b, c, gemm::Parallelism::None);
                        }
                    });
                    started.elapsed()
                },
                per_call * 8.0 * threads as f64,
            );
            (name, rate)
        })
        .collect();

    if json {
        let shapes: Vec<String> = forward
            .iter()
            .map(|(name, rate)| format!("\"{name}\": {rate:.1}"))
            .collect();
        println!(
            "{{\"threads\": {threads}, \"square_1024\": {square:.1}, \"forward\": {{{}}}}}",
            shapes.join(", ")
        );
    } else {
        println!("f32 matmul through gemm, {threads} thread(s), best GFLOP/s:");
        println!("  1024x1024x1024, split over the threads: {square:.1}");
        for (name, rate) in forward {
            println!("  {name}, one call per thread: {rate:.1}");
        }
    }
}

fn buffers(m: usize, n: usize, k: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let a = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
    let b = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
    (a, b, vec![0.0; m * n])
}

/// Row-major `c = a b`.
fn matmul(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    parallelism: gemm::Parallelism,
) {
    assert!(a.len() == m * k && b.len() == k * n && c.len() == m * n);
    // SAFETY: the three buffers hold the row-major matrices the strides describe.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// Best GFLOP/s of `run` (which returns its own timed span) over about a second.
fn best_rate(mut run: impl FnMut() -> Duration, flops: f64) -> f64 {
    for _ in 0..2 {
        run();
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut best = 0f64;
    while Instant::now() < deadline {
        best = best.max(flops / run().as_secs_f64() / 1e9);
    }
    best
}
