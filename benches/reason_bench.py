#!/usr/bin/env python3
"""Time kgfuse's OWL 2 RL reasoner against `reasonable` and `owlrl` on the same input.

Input: ontologies/risk.ttl plus a synthetic finance graph written by
``kgfuse generate finance --companies N --seed S`` (about 66 triples per company; the default
``--companies 2500`` gives 165k triples).  The tools run one after the other, once each:

* kgfuse: ``kgfuse --store TMP load ...`` then ``kgfuse --store TMP reason`` (which writes the
  closure into the inferred graph), then ``reason`` again on the same store (the re-run);
  ``--repeat`` times (default 3), each on a fresh store, medians reported.  The reasoning time is
  the ``T s`` of its summary line (reading the store excluded); "wall s" is the whole reason
  command, and "e2e/T" their ratio (the target is 3x or less).  The reason command's own
  breakdown (``time: read .., reason .., expand .., write ..`` on stderr) is printed too.
* reasonable (PyPI ``reasonable``, an OWL 2 RL reasoner in Rust with Python bindings):
  ``PyReasoner.load_file()`` per file (load time), then ``reason()`` (reasoning time; it includes
  handing the whole closure back to Python as rdflib terms, which the API does not separate).
* owlrl: ``rdflib.Graph.parse()`` (load time), then ``owlrl.DeductiveClosure(OWLRL_Semantics,
  axiomatic_triples=False, datatype_axioms=False).expand(graph)`` (reasoning time).  owlrl is
  slow, so by default it runs on a smaller graph (``--owlrl-companies``); kgfuse is then run on
  that graph as well and the owlrl ratio compares the two on the same small input.

reasonable and owlrl run in child processes with a wall-clock limit (``--timeout``, reported as
"> N s") and an address-space limit (``--memory-limit-gb``, default 85% of the machine's
memory; reported as a failure).  reasonable's memory grows faster than linearly on this graph (measured: 1800 companies 5.9 GB
peak RSS, 2500 companies 11.4 GB; 5000 companies fails on a 23 GB machine), which is what sets
the default size; kgfuse handles 5000 companies (328k triples) in about 2 s.  "inferred" is
the number of distinct triples in the closure that are not in the input, for each tool; the
tools differ in small, known ways (owlrl adds eq-ref and datatype triples, see
reason_crosscheck.py), so the counts are a sanity check, not an exact match.

``--fibo DIR`` (default: ``$KGFUSE_SHARED_DATA/fibo`` or ``../shared/data/fibo`` when it exists;
``--fibo ''`` skips it) adds FIBO (271 RDF/XML files, 69k triples) as a second input for kgfuse and
reasonable; reasonable reads it through rdflib (``PyReasoner.from_graph``), since its own parser
reads Turtle and N-Triples only, so its load time there is rdflib's.  ``--fibo-companies N`` (default
5000; 0 skips it) adds a third input, "fibo+N": FIBO, risk.ttl (which declares its terms
specialisations of FIBO's) and an N-company world together, as a risk analyst loads them; the
report gives both tools' end-to-end time (load + reason) on it and their ratio.  A comma-separated
list (``--fibo-companies 5000,1500``) gives one such input per size: reasonable runs out of memory
on FIBO with 5,000 companies on a 23 GB machine (it asks for one 24 GiB block), so a smaller size
gives the side-by-side figure.

About owl:InverseFunctionalProperty: reasonable 0.4.4's prp-ifp joins the two premises without
requiring the same object, so ``:p a owl:InverseFunctionalProperty. :x1 :p :y1. :x2 :p :y2.``
yields ``:x1 owl:sameAs :x2``; with n such triples it derives n^2 sameAs triples and runs out of
memory on risk.ttl + a finance graph (risk:hasShareholding and risk:hasMention are inverse
functional).  By default the script therefore removes the ``rdf:type
owl:InverseFunctionalProperty`` triples from the ontology, for ALL tools alike; ``--keep-ifp``
keeps the ontology as it is (reasonable then fails).

Setup (tested with these versions)::

    python3 -m venv /tmp/kgfuse-bench-venv
    /tmp/kgfuse-bench-venv/bin/pip install owlrl==7.6.2 reasonable==0.4.4 rdflib==7.6.0
    cargo build --release

Usage::

    /tmp/kgfuse-bench-venv/bin/python benches/reason_bench.py
    /tmp/kgfuse-bench-venv/bin/python benches/reason_bench.py --companies 2000 --owlrl-companies 2000
    /tmp/kgfuse-bench-venv/bin/python benches/reason_bench.py --keep-ifp --timeout 120
    /tmp/kgfuse-bench-venv/bin/python benches/reason_bench.py --companies 5000 --seed 3 \
        --owlrl-companies 0 --repeat 3                 # the write-path target (issue 13)

The binary is ``$KGFUSE_BIN`` if set, else ``$CARGO_TARGET_DIR/release/kgfuse``, else
``target/release/kgfuse`` under the repository root.
"""

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import REPO_ROOT, kgfuse_binary
PIP_HINT = "pip install owlrl==7.6.2 reasonable==0.4.4 rdflib==7.6.0"
SUMMARY_RE = re.compile(r"asserted (\d+), inferred (\d+), (\d+) rounds, ([0-9.]+) s")


