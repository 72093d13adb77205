#!/usr/bin/env python3
"""Embed the same texts with kgfuse and with sentence-transformers on PyTorch (CPU), side by side.

Model: all-MiniLM-L6-v2 from the shared data folder (``<shared data>/models/all-MiniLM-L6-v2``,
a sentence-transformers folder), max length 256 tokens, mean pooling, L2-normalised, on the CPU
with the same number of threads for both sides (``--threads``, default ``os.cpu_count()``):
``RAYON_NUM_THREADS`` for kgfuse, ``torch.set_num_threads()`` for PyTorch (both children also
get ``RAYON_NUM_THREADS`` and ``OMP_NUM_THREADS`` set to it).

Texts (``--texts``):

* ``metaqa`` (default): the first ``--count`` (2000) questions of ``metaqa/qa_1hop.txt``, its
  first tab-separated column, entity brackets kept (``what movies did [Temuera Morrison] act in``).
* ``aifb``: the longest ``--count`` distinct ``swrc:title`` / ``swrc:abstract`` string literals of
  ``aifb/aifb+.nt.gz`` (N-Triples escapes decoded, runs of white space, including the abstracts'
  ``\\r\\n``, made one space).  The file holds 1,662 distinct ones, so with the default ``--count``
  this set has 1,662 texts; the abstracts are long and most are cut at 256 tokens.
* ``both``: one after the other.

For every batch size (``--batch-sizes``, default 1,16,64) each side runs in its own child process
(``--repeats`` times, the best rate is kept):

* kgfuse: ``kgfuse embed --memory --file F --batch-size B --format npy --out O.npy --bert M``;
  the rate is R of its stderr line ``embedded N texts in T s (R sentences/s)``, where T covers
  tokenisation, forward passes and pooling, not loading the model.  kgfuse sorts the texts by
  length and pads each batch to its longest text.
* PyTorch: ``SentenceTransformer(M, device='cpu')``, one warm-up ``encode`` of 8 texts, then
  ``model.encode(texts, batch_size=B, normalize_embeddings=True, convert_to_numpy=True)`` timed
  with ``time.perf_counter``.  sentence-transformers also sorts by length and pads per batch.

"peak RSS" is the child's ``ru_maxrss`` (from ``os.wait4``): for PyTorch it includes the Python
interpreter, torch and transformers; "wall s" is the child's whole run (start-up and model
loading included).  "kgfuse/PyTorch" is the ratio of the rates (above 1: kgfuse is faster).
"cos mean/min" compares each kgfuse row with PyTorch's row for the same text and batch size.

The script also measures the machine's f32 matmul peak with ``gemm``, the library kgfuse's
forward calls (``cargo run --release --example matmul_peak``, same thread count: one 1024^3
matmul over all threads, and the forward's own shapes one call per thread), and torch's 1024^3
matmul for comparison, then estimates the GFLOP/s of useful work each side achieves: 2 x 10.6M
matmul weights per real token (6 layers x (4 x 384^2 + 2 x 384 x 1536); the 11.7M-entry
embedding table is a lookup, not a matmul) plus 4 x 384 x L per token and layer for attention
scores and context, L being the text's own token count.  Padding is not counted: kgfuse does not
compute it, PyTorch does (that is part of its cost).

Setup (tested with these versions; PyPI's Linux torch wheel needs its nvidia-* / cuda-toolkit
dependencies at import time even on the CPU (libtorch_cpu.so links libcudart and libcupti), so
``pip install torch --no-deps`` does not import: the plain install below pulls about 5 GB into the
venv and took 40 s here)::

    python3 -m venv /tmp/kgfuse-text-bench-venv
    /tmp/kgfuse-text-bench-venv/bin/pip install torch==2.15.0 sentence-transformers==6.2.0 \\
        transformers==5.24.0 tokenizers==0.23.3 numpy==2.4.6
    cargo build --release

Usage::

    /tmp/kgfuse-text-bench-venv/bin/python benches/text_bench.py
    /tmp/kgfuse-text-bench-venv/bin/python benches/text_bench.py --texts both --repeats 3
    /tmp/kgfuse-text-bench-venv/bin/python benches/text_bench.py --threads 1 --batch-sizes 1,64

The binary is ``$KGFUSE_BIN`` if set, else ``$CARGO_TARGET_DIR/release/kgfuse``, else
``target/release/kgfuse`` under the repository root.  The data folder is
``$KGFUSE_SHARED_DATA`` if set, else ``../shared/data`` beside the repository root.
"""

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import REPO_ROOT, kgfuse_binary, require
PIP_HINT = ("pip install torch==2.15.0 sentence-transformers==6.2.0 transformers==5.24.0 "
            "tokenizers==0.23.3 numpy==2.4.6")
