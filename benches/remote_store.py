#!/usr/bin/env python3
"""kgfuse on a remote store (Virtuoso) against the embedded store, at several world sizes.

Command line (from the repository root, after ``cargo build --release``; Virtuoso from
``apt-get install virtuoso-opensource``)::

    python3 benches/remote_store.py --work /tmp/remote-bench --sizes 1000,10000,100000

For each size a finance world is generated (``kgfuse generate finance --companies N --seed 7``)
and the same commands run on a fresh embedded store and on a fresh Virtuoso database, one after
the other on the same machine:

* ``load`` of ontologies/risk.ttl and the world (Virtuoso: into two named graphs through its
  Graph Store endpoint ``/sparql-graph-crud``, 50,000 triples per request);
* ``reason`` (reads the asserted graphs, writes the inferred graph);
* ``train classify --class risk:Company --label risk:riskLabel --no-text --epochs 1``: the graph
  read, the feature build and one epoch (text is off so that the BERT encoding, the same on both
  stores, does not hide the store's part);
* ``ask`` of ten questions in one process (``--file``), with the QA model that ``kgfuse
  quickstart`` trains (run once, first).

Each row gives seconds on both stores, the ratio remote/embedded and the HTTP requests the remote
command made (kgfuse prints them).  The remote store reads whole graphs in pages of 10,000 rows,
four requests at a time.  Results larger than a page are read again in pages of the sorted
result, and Virtuoso refuses to sort past MaxSortedTopRows (10,000 by default), so it runs here
with MaxSortedTopRows = 10,000,000.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_GRAPH = "http://example.org/graph/world"
ONTOLOGY_GRAPH = "http://example.org/graph/ontology"

VIRTUOSO_INI = """\
[Database]
DatabaseFile = {db}/virtuoso.db
ErrorLogFile = {db}/virtuoso.log
LockFile = {db}/virtuoso.lck
TransactionFile = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
[TempDatabase]
DatabaseFile = {db}/virtuoso-temp.db
TransactionFile = {db}/virtuoso-temp.trx
[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
CaseMode = 2
MaxSortedTopRows = 10000000
NumberOfBuffers = 340000
MaxDirtyBuffers = 250000
[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerThreads = 8
MaxClientConnections = 8
[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = 600
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Virtuoso:
    """A fresh Virtuoso database in a temporary folder, stopped on exit."""

    def __init__(self, binary, work):
        self.dir = Path(tempfile.mkdtemp(dir=work, prefix="virtuoso-"))
        self.sql, self.http = free_port(), free_port()
        (self.dir / "virtuoso.ini").write_text(
            VIRTUOSO_INI.format(db=self.dir, sql_port=self.sql, http_port=self.http))
        self.proc = subprocess.Popen([binary, "-c", "virtuoso.ini", "+foreground"], cwd=self.dir,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.time()
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.http}/sparql?query=ASK%7B%7D", timeout=2)
                break
            except OSError:
                if time.time() - started > 120:
                    raise SystemExit("Virtuoso did not start")
                time.sleep(0.2)
        isql = Path(binary).with_name("isql-vt")
        subprocess.run([str(isql), f"127.0.0.1:{self.sql}", "dba", "dba",
                        'exec=GRANT SPARQL_UPDATE TO "SPARQL";'], check=True, capture_output=True)

    def store(self):
        graphs = "&".join(f"default-graph-uri={urllib.parse.quote(g, safe='')}"
                          for g in (DATA_GRAPH, ONTOLOGY_GRAPH))
        return f"sparql+http://127.0.0.1:{self.http}/sparql?{graphs}"

    def flags(self):
        return ["--graph-store", f"http://127.0.0.1:{self.http}/sparql-graph-crud"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def run(kgfuse, store, flags, args, cwd):
    """Runs kgfuse; returns (seconds, requests or None, stdout)."""
    started = time.perf_counter()
    done = subprocess.run([kgfuse, "--store", store, *flags, *args], cwd=cwd,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"kgfuse {' '.join(args)} failed on {store}:\n{done.stderr[-2000:]}")
    requests = re.findall(r"^(\d+) requests to ", done.stderr, re.M)
    return seconds, (sum(map(int, requests)) if requests else None), done.stdout


def questions(kgfuse, store, flags, cwd, count):
    """Questions about companies that control others, in the quickstart's wording."""
    query = ("SELECT DISTINCT ?l WHERE { ?c risk:controls ?x ; rdfs:label ?l } "
             f"ORDER BY ?l LIMIT {count}")
    _, _, out = run(kgfuse, store, flags, ["query", "--format", "tsv", query], cwd)
    labels = [line.strip('"').split('"')[0] for line in out.splitlines()[1:]]
    return [f"which entities does [{label}] controls" for label in labels]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (emptied)")
    parser.add_argument("--sizes", default="1000,10000,100000", help="companies per world")
    parser.add_argument("--kgfuse", default=str(ROOT / "target/release/kgfuse"))
    parser.add_argument("--virtuoso", default=shutil.which("virtuoso-t"))
    parser.add_argument("--bert", default=os.environ.get("KGFUSE_BERT_DIR"),
                        help="BERT folder for ask (default: $KGFUSE_BERT_DIR)")
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--qa", type=Path, help="a QA model folder to ask with (default: train "
                        "the quickstart's, about 3 minutes)")
    parser.add_argument("--train-up-to", type=int, default=10000,
                        help="train only on worlds of at most this many companies (one epoch on "
                             "10,000 takes about 2.5 minutes on 2 cores, and grows linearly)")
    args = parser.parse_args()
    if not args.virtuoso:
        raise SystemExit("virtuoso-t not found (apt-get install virtuoso-opensource)")
    kgfuse = str(Path(args.kgfuse).resolve())
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    bert = ["--bert", args.bert] if args.bert else []

    if args.qa:
        qa_model = str(args.qa.resolve())
    else:
        print("training the quickstart's QA model for `ask` …", file=sys.stderr)
        run(kgfuse, "qs-store", [], ["quickstart", "--out", "qs", *bert], args.work)
        qa_model = str(args.work / "qs" / "qa")

    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        world = args.work / f"world-{size}"
        subprocess.run([kgfuse, "generate", "finance", "--companies", str(size), "--seed", "7",
                        "--out", str(world)], check=True, capture_output=True)
        triples = sum(1 for _ in open(world / "finance.ttl", encoding="utf-8"))
        virtuoso = Virtuoso(args.virtuoso, args.work)
        try:
            stores = {
                "embedded": (str(args.work / f"store-{size}"), []),
                "virtuoso": (virtuoso.store(), virtuoso.flags()),
            }
            result = {"companies": size, "lines": triples}
            for name, (store, flags) in stores.items():
                loads = [["load", "--graph", ONTOLOGY_GRAPH, str(ROOT / "ontologies/risk.ttl")],
                         ["load", "--graph", DATA_GRAPH, str(world / "finance.ttl")]]
                seconds, requests = 0.0, 0
                for load in loads:
                    s, r, _ = run(kgfuse, store, flags, load, args.work)
                    seconds, requests = seconds + s, requests + (r or 0)
                result[f"{name}_load"] = (seconds, requests)
                s, r, out = run(kgfuse, store, flags, ["reason"], args.work)
                result[f"{name}_reason"] = (s, r or 0)
                result[f"{name}_inferred"] = re.search(r"(\d+) inferred triples", out).group(1)
                if size <= args.train_up_to:
                    s, r, _ = run(kgfuse, store, flags,
                                  ["train", "classify", "--class", "risk:Company", "--label",
                                   "risk:riskLabel", "--no-text", "--epochs", "1", "--out",
                                   f"model-{name}-{size}"], args.work)
                    result[f"{name}_train"] = (s, r or 0)
                asked = questions(kgfuse, store, flags, args.work, args.questions)
                (args.work / "questions.txt").write_text("\n".join(asked) + "\n")
                s, r, _ = run(kgfuse, store, flags,
                              ["ask", "--model", qa_model, *bert, "--file", "questions.txt",
                               "--format", "json"], args.work)
                result[f"{name}_ask"] = (s, r or 0)
                print(f"{size} companies, {name}: " + json.dumps(
                    {k: v for k, v in result.items() if k.startswith(name)}), file=sys.stderr)
            rows.append(result)
        finally:
            virtuoso.stop()

    print("\n| companies | step | embedded s | Virtuoso s | ratio | requests |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        for step in ("load", "reason", "train", "ask"):
            if f"embedded_{step}" not in r:
                print(f"| {r['companies']:,} | {step} | not run | not run | | |")
                continue
            (e, _), (v, n) = r[f"embedded_{step}"], r[f"virtuoso_{step}"]
            print(f"| {r['companies']:,} | {step} | {e:.2f} | {v:.2f} | {v / e:.1f} | {n:,} |")
    for r in rows:
        same = r["embedded_inferred"] == r["virtuoso_inferred"]
        print(f"{r['companies']:,} companies: {r['embedded_inferred']} inferred on the embedded "
              f"store, {r['virtuoso_inferred']} on Virtuoso ({'same' if same else 'DIFFERENT'})")


if __name__ == "__main__":
    main()