def require(*modules):
    """Import the named modules or exit with the pip command that installs them."""
    loaded = []
    for name in modules:
        try:
            loaded.append(__import__(name))
        except ImportError:
            sys.exit(f"error: missing Python package `{name}`; install it with: {PIP_HINT}")
    return loaded


# ---------------------------------------------------------------- workers (child processes)

def worker_reasonable(files):
    (reasonable,) = require("reasonable")
    reasoner = reasonable.PyReasoner()
    started = time.perf_counter()
    own_syntax = [p for p in files if p.endswith((".ttl", ".nt"))]
    for path in own_syntax:
        reasoner.load_file(str(path))
    others = [p for p in files if p not in own_syntax]
    if others:
        (rdflib,) = require("rdflib")
        graph = rdflib.Graph()
        for path in others:
            graph.parse(str(path))
        reasoner.from_graph(graph)
    loaded = time.perf_counter()
    closure = reasoner.reason()
    done = time.perf_counter()
    inferred = len(set(closure) - set(reasoner.get_base_triples()))
    return {"load_s": loaded - started, "reason_s": done - loaded, "inferred": inferred}


def worker_owlrl(files):
    owlrl, rdflib = require("owlrl", "rdflib")
    graph = rdflib.Graph()
    started = time.perf_counter()
    for path in files:
        graph.parse(str(path))
    loaded = time.perf_counter()
    asserted = len(graph)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False,
                           datatype_axioms=False).expand(graph)
    done = time.perf_counter()
    return {"load_s": loaded - started, "reason_s": done - loaded,
            "inferred": len(graph) - asserted}


WORKERS = {"reasonable": worker_reasonable, "owlrl": worker_owlrl}


def run_worker(tool, files, timeout, memory_gb):
    """Run one Python reasoner in a child process: its result dict, or {'error': ...}."""
    def limit_memory():
        cap = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    command = [sys.executable, __file__, "--worker", tool, *map(str, files)]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        return {"error": f"> {timeout:.0f} s (timed out)"}
    wall = time.perf_counter() - started
    if done.returncode != 0:
        last = failure_cause(done.stderr)
        return {"error": f"failed after {wall:.0f} s (exit {done.returncode}): {last}"}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


BACKTRACE_LINE = re.compile(r"^\s*(\d+: |at |note: |stack backtrace:)")


def failure_cause(stderr):
    """The last line of a failed child's stderr that is not part of a Rust backtrace.

    rdflib's warnings come first and a backtrace may come last, so neither end alone is the
    cause (for reasonable out of memory: `memory allocation of N bytes failed`).
    """
    lines = [l for l in stderr.strip().splitlines() if l.strip() and not BACKTRACE_LINE.match(l)]
    return (lines or ["?"])[-1][:100]


# ---------------------------------------------------------------- kgfuse