RATE_RE = re.compile(r"embedded (\d+) texts in ([0-9.]+) s \(([0-9.]+) sentences/s\)")
SWRC = "http://swrc.ontoware.org/ontology#"
LITERAL_RE = re.compile(r'^<[^>]*>\s+<' + re.escape(SWRC)
                        + r'(title|abstract)>\s+"((?:[^"\\]|\\.)*)"')
ESCAPE_RE = re.compile(r'\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)')
ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
WARMUP_TEXTS = 8

# MiniLM-L6: 6 layers, hidden 384, intermediate 1536.
LAYERS, HIDDEN, INTERMEDIATE = 6, 384, 1536
MATMUL_WEIGHTS = LAYERS * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * INTERMEDIATE)


# ---------------------------------------------------------------- PyTorch worker (child process)

def worker_torch(args):
    import resource

    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    from sentence_transformers import SentenceTransformer

    texts = Path(args.texts_file).read_text(encoding="utf-8").split("\n")[:-1]
    model = SentenceTransformer(str(args.model_dir), device="cpu")
    loaded_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model.encode(texts[:WARMUP_TEXTS], batch_size=args.batch_size, normalize_embeddings=True,
                 convert_to_numpy=True, show_progress_bar=False)
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True,
                           convert_to_numpy=True, show_progress_bar=False)
    seconds = time.perf_counter() - started
    np.save(args.out, vectors.astype(np.float32))
    result = {"seconds": seconds, "rate": len(texts) / seconds, "rows": len(vectors),
              "torch": torch.__version__, "threads": torch.get_num_threads(),
              "max_seq_length": model.max_seq_length, "loaded_rss_mib": loaded_rss}
    if args.stats:
        lengths = [len(ids) for ids in model.tokenizer(
            texts, truncation=True, max_length=model.max_seq_length)["input_ids"]]
        result["token_lengths"] = lengths
        result["matmul_gflops"] = matmul_peak(torch)
    return result


def matmul_peak(torch, size=1024, seconds=1.0):
    """Best f32 GFLOP/s of a size^3 torch matmul (torch's thread setting as it is)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        a @ b
        best = max(best, 2 * size**3 / (time.perf_counter() - started) / 1e9)
    return best


# ---------------------------------------------------------------- child processes

def run_child(command, env, log):
    """Run a command with stdout+stderr to log; (exit code, wall s, peak RSS MiB, output)."""
    started = time.perf_counter()
    with open(log, "w+", encoding="utf-8") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        output = out.read()
    return proc.returncode, wall, usage.ru_maxrss / 1024, output


def child_env(threads):
    env = dict(os.environ)
    env.update(RAYON_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               TOKENIZERS_PARALLELISM="true")
    # HF_HUB_OFFLINE=1 / TRANSFORMERS_OFFLINE=1 made every encode() call about 0.4 s slower
    # (transformers 5.24), so they are not set: the model is a local folder either way.
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        env.pop(name, None)
    return env


def run_kgfuse(binary, texts_file, batch, model_dir, threads, out, workdir):
    command = [str(binary), "--memory", "embed", "--file", str(texts_file),
               "--batch-size", str(batch), "--format", "npy", "--out", str(out),
               "--bert", str(model_dir)]
    code, wall, rss, output = run_child(command, child_env(threads), workdir / "kgfuse.log")
    if code != 0:
        raise RuntimeError(f"kgfuse embed exited with {code}:\n{output[-2000:]}")
    match = RATE_RE.search(output)
    if not match:
        raise RuntimeError("kgfuse embed printed no `embedded N texts in T s` line:\n"
                           + output[-2000:])
    return {"seconds": float(match.group(2)), "rate": float(match.group(3)),
            "rows": int(match.group(1)), "wall_s": wall, "rss_mib": rss}


def run_torch(texts_file, batch, model_dir, threads, out, workdir, stats):
    command = [sys.executable, str(Path(__file__).resolve()), "--worker",
               "--texts-file", str(texts_file), "--batch-size", str(batch),
               "--threads", str(threads), "--bert", str(model_dir), "--out", str(out)]
    if stats:
        command.append("--stats")
    code, wall, rss, output = run_child(command, child_env(threads), workdir / "torch.log")
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if code != 0 or not lines:
        raise RuntimeError(f"PyTorch worker exited with {code}:\n{output[-3000:]}")
    result = json.loads(lines[-1])
    result.update(wall_s=wall, rss_mib=rss)
    return result


def best_of(runs):
    """Fastest run; peak RSS is the largest of all runs."""
    best = dict(max(runs, key=lambda run: run["rate"]))
    best["rss_mib"] = max(run["rss_mib"] for run in runs)
    return best


# ---------------------------------------------------------------- texts

def metaqa_texts(data, count):
    path = data / "metaqa" / "qa_1hop.txt"
    texts = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            question = line.rstrip("\n").split("\t")[0].strip()
            if question:
                texts.append(question)
            if len(texts) == count:
                break
    return texts, f"MetaQA 1-hop questions (first {len(texts)} of {path.name})"


def unescape(literal):
    def one(match):
        code = match.group(1)
        if code[0] in "uU" and len(code) > 1:
            return chr(int(code[1:], 16))
        return ESCAPES.get(code, code)
    return ESCAPE_RE.sub(one, literal)


def aifb_texts(data, count):
    path = data / "aifb" / "aifb+.nt.gz"
    found = set()
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            match = LITERAL_RE.match(line)
            if match:
                text = " ".join(unescape(match.group(2)).split())
                if text:
                    found.add(text)
    texts = sorted(found, key=lambda text: (-len(text), text))[:count]
    return texts, (f"AIFB+ swrc:title/swrc:abstract literals (longest {len(texts)} of "
                   f"{len(found)} distinct)")


TEXT_SETS = {"metaqa": metaqa_texts, "aifb": aifb_texts}


# ---------------------------------------------------------------- FLOP estimate

def useful_flops(lengths):
    """Model FLOPs over the texts' real tokens (no padding)."""
    return sum(length * (2 * MATMUL_WEIGHTS + LAYERS * 4 * HIDDEN * length)
               for length in lengths)


