//! Loading throughput: `kgfuse load` (the binary, end to end) and kgfuse's
//! loader (the library, in process) against oxigraph's bulk loader called
//! directly, on the same N-Triples file, alternating runs.
//!
//! Input: the MetaQA KB (`../shared/data/metaqa/kb.txt`, or the path in
//! `KGFUSE_BENCH_KB`), converted once to N-Triples in a temporary folder.
//! Prints the median seconds of each side and the ratio of their
//! throughputs (target: kgfuse >= 0.9x of the direct loader).
//!
//! Run: `cargo bench --bench load_throughput` (`KGFUSE_BENCH_RUNS` sets the
//! number of runs per side, default 5).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use oxigraph::io::{RdfFormat, RdfParser};

use kgfuse::store::terms::iri_for_name;
use kgfuse::store::{LoadOptions, Loader, Store};

const METAQA_NS: &str = "https://w3id.org/kgfuse/data/metaqa/";

fn main() {
    let kb = std::env::var_os("KGFUSE_BENCH_KB")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/metaqa/kb.txt")
        });
    let runs: usize = std::env::var("KGFUSE_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let work = tempfile::tempdir().expect("temp dir");
    let nt = work.path().join("kb.nt");
    let triples = convert_pipe_kb(&kb, &nt);
    let size = nt.metadata().map(|m| m.len()).unwrap_or(0);
    println!(
        "input: {} ({triples} lines, {:.1} MB as N-Triples), {runs} runs per side",
        kb.display(),
        size as f64 / 1e6
    );

    let mut ours = Vec::new();
    let mut cli = Vec::new();
    let mut direct = Vec::new();
    for run in 0..runs {
        let dir = work.path().join(format!("cli-{run}"));
        let start = Instant::now();
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_kgfuse"))
            .arg("--store")
            .arg(&dir)
            .arg("load")
            .arg(&nt)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run kgfuse load");
        assert!(status.success(), "kgfuse load failed");
        cli.push(start.elapsed().as_secs_f64());

        let dir = work.path().join(format!("kgfuse-{run}"));
        let start = Instant::now();
        let store = Store::open(&dir).expect("open store");
        Loader::new(&store, LoadOptions::default())
            .load_paths(&[nt.clone()])
            .expect("kgfuse load");
        store.flush().expect("flush");
        ours.push(start.elapsed().as_secs_f64());
        assert_eq!(
            store.len().expect("len"),
            triples,
            "kgfuse stored every triple"
        );
        drop(store);

        let dir = work.path().join(format!("direct-{run}"));
        let start = Instant::now();
        let store = oxigraph::store::Store::open(&dir).expect("open store");
        let mut loader = store.bulk_loader();
        let file = File::open(&nt).expect("open input");
        loader
            .load_from_reader(RdfParser::from_format(RdfFormat::NTriples), file)
            .expect("direct load");
        loader.commit().expect("commit");
        store.flush().expect("flush");
        direct.push(start.elapsed().as_secs_f64());
        drop(store);
        println!(
            "run {run}: kgfuse load {:.3} s, kgfuse library {:.3} s, direct {:.3} s",
            cli[run], ours[run], direct[run]
        );
    }
    let (cli, ours, direct) = (median(&mut cli), median(&mut ours), median(&mut direct));
    let rate = |secs: f64| triples as f64 / secs;
    println!("median: kgfuse load {cli:.3} s ({:.0} triples/s), kgfuse library {ours:.3} s ({:.0} triples/s), direct oxigraph bulk loader {direct:.3} s ({:.0} triples/s)",
        rate(cli), rate(ours), rate(direct));
    println!(
        "throughput ratio, kgfuse load / direct: {:.3} (target >= 0.9)",
        direct / cli
    );
    println!(
        "throughput ratio, kgfuse library / direct: {:.3}",
        direct / ours
    );
}

/// Writes `subject|relation|object` lines as N-Triples under one namespace;
/// returns the number of distinct triples.
fn convert_pipe_kb(input: &Path, output: &Path) -> usize {
    let reader =
        BufReader::new(File::open(input).unwrap_or_else(|e| panic!("{}: {e}", input.display())));
    let mut writer = BufWriter::new(File::create(output).expect("create N-Triples"));
    let mut seen = std::collections::HashSet::new();
    for line in reader.lines() {
        let line = line.expect("read kb");
        let parts: Vec<&str> = line.split('|').collect();
        if parts.len() != 3 || !seen.insert(line.clone()) {
            continue;
        }
        let [s, p, o] = [parts[0], parts[1], parts[2]]
            .map(|name| format!("<{}>", iri_for_name(METAQA_NS, name)));
        writeln!(writer, "{s} {p} {o} .").expect("write");
    }
    seen.len()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