def generate_finance(binary, companies, seed, workdir):
    out = workdir / f"finance-{companies}"
    subprocess.run([binary, "--memory", "generate", "finance", "--companies", str(companies),
                    "--seed", str(seed), "--out", out],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return out / "finance.ttl"


TIME_RE = re.compile(r"time: read ([0-9.]+) s, reason ([0-9.]+) s, expand ([0-9.]+) s, "
                     r"write ([0-9.]+) s")


def reason_once(binary, store):
    """One `kgfuse reason` (writing): its summary, stderr breakdown and wall time."""
    started = time.perf_counter()
    done = subprocess.run([binary, "--store", store, "reason"],
                          check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    match = SUMMARY_RE.search(done.stdout)
    phases = TIME_RE.search(done.stderr)
    if not match or not phases:
        raise RuntimeError("kgfuse reason printed no summary or time line:\n"
                           + done.stdout[-2000:] + done.stderr[-2000:])
    asserted, inferred, rounds, seconds = match.groups()
    read, _, expand, write = map(float, phases.groups())
    return {"reason_s": float(seconds), "wall_s": wall, "inferred": int(inferred),
            "asserted": int(asserted), "rounds": int(rounds), "read_s": read,
            "expand_s": expand, "write_s": write}


def median_of(results):
    """Field-wise median of a list of result dicts (counts are equal across runs)."""
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def run_kgfuse(binary, files, workdir, repeat):
    """Per repetition: load into a fresh store, reason (writes), reason again (re-run)."""
    firsts, reruns = [], []
    for _ in range(repeat):
        store = Path(tempfile.mkdtemp(prefix="store-", dir=workdir))
        started = time.perf_counter()
        subprocess.run([binary, "--store", store, "load", *files], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        load_s = time.perf_counter() - started
        first = reason_once(binary, store)
        first["load_s"] = load_s
        firsts.append(first)
        rerun = reason_once(binary, store)
        rerun["load_s"] = load_s
        reruns.append(rerun)
        shutil.rmtree(store)
    return median_of(firsts), median_of(reruns)


# ---------------------------------------------------------------- input

def ontology_without_ifp(workdir):
    """risk.ttl less its `rdf:type owl:InverseFunctionalProperty` triples (see the docstring)."""
    (rdflib,) = require("rdflib")
    graph = rdflib.Graph()
    graph.parse(str(REPO_ROOT / "ontologies" / "risk.ttl"))
    graph.remove((None, rdflib.RDF.type, rdflib.OWL.InverseFunctionalProperty))
    path = workdir / "risk-without-ifp.ttl"
    graph.serialize(destination=str(path), format="turtle")
    return path


# ---------------------------------------------------------------- report

def row(tool, size, result):
    if "error" in result:
        return f"{tool:<17} {size:>9}  {result['error']}"
    wall = f"{result['wall_s']:>9.2f}" if "wall_s" in result else f"{'':>9}"
    e2e = f"{result['wall_s'] / result['reason_s']:>6.1f}x" if "read_s" in result else ""
    return (f"{tool:<17} {size:>9} {result['load_s']:>8.2f} {result['reason_s']:>9.3f} "
            f"{wall} {result['inferred']:>10.0f} {e2e}")


def ratio(name, other, ours):
    if "error" in other:
        return f"{name}: n/a ({other['error']})"
    return (f"{name}: {other['reason_s'] / ours['reason_s']:.1f}x "
            f"(reasoning time {other['reason_s']:.3f} s / {ours['reason_s']:.3f} s)")


def breakdown(name, result):
    return (f"  {name}: read {result['read_s']:.2f} s, reason {result['reason_s']:.2f} s, "
            f"expand {result['expand_s']:.2f} s, write {result['write_s']:.2f} s; "
            f"end to end {result['wall_s']:.2f} s = {result['wall_s'] / result['reason_s']:.1f}x "
            f"the reasoning time (target <= 3x)")


def print_report(args, runs):
    print(f"\n{'tool':<17} {'input':>9} {'load s':>8} {'reason s':>9} {'wall s':>9} "
          f"{'inferred':>10} {'e2e/T':>7}")
    for tool, size, result in runs:
        print(row(tool, size, result))
    print(f"(kgfuse: medians of {args.repeat} runs on fresh stores; 'reason s' is T from its "
          "summary line, 'wall s' the whole `kgfuse reason` command including the write, "
          "'e2e/T' their ratio; others: 'wall s' is the child process)")
    by_name = {(tool, size): result for tool, size, result in runs}
    print()
    for (tool, size), result in by_name.items():
        if tool.startswith("kgfuse") and "read_s" in result:
            print(breakdown(f"{tool} on {size}", result))
    print()
    print(ratio(f"reasonable / kgfuse ({args.companies} companies)",
                by_name[("reasonable", args.companies)], by_name[("kgfuse", args.companies)]))
    if ("owlrl", args.owlrl_companies) in by_name:
        print(ratio(f"owlrl / kgfuse ({args.owlrl_companies} companies)",
                    by_name[("owlrl", args.owlrl_companies)],
                    by_name[("kgfuse", args.owlrl_companies)]))
    if ("reasonable", "fibo") in by_name:
        print(ratio("reasonable / kgfuse (FIBO)", by_name[("reasonable", "fibo")],
                    by_name[("kgfuse", "fibo")]))
    for companies in args.fibo_companies:
        combined = f"fibo+{companies}"
        if ("reasonable", combined) in by_name:
            print(ratio(f"reasonable / kgfuse ({combined})", by_name[("reasonable", combined)],
                        by_name[("kgfuse", combined)]))
            print(end_to_end(combined, by_name[("reasonable", combined)],
                             by_name[("kgfuse", combined)]))


def end_to_end(name, other, ours):
    """Load + reason, each tool as a user runs it: kgfuse's two commands, reasonable's child."""
    kgfuse_s = ours["load_s"] + ours["wall_s"]
    if "error" in other:
        return f"end to end on {name}: kgfuse {kgfuse_s:.2f} s; reasonable {other['error']}"
    other_s = other["load_s"] + other["reason_s"]
    return (f"end to end on {name} (load + reason): reasonable {other_s:.2f} s / kgfuse "
            f"{kgfuse_s:.2f} s = {other_s / kgfuse_s:.1f}x")


def default_fibo():
    root = os.environ.get("KGFUSE_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data"
    path = Path(root) / "fibo"
    return str(path) if path.is_dir() else ""


def sizes_list(text):
    """`5000,1500` as [5000, 1500]; 0 (or nothing) as no size."""
    return [int(part) for part in text.split(",") if part.strip() and int(part) > 0]


def default_memory_limit_gb():
    return 0.85 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--companies", type=int, default=2500,
                        help="size of the finance graph for kgfuse and reasonable (default 2500)")
    parser.add_argument("--owlrl-companies", type=int, default=300,
                        help="size of the finance graph for owlrl (default 300; 0 skips owlrl)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="kgfuse runs per input, each on a fresh store; medians (default 3)")
    parser.add_argument("--fibo", default=default_fibo(),
                        help="FIBO folder (RDF/XML) as a second input; '' skips it "
                             "(default: the shared data folder's fibo/ when present)")
    parser.add_argument("--fibo-companies", type=sizes_list, default=[5000, 1500],
                        help="sizes of the worlds loaded with FIBO and risk.ttl, comma-separated "
                             "(default 5000,1500; 0 skips that input)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--timeout", type=float, default=300,
                        help="wall-clock limit per Python reasoner run, seconds (default 300)")
    parser.add_argument("--memory-limit-gb", type=float, default=default_memory_limit_gb(),
                        help="address-space limit per Python reasoner run "
                             "(default 85%% of physical memory)")
    parser.add_argument("--keep-ifp", action="store_true",
                        help="keep owl:InverseFunctionalProperty axioms (reasonable fails)")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args.files)))
        return
    require("reasonable", "rdflib", *(["owlrl"] if args.owlrl_companies else []))

    binary = kgfuse_binary()
    with tempfile.TemporaryDirectory(prefix="kgfuse-bench-") as tmp:
        workdir = Path(tmp)
        ontology = REPO_ROOT / "ontologies" / "risk.ttl"
        if not args.keep_ifp:
            ontology = ontology_without_ifp(workdir)
        print(f"kgfuse: {binary}\nontology: {ontology.name}"
              f"{'' if args.keep_ifp else ' (risk.ttl less owl:InverseFunctionalProperty)'}")
        runs = []
        sizes = {args.companies} | ({args.owlrl_companies} if args.owlrl_companies else set())
        inputs = [(size, lambda size=size: [ontology, generate_finance(binary, size, args.seed,
                                                                      workdir)])
                  for size in sorted(sizes, reverse=True)]
        if args.fibo:
            fibo_files = sorted(str(p) for p in Path(args.fibo).rglob("*.rdf"))
            inputs.append(("fibo", lambda: fibo_files))
            for companies in args.fibo_companies:
                inputs.append((f"fibo+{companies}", lambda companies=companies: fibo_files + [
                    ontology, generate_finance(binary, companies, args.seed, workdir)]))
        for size, make_files in inputs:
            files = make_files()
            tools = ["kgfuse"]
            if size in (args.companies, "fibo") or str(size).startswith("fibo+"):
                tools.append("reasonable")
            if size == args.owlrl_companies:
                tools.append("owlrl")
            for tool in tools:
                print(f"running {tool} on {size} ...", flush=True)
                if tool == "kgfuse":
                    first, rerun = run_kgfuse(binary, files, workdir, args.repeat)
                    print(f"  input: {first['asserted']:.0f} triples, {first['rounds']:.0f} rounds")
                    runs.append(("kgfuse", size, first))
                    runs.append(("kgfuse (re-run)", size, rerun))
                else:
                    runs.append((tool, size, run_worker(tool, files, args.timeout,
                                                        args.memory_limit_gb)))
    print_report(args, runs)


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as failed:
        sys.exit(f"error: {' '.join(map(str, failed.cmd))} exited with {failed.returncode}\n"
                 f"{failed.stderr or ''}")