def gemm_peak(threads):
    """GFLOP/s of gemm, kgfuse's matmul (the matmul_peak example), or None if it cannot run."""
    command = ["cargo", "run", "--release", "--quiet", "--example", "matmul_peak", "--",
               "--threads", str(threads), "--json"]
    try:
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=True)
        return json.loads(done.stdout)
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError) as failed:
        print(f"warning: no gemm peak ({' '.join(command)}: {failed})")
        return None


# ---------------------------------------------------------------- report

def cosines(np, ours, theirs):
    a, b = np.load(ours), np.load(theirs)
    if a.shape != b.shape:
        raise RuntimeError(f"kgfuse gave {a.shape} vectors, PyTorch {b.shape}")
    cos = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return float(cos.mean()), float(cos.min())


def print_table(label, texts, rows, threads, stats):
    print(f"\n== {label}: {len(texts)} texts, {threads} thread(s)")
    if stats and stats.get("token_lengths"):
        lengths = stats["token_lengths"]
        print(f"tokens per text (with [CLS]/[SEP], cut at 256): mean "
              f"{sum(lengths) / len(lengths):.1f}, max {max(lengths)}")
    head = (f"{'batch':>5} | {'kgfuse sent/s':>13} {'RSS MiB':>8} {'wall s':>7} | "
            f"{'PyTorch sent/s':>14} {'RSS MiB':>8} {'wall s':>7} | {'kgfuse/PyTorch':>14} | "
            f"{'cos mean':>9} {'cos min':>9}")
    print(head)
    print("-" * len(head))
    for batch, ours, theirs, (cos_mean, cos_min) in rows:
        print(f"{batch:>5} | {ours['rate']:>13.1f} {ours['rss_mib']:>8.0f} "
              f"{ours['wall_s']:>7.2f} | "
              f"{theirs['rate']:>14.1f} {theirs['rss_mib']:>8.0f} {theirs['wall_s']:>7.2f} | "
              f"{ours['rate'] / theirs['rate']:>13.2f}x | {cos_mean:>9.6f} {cos_min:>9.6f}")
    print("(peak RSS of the PyTorch child after its imports and model loading, before "
          "encoding: " + ", ".join(f"{theirs['loaded_rss_mib']:.0f}" for _, _, theirs, _ in rows)
          + " MiB)")
    print()
    for batch, ours, theirs, _ in rows:
        print(f"batch {batch:>3}: kgfuse/PyTorch = {ours['rate'] / theirs['rate']:.2f}x speed "
              f"({ours['seconds']:.2f} s vs {theirs['seconds']:.2f} s), "
              f"{ours['rss_mib'] / theirs['rss_mib']:.2f}x peak RSS "
              f"({ours['rss_mib']:.0f} vs {theirs['rss_mib']:.0f} MiB)")
    if stats and stats.get("token_lengths"):
        flops = useful_flops(stats["token_lengths"])
        print(f"\nf32 matmul, {threads} thread(s): torch 1024^3 {stats['matmul_gflops']:.1f} GFLOP/s",
              end="")
        peak = stats.get("gemm")
        if peak:
            forward = peak["forward"].values()
            print(f"; gemm 1024^3 {peak['square_1024']:.1f}, gemm on the forward's shapes "
                  f"{min(forward):.1f}-{max(forward):.1f} (kgfuse's matmul)")
        else:
            print()
        reference = peak["square_1024"] if peak else stats["matmul_gflops"]
        print(f"useful work: ~{flops / len(texts) / 1e6:.0f} MFLOP/text (real tokens only); "
              f"percentages are of {reference:.1f} GFLOP/s")
        for batch, ours, theirs, _ in rows:
            print(f"batch {batch:>3}: kgfuse {flops / ours['seconds'] / 1e9:.1f} GFLOP/s "
                  f"({100 * flops / ours['seconds'] / 1e9 / reference:.0f}%), "
                  f"PyTorch {flops / theirs['seconds'] / 1e9:.1f} GFLOP/s "
                  f"({100 * flops / theirs['seconds'] / 1e9 / reference:.0f}%)")


# ---------------------------------------------------------------- main

def shared_data():
    data = Path(os.environ.get("KGFUSE_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data")
    if not data.is_dir():
        sys.exit(f"error: shared data folder {data} not found; set KGFUSE_SHARED_DATA")
    return data


def batch_sizes(text):
    sizes = [int(part) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return sizes


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", choices=["metaqa", "aifb", "both"], default="metaqa",
                        help="which texts to embed (default metaqa)")
    parser.add_argument("--count", type=int, default=2000, help="number of texts (default 2000)")
    parser.add_argument("--batch-sizes", type=batch_sizes, default=[1, 16, 64],
                        help="comma-separated batch sizes (default 1,16,64)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for both sides (default os.cpu_count())")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per side and batch size, the fastest kept (default 1)")
    parser.add_argument("--bert", type=Path,
                        help="sentence-transformers folder (default <shared data>/models/"
                             "all-MiniLM-L6-v2)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--texts-file", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--stats", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker_torch(args)))
        return

    require(__file__, PIP_HINT, "numpy", "torch", "sentence_transformers")
    import numpy as np

    binary = kgfuse_binary()
    data = shared_data()
    model_dir = args.model_dir or data / "models" / "all-MiniLM-L6-v2"
    if not (model_dir / "model.safetensors").is_file():
        sys.exit(f"error: no model.safetensors in {model_dir}")
    print(f"kgfuse: {binary}\nmodel: {model_dir}\nthreads: {args.threads}, batch sizes: "
          f"{args.batch_sizes}, repeats: {args.repeats}, python: {sys.executable}")
    busy = os.getloadavg()[0]
    if busy > 0.5:
        print(f"warning: load average {busy:.2f} before starting: other processes compete for "
              "the cores (PyTorch at small batches suffers most)")
    peak = gemm_peak(args.threads)
    sets = ["metaqa", "aifb"] if args.texts == "both" else [args.texts]
    with tempfile.TemporaryDirectory(prefix="kgfuse-text-bench-") as tmp:
        workdir = Path(tmp)
        for name in sets:
            texts, label = TEXT_SETS[name](data, args.count)
            texts_file = workdir / f"{name}.txt"
            texts_file.write_text("".join(text + "\n" for text in texts), encoding="utf-8")
            rows, stats = [], None
            for batch in args.batch_sizes:
                ours_out = workdir / f"{name}-kgfuse-{batch}.npy"
                theirs_out = workdir / f"{name}-torch-{batch}.npy"
                ours_runs, theirs_runs = [], []
                for repeat in range(args.repeats):
                    print(f"{name}, batch {batch}, run {repeat + 1}/{args.repeats}: kgfuse ...",
                          end="", flush=True)
                    ours_runs.append(run_kgfuse(binary, texts_file, batch, model_dir,
                                                args.threads, ours_out, workdir))
                    print(f" {ours_runs[-1]['rate']:.1f}/s; PyTorch ...", end="", flush=True)
                    want_stats = stats is None
                    theirs_runs.append(run_torch(texts_file, batch, model_dir, args.threads,
                                                 theirs_out, workdir, want_stats))
                    if want_stats:
                        stats = {key: theirs_runs[-1].pop(key)
                                 for key in ("token_lengths", "matmul_gflops")}
                        stats["torch"] = theirs_runs[-1]["torch"]
                        stats["gemm"] = peak
                    print(f" {theirs_runs[-1]['rate']:.1f}/s", flush=True)
                ours, theirs = best_of(ours_runs), best_of(theirs_runs)
                if ours["rows"] != len(texts) or theirs["rows"] != len(texts):
                    raise RuntimeError(f"{len(texts)} texts but kgfuse embedded {ours['rows']}, "
                                       f"PyTorch {theirs['rows']}")
                rows.append((batch, ours, theirs, cosines(np, ours_out, theirs_out)))
            print(f"(PyTorch side: torch {stats['torch']}, sentence-transformers; "
                  f"sent/s excludes model loading on both sides)")
            print_table(label, texts, rows, args.threads, stats)
            print(f"load average (1, 5, 15 min) at the end: "
                  + ", ".join(f"{load:.2f}" for load in os.getloadavg()))


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, subprocess.CalledProcessError) as failed:
        sys.exit(f"error: {failed}")
