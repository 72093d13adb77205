#!/usr/bin/env python3
"""Load-test `kgfuse serve` on MetaQA: throughput, latency and memory under concurrent clients,
side by side with Virtuoso Open Source on the same data and queries, plus an atomicity check of
Graph Store writes under concurrent reads.

Command line (from the repository root; Virtuoso from ``apt-get install virtuoso-opensource``):

    python3 benches/serve_load.py --kgfuse target/release/kgfuse --seconds 30 --clients 1,8,32

Setup, cached in ``--work`` (default ``target/serve-load``): a store built from MetaQA's
``kb.txt`` (``kgfuse load --format pipe``), a short question-answering model (``kgfuse train qa``
on the first ``--qa-limit`` questions of ``qa_1hop.txt`` and ``qa_2hop.txt``, ``--qa-epochs``
epochs) and the store exported as N-Triples for the peer.  The BERT checkpoint is ``--bert``,
``$KGFUSE_BERT_DIR`` or ``DATA/models/all-MiniLM-L6-v2``.

What runs, each run ``--seconds`` long after an unmeasured warm-up of ``--warmup`` seconds, with
N client threads that each keep one HTTP/1.1 keep-alive connection (``http.client``):

* ``sparql``: one of four MetaQA-style queries per request, parameters drawn from the KB: a
  1-hop lookup by label (movies of an actor), a 2-hop join (directors of an actor's movies), a
  COUNT with GROUP BY ... LIMIT 10 (top genres of a release year), and an ASK (did this person
  direct this movie; half true, half false).  kgfuse gets them as ``POST /sparql`` with
  ``Content-Type: application/sparql-query``; all ask for ``application/sparql-results+json``.
* ``ask``: ``POST /api/ask`` with questions from the part of qa_1hop.txt / qa_2hop.txt that the
  model was not trained on (the lines after ``--qa-limit``), brackets removed.
* The peer, Virtuoso Open Source 7 (Debian ``virtuoso-opensource``, found on PATH): a fresh
  database in a temporary folder under ``--work``, started with ``virtuoso-t +foreground`` on
  free loopback ports, the same N-Triples bulk-loaded into one graph (``ld_dir`` /
  ``rdf_loader_run``), and the same SPARQL mix sent with ``default-graph-uri`` naming that graph.
  Virtuoso 7.2 never answers a POST with a direct ``application/sparql-query`` body
  (openlink/virtuoso-opensource#842), so it gets the protocol's other POST form,
  ``application/x-www-form-urlencoded``.  Before the runs, every query of the mix is sent to both
  servers and the results compared.  Without virtuoso-t the peer rows are skipped and said so.
* ``writers+readers`` (kgfuse only): readers loop over a COUNT of one named graph while a writer
  replaces that graph with Graph Store ``PUT /store?graph=G`` (N-Triples), alternating between a
  version of 1,000 triples and a disjoint one of 2,000.  Every count must be 1000 or 2000; any
  other value is a violation and makes the script exit with status 1.  The graph is deleted at
  the end, so the cached store stays as it was built.

Per run: requests/s (2xx responses completed in the measured window), p50 and p99 latency,
errors (non-2xx answers and exceptions), the server's RSS (VmRSS from /proc) at the start and the
end of the window and its peak (sampled twice a second), and the CPU the server and this client
used over the window (100% = one core).  The client is one Python process, so it can use at most
about one core; compare the two CPU columns before reading a throughput as the server's limit.
The ratio lines give kgfuse's SPARQL requests/s over Virtuoso's for each client count.  Servers
are stopped with SIGTERM at the end (and on errors or Ctrl-C).
"""

import argparse
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from bench_common import REPO_ROOT, kgfuse_binary

BASE = "http://example.org/metaqa/"
PREFIXES = ("PREFIX m: <http://example.org/metaqa/>\n"
            "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n")
PEER_GRAPH = "http://example.org/metaqa/graph"
SWAP_GRAPH = "http://example.org/bench/swap"
SPARQL_JSON = "application/sparql-results+json"
SAFE_NAME = re.compile(r"[A-Za-z0-9 .,:;'&!?()-]+")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Request:
    """One HTTP request of a mix; `kind` names the query or endpoint for the breakdown."""
    kind: str
    method: str
    path: str
    body: bytes
    headers: dict


@dataclass
class RunResult:
    """What one load run measured."""
    server: str
    mix: str
    clients: int
    seconds: float
    latencies: list = field(default_factory=list)   # (kind, seconds) of the 2xx answers
    errors: int = 0
    first_error: str = ""
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    rss_peak_mb: float = 0.0
    server_cpu: float = 0.0    # cores used over the window
    client_cpu: float = 0.0

    @property
    def rate(self):
        """2xx answers per second."""
        return len(self.latencies) / self.seconds


class Server:
    """A server process this script started: its address, memory, CPU time and shutdown."""

    def __init__(self, name, proc, host, port, log):
        self.name, self.proc, self.host, self.port, self.log = name, proc, host, port, log

    def rss_mb(self):
        """Resident memory of the process (VmRSS), in MB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"{self.name}: no VmRSS in /proc/{self.proc.pid}/status")

    def cpu_seconds(self):
        """User plus system CPU time the process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def request(self, req, timeout=60):
        """Send one request on a new connection; return (status, body)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(req.method, req.path, body=req.body, headers=req.headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def stop(self):
        """SIGTERM, wait up to 30 s (SIGKILL after that); return a line saying how it went."""
        if self.proc.poll() is not None:
            return f"{self.name}: had already exited with status {self.proc.returncode}"
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
            return (f"{self.name}: stopped by SIGTERM in {time.monotonic() - start:.1f} s, "
                    f"exit status {code}")
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return f"{self.name}: did not stop within 30 s of SIGTERM; killed"


def run_checked(cmd, what, **kwargs):
    """Run a command; exit with its output tail when it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        sys.exit(f"error: {what} failed (status {proc.returncode}): {' '.join(map(str, cmd))}\n"
                 + "\n".join(tail))
    return proc


def free_port():
    """A loopback TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class StartError(Exception):
    """A server process did not come up."""


def wait_for_line(proc, log, pattern, what, timeout):
    """Poll a process's log file until a line matches `pattern`; return the match.

    Raises StartError (after killing the process) when it exits or times out first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log.read_text(errors="replace"))
        if match:
            return match
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
    raise StartError(f"{what} did not start (status {proc.returncode}); see {log}:\n{tail}")


# --- setup -----------------------------------------------------------------------------------

def build_store(kgfuse, store, kb):
    """Load kb.txt into a new store folder unless a finished one is cached there."""
    done = store.with_name(store.name + ".done")
    if done.exists() and store.is_dir():
        return "cached"
    shutil.rmtree(store, ignore_errors=True)
    start = time.monotonic()
    run_checked([kgfuse, "--store", store, "load", "--format", "pipe", "--base", BASE, kb],
                "kgfuse load")
    done.write_text(f"{kb}\n")
    return f"built in {time.monotonic() - start:.0f} s"


def train_qa(kgfuse, store, model, questions, limit, epochs, bert):
    """Train the short QA model unless it is cached (its metrics.json is written last)."""
    if (model / "metrics.json").exists():
        return "cached"
    shutil.rmtree(model, ignore_errors=True)
    start = time.monotonic()
    cmd = [kgfuse, "--store", store, "train", "qa", "--questions", *questions,
           "--limit", str(limit), "--epochs", str(epochs), "--out", model]
    if bert:
        cmd += ["--bert", bert]
    run_checked(cmd, "kgfuse train qa")
    return f"trained in {time.monotonic() - start:.0f} s"


def export_ntriples(kgfuse, store, out):
    """Export the store's default graph as N-Triples for the peer, unless cached."""
    if out.exists():
        return
    partial = out.with_name(out.name + ".partial")
    run_checked([kgfuse, "--store", store, "export", "--graph", "default", "--format",
                 "ntriples", "--out", partial], "kgfuse export")
    partial.rename(out)


def start_kgfuse(kgfuse, store, model, bert, work):
    """Start `kgfuse serve` on a free loopback port with the QA model and writes allowed."""
    log = work / "kgfuse-serve.log"
    cmd = [kgfuse, "serve", "--store", store, "--qa-model", model, "--bind", "127.0.0.1:0",
           "--allow-update"]
    if bert:
        cmd += ["--bert", bert]
    with open(log, "w") as err:
        proc = subprocess.Popen([str(c) for c in cmd], stdout=subprocess.DEVNULL, stderr=err)
    match = wait_for_line(proc, log, r"listening on http://([\d.]+):(\d+)", "kgfuse serve", 300)
    return Server("kgfuse", proc, match.group(1), int(match.group(2)), log)


VIRTUOSO_INI = """\
[Database]
DatabaseFile = {db}/virtuoso.db
ErrorLogFile = {db}/virtuoso.log
LockFile = {db}/virtuoso.lck
TransactionFile = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
TempStorage = TempDatabase
[TempDatabase]
DatabaseFile = {db}/virtuoso-temp.db
TransactionFile = {db}/virtuoso-temp.trx
[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
CaseMode = 2
DirsAllowed = ., {load_dir}
NumberOfBuffers = 100000
MaxDirtyBuffers = 60000
MaxClientConnections = {connections}
[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
MaxClientConnections = {connections}
ServerThreads = {connections}
MaxKeepAlives = {connections}
KeepAliveTimeout = 30
EnabledGzipContent = 0
[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = 60
"""


def start_virtuoso(virtuoso, ntriples, tmp, connections):
    """Start Virtuoso on a fresh database in `tmp` and bulk-load the N-Triples into PEER_GRAPH.

    Returns (server, what was loaded), or (None, why not) when the peer cannot be set up."""
    if not (Path(virtuoso).is_file() and os.access(virtuoso, os.X_OK)):
        return None, f"{virtuoso} is not an executable file"
    isql = Path(virtuoso).with_name("isql-vt")
    if not isql.exists():
        return None, f"isql-vt not found next to {virtuoso}"
    sql_port, http_port = free_port(), free_port()
    ini = tmp / "virtuoso.ini"
    ini.write_text(VIRTUOSO_INI.format(db=tmp, sql_port=sql_port, http_port=http_port,
                                       load_dir=ntriples.parent, connections=connections))
    log = tmp / "virtuoso.out"
    with open(log, "w") as out:
        proc = subprocess.Popen([virtuoso, "-c", ini, "+foreground"], cwd=tmp, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        wait_for_line(proc, log, r"Server online at", "virtuoso-t", 300)
    except StartError as exc:
        return None, str(exc)
    server = Server("virtuoso", proc, "127.0.0.1", http_port, log)
    start = time.monotonic()
    sql = (f"ld_dir('{ntriples.parent}', '{ntriples.name}', '{PEER_GRAPH}'); "
           "rdf_loader_run(); checkpoint; "
           "SELECT ll_state, ll_error FROM DB.DBA.load_list;")
    proc = subprocess.run([isql, f"127.0.0.1:{sql_port}", "dba", "dba", f"exec={sql}"],
                          capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 or "*** Error" in output or re.search(r"\n2\s+NULL", output) is None:
        server.stop()
        return None, f"the Virtuoso bulk load failed: {output.strip()[-800:]}"
    seconds = time.monotonic() - start
    status, body = server.request(virtuoso_sparql("size", "SELECT (COUNT(*) AS ?n) "
                                                          "WHERE { ?s ?p ?o }"))
    loaded = normalise(body)[0][0] if status == 200 else f"? (HTTP {status})"
    return server, f"loaded {loaded} triples into <{PEER_GRAPH}> in {seconds:.1f} s"


# --- requests --------------------------------------------------------------------------------

def read_kb(kb):
    """kb.txt as (head, relation, tail) triples."""
    triples = []
    for line in kb.read_text(encoding="utf-8").splitlines():
        parts = line.split("|")
        if len(parts) == 3:
            triples.append(tuple(parts))
    return triples


def sparql_queries(triples, rng, per_kind):
    """`per_kind` queries of each of the four kinds, with parameters drawn from the KB.

    Names are limited to plain characters so that they are safe inside SPARQL string literals."""
    def names(relation, side):
        return sorted({t[side] for t in triples
                       if t[1] == relation and SAFE_NAME.fullmatch(t[side])})

    actors, years = names("starred_actors", 2), names("release_year", 2)
    directed = sorted({(h, t) for h, r, t in triples if r == "directed_by"
                       and SAFE_NAME.fullmatch(h) and SAFE_NAME.fullmatch(t)})
    directors_of = {}
    for movie, director in directed:
        directors_of.setdefault(movie, set()).add(director)
    queries = []
    for i in range(per_kind):
        actor, year = rng.choice(actors), rng.choice(years)
        movie, director = rng.choice(directed)
        if i % 2:  # a false ASK: a director of some other movie, not of this one
            director = rng.choice([d for _, d in directed if d not in directors_of[movie]])
        queries += [
            ("1-hop", f'SELECT ?movie WHERE {{ ?a rdfs:label "{actor}" . '
                      '?m m:starred_actors ?a ; rdfs:label ?movie }'),
            ("2-hop", f'SELECT DISTINCT ?director WHERE {{ ?a rdfs:label "{actor}" . '
                      '?m m:starred_actors ?a ; m:directed_by ?d . ?d rdfs:label ?director }'),
            ("count", f'SELECT ?genre (COUNT(?m) AS ?movies) WHERE {{ ?y rdfs:label "{year}" . '
                      '?m m:release_year ?y ; m:has_genre ?g . ?g rdfs:label ?genre } '
                      'GROUP BY ?genre ORDER BY DESC(?movies) ?genre LIMIT 10'),
            ("ask", f'ASK {{ ?m rdfs:label "{movie}" ; m:directed_by ?d . '
                    f'?d rdfs:label "{director}" }}'),
        ]
    return [(kind, PREFIXES + text) for kind, text in queries]


def kgfuse_sparql(kind, query):
    """A query as kgfuse gets it: POST with a direct application/sparql-query body."""
    return Request(kind, "POST", "/sparql", query.encode(),
                   {"Content-Type": "application/sparql-query", "Accept": SPARQL_JSON})


def virtuoso_sparql(kind, query):
    """A query as Virtuoso gets it: POST, URL-encoded form, default graph = PEER_GRAPH."""
    body = urllib.parse.urlencode({"query": query, "default-graph-uri": PEER_GRAPH})
    return Request(kind, "POST", "/sparql", body.encode(),
                   {"Content-Type": "application/x-www-form-urlencoded", "Accept": SPARQL_JSON})


def ask_requests(files, skip, triples):
    """POST /api/ask requests for the questions after the first `skip` lines of each file.

    Only questions whose [topic] is a name in the KB are kept (this copy of the KB lacks a few
    of MetaQA's entities, and such a question is a 400 by design); the brackets are removed."""
    names = {t[0] for t in triples} | {t[2] for t in triples}
    requests = []
    for path in files:
        kind = "1-hop" if "1hop" in path.name else "2-hop"
        for line in path.read_text(encoding="utf-8").splitlines()[skip:]:
            question = line.split("\t")[0]
            topic = re.search(r"\[(.*?)\]", question)
            if topic is None or topic.group(1) not in names:
                continue
            question = question.replace("[", "").replace("]", "")
            body = json.dumps({"question": question}).encode()
            requests.append(Request(kind, "POST", "/api/ask", body,
                                    {"Content-Type": "application/json"}))
    if not requests:
        sys.exit(f"error: no questions left after the first {skip} lines of {files}")
    return requests


def normalise(body):
    """SPARQL JSON results reduced to what must agree: the boolean, or the rows' values."""
    result = json.loads(body)
    if "boolean" in result:
        return result["boolean"]
    names = result["head"]["vars"]
    return sorted(tuple(row.get(n, {}).get("value") for n in names)
                  for row in result["results"]["bindings"])


def compare_results(kgfuse, peer, queries):
    """Send every query to both servers; return (number agreeing, first disagreement)."""
    same, first = 0, ""
    for kind, query in queries:
        answers = []
        for server, make in ((kgfuse, kgfuse_sparql), (peer, virtuoso_sparql)):
            status, body = server.request(make(kind, query))
            answers.append(normalise(body) if status == 200 else f"HTTP {status}: {body[:200]}")
        if answers[0] == answers[1]:
            same += 1
        elif not first:
            first = f"{kind}: kgfuse {str(answers[0])[:200]} / virtuoso {str(answers[1])[:200]}"
    return same, first


# --- load generation -------------------------------------------------------------------------

def client_loop(server, requests, seed, window, out):
    """One client: a keep-alive connection sending random requests until the window closes.

    Answers that complete inside the window are recorded in `out` (latencies, errors)."""
    rng = random.Random(seed)
    measure_from, until = window
    conn = None
    while True:
        start = time.monotonic()
        if start >= until:
            break
        req = rng.choice(requests)
        try:
            if conn is None:
                conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
            conn.request(req.method, req.path, body=req.body, headers=req.headers)
            resp = conn.getresponse()
            body = resp.read()
            error = "" if 200 <= resp.status < 300 else f"HTTP {resp.status}: {body[:200]!r}"
            if resp.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
            if conn is not None:
                conn.close()
            conn = None
        end = time.monotonic()
        if start >= measure_from and end <= until:
            if error:
                out["errors"] += 1
                out["first_error"] = out["first_error"] or error
            else:
                out["latencies"].append((req.kind, end - start))
    if conn is not None:
        conn.close()


def run_load(server, mix, requests, clients, seconds, warmup):
    """Run `clients` client threads for warm-up + `seconds`; measure the last `seconds`."""
    measure_from = time.monotonic() + warmup
    window = (measure_from, measure_from + seconds)
    outs = [{"latencies": [], "errors": 0, "first_error": ""} for _ in range(clients)]
    threads = [threading.Thread(target=client_loop, args=(server, requests, i, window, outs[i]))
               for i in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, measure_from - time.monotonic()))
    result = RunResult(server.name, mix, clients, seconds)
    result.rss_start_mb = result.rss_peak_mb = server.rss_mb()
    cpu0, usage0 = server.cpu_seconds(), resource.getrusage(resource.RUSAGE_SELF)
    while time.monotonic() < window[1]:
        time.sleep(min(0.5, max(0.0, window[1] - time.monotonic())))
        result.rss_peak_mb = max(result.rss_peak_mb, server.rss_mb())
    result.rss_end_mb = server.rss_mb()
    result.server_cpu = (server.cpu_seconds() - cpu0) / seconds
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    result.client_cpu = (usage1.ru_utime + usage1.ru_stime
                         - usage0.ru_utime - usage0.ru_stime) / seconds
    for thread in threads:
        thread.join()
    for out in outs:
        result.latencies += out["latencies"]
        result.errors += out["errors"]
        result.first_error = result.first_error or out["first_error"]
    return result


def percentile_ms(values, q):
    """The q-quantile (0..1) of latencies in seconds, in milliseconds (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def writers_and_readers(server, readers, seconds):
    """Graph Store PUTs alternating 1,000 / 2,000 triples while readers COUNT the graph.

    Returns (counts seen by value, writes done, write latencies, read errors)."""
    def version(size, tag):
        return "".join(f'<http://example.org/bench/s{i}> <http://example.org/bench/p> '
                       f'"{tag}{i}" .\n' for i in range(size)).encode()

    path = "/store?graph=" + urllib.parse.quote(SWAP_GRAPH, safe="")
    puts = [Request("put", "PUT", path, version(size, tag),
                    {"Content-Type": "application/n-triples"})
            for size, tag in ((1000, "a"), (2000, "b"))]
    count = kgfuse_sparql("count", f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{SWAP_GRAPH}> "
                                   "{ ?s ?p ?o } }")
    status, body = server.request(puts[0])
    if not 200 <= status < 300:
        sys.exit(f"error: the first Graph Store PUT failed: HTTP {status}: {body[:300]!r}")
    until = time.monotonic() + seconds
    counts, errors, writes, write_latencies = {}, [], [0], []
    lock = threading.Lock()

    def reader():
        conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        while time.monotonic() < until:
            try:
                conn.request(count.method, count.path, body=count.body, headers=count.headers)
                resp = conn.getresponse()
                text = resp.read()
                value = (int(json.loads(text)["results"]["bindings"][0]["n"]["value"])
                         if resp.status == 200 else f"HTTP {resp.status}")
            except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
                value = f"{type(exc).__name__}: {exc}"
                conn.close()
                conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
            with lock:
                if isinstance(value, int):
                    counts[value] = counts.get(value, 0) + 1
                else:
                    errors.append(value)
        conn.close()

    def writer():
        conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
        while time.monotonic() < until:
            req = puts[(writes[0] + 1) % 2]
            start = time.monotonic()
            try:
                conn.request(req.method, req.path, body=req.body, headers=req.headers)
                resp = conn.getresponse()
                text = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"PUT: {type(exc).__name__}: {exc}")
                break
            if not 200 <= resp.status < 300:
                errors.append(f"PUT: HTTP {resp.status}: {text[:200]!r}")
                break
            write_latencies.append(time.monotonic() - start)
            writes[0] += 1
        conn.close()

    threads = [threading.Thread(target=reader) for _ in range(readers)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.request(Request("delete", "DELETE", path, b"", {}))
    return counts, writes[0], write_latencies, errors


# --- report ----------------------------------------------------------------------------------

def print_table(results):
    """The results table, one row per run."""
    header = ("server", "mix", "clients", "req/s", "p50 ms", "p99 ms", "errors",
              "RSS start→end (peak) MB", "server CPU", "client CPU")
    rows = [(r.server, r.mix, str(r.clients), f"{r.rate:.0f}",
             f"{percentile_ms([s for _, s in r.latencies], 0.5):.2f}",
             f"{percentile_ms([s for _, s in r.latencies], 0.99):.2f}", str(r.errors),
             f"{r.rss_start_mb:.0f} → {r.rss_end_mb:.0f} ({r.rss_peak_mb:.0f})",
             f"{100 * r.server_cpu:.0f}%", f"{100 * r.client_cpu:.0f}%") for r in results]
    widths = [max(len(row[i]) for row in rows + [header]) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths)) + " |"

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def print_breakdown(results):
    """p50 latency per query kind for each run, to show which query dominates a mix."""
    for r in results:
        kinds = sorted({kind for kind, _ in r.latencies})
        parts = [f"{kind} {percentile_ms([s for k, s in r.latencies if k == kind], 0.5):.2f}"
                 for kind in kinds]
        print(f"  {r.server} {r.mix} x{r.clients}: p50 ms by kind: {', '.join(parts)}")
        if r.first_error:
            print(f"    first error: {r.first_error}")


def default_data():
    """$KGFUSE_SHARED_DATA, else ../shared/data beside the repository root."""
    return Path(os.environ.get("KGFUSE_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data")


def parse_args():
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kgfuse", type=Path,
                        help="kgfuse binary (default: $KGFUSE_BIN or target/release/kgfuse)")
    parser.add_argument("--data", type=Path, default=default_data(),
                        help="shared data folder holding metaqa/ (default: %(default)s)")
    parser.add_argument("--work", type=Path, default=REPO_ROOT / "target" / "serve-load",
                        help="cache and scratch folder (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=30, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds per run")
    parser.add_argument("--clients", default="1,8,32", help="client counts, comma-separated")
    parser.add_argument("--readers", type=int, default=4,
                        help="reader threads in the writers+readers check")
    parser.add_argument("--qa-limit", type=int, default=3000,
                        help="questions per file the QA model is trained on")
    parser.add_argument("--qa-epochs", type=int, default=2)
    parser.add_argument("--bert", type=Path, help="BERT checkpoint folder (default: "
                        "$KGFUSE_BERT_DIR, else DATA/models/all-MiniLM-L6-v2 when it exists)")
    parser.add_argument("--virtuoso", default=shutil.which("virtuoso-t"),
                        help="virtuoso-t binary of the peer (default: from PATH)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    try:
        args.clients = [int(c) for c in args.clients.split(",")]
    except ValueError:
        parser.error(f"--clients: expected comma-separated integers, got {args.clients!r}")
    if not args.clients or min(args.clients) < 1 or args.seconds <= 0:
        parser.error("--clients must be positive integers and --seconds positive")
    args.kgfuse = args.kgfuse or kgfuse_binary()
    if not (args.kgfuse.is_file() and os.access(args.kgfuse, os.X_OK)):
        parser.error(f"--kgfuse: {args.kgfuse} is not an executable file")
    args.metaqa = args.data / "metaqa"
    args.questions = [args.metaqa / "qa_1hop.txt", args.metaqa / "qa_2hop.txt"]
    for path in [args.metaqa / "kb.txt", *args.questions]:
        if not path.is_file():
            parser.error(f"--data: {path} not found (MetaQA is expected under DATA/metaqa)")
    if args.bert is None and not os.environ.get("KGFUSE_BERT_DIR"):
        candidate = args.data / "models" / "all-MiniLM-L6-v2"
        args.bert = candidate if candidate.is_dir() else None
    return args


def main():
    """Set up, run the load mixes on kgfuse and the peer, check writes, print the report."""
    args = parse_args()
    started = time.monotonic()
    phases = []

    def phase(name, since):
        phases.append(f"{name} {time.monotonic() - since:.0f} s")

    args.work.mkdir(parents=True, exist_ok=True)
    store, model = args.work / "store", args.work / f"qa-l{args.qa_limit}-e{args.qa_epochs}"
    ntriples = args.work / "kb.nt"
    t = time.monotonic()
    store_note = build_store(args.kgfuse, store, args.metaqa / "kb.txt")
    model_note = train_qa(args.kgfuse, store, model, args.questions, args.qa_limit,
                          args.qa_epochs, args.bert)
    export_ntriples(args.kgfuse, store, ntriples)
    phase("setup", t)

    rng = random.Random(args.seed)
    triples = read_kb(args.metaqa / "kb.txt")
    queries = sparql_queries(triples, rng, 50)
    asks = ask_requests(args.questions, args.qa_limit, triples)
    print(f"kgfuse serve load: {args.seconds:g} s per run after {args.warmup:g} s warm-up, "
          f"clients {','.join(map(str, args.clients))}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start")
    print(f"store {store_note}, QA model {model_note} ({model.name}); SPARQL mix of "
          f"{len(queries)} queries, {len(asks)} held-out questions for /api/ask")

    servers, results, violation, scratch = [], [], False, []
    try:
        t = time.monotonic()
        try:
            kgfuse = start_kgfuse(args.kgfuse, store, model, args.bert, args.work)
        except StartError as exc:
            sys.exit(f"error: {exc}")
        servers.append(kgfuse)
        print(f"kgfuse serve up on {kgfuse.host}:{kgfuse.port} in "
              f"{time.monotonic() - t:.1f} s, RSS {kgfuse.rss_mb():.0f} MB")
        peer, peer_note = None, "virtuoso-t not found on PATH (apt-get install virtuoso-opensource)"
        if args.virtuoso:
            tmp = Path(tempfile.mkdtemp(prefix="virtuoso-", dir=args.work))
            scratch.append(tmp)
            peer, peer_note = start_virtuoso(args.virtuoso, ntriples, tmp, max(args.clients) + 8)
        phase("server start and peer load", t)
        if peer is None:
            print(f"peer: not available: {peer_note}")
        else:
            servers.append(peer)
            same, first = compare_results(kgfuse, peer, queries)
            print(f"peer: Virtuoso {peer_note}, RSS {peer.rss_mb():.0f} MB; "
                  f"{same}/{len(queries)} SPARQL results identical on both servers"
                  + (f"; first difference: {first}" if first else ""))

        t = time.monotonic()
        kgfuse_mix = [kgfuse_sparql(kind, q) for kind, q in queries]
        peer_mix = [virtuoso_sparql(kind, q) for kind, q in queries]
        for clients in args.clients:
            results.append(run_load(kgfuse, "sparql", kgfuse_mix, clients, args.seconds,
                                    args.warmup))
            if peer is not None:
                results.append(run_load(peer, "sparql", peer_mix, clients, args.seconds,
                                        args.warmup))
        phase("sparql runs", t)
        t = time.monotonic()
        for clients in args.clients:
            results.append(run_load(kgfuse, "ask", asks, clients, args.seconds, args.warmup))
        phase("ask runs", t)

        print()
        print_table(results)
        print_breakdown(results)
        if peer is not None:
            print()
            rate = {(r.server, r.clients): r.rate for r in results if r.mix == "sparql"}
            for clients in args.clients:
                k, v = rate[("kgfuse", clients)], rate[("virtuoso", clients)]
                print(f"ratio sparql x{clients}: kgfuse {k:.0f} req/s / Virtuoso {v:.0f} req/s "
                      f"= {k / v:.2f}" if v else f"ratio sparql x{clients}: Virtuoso answered none")
        else:
            print(f"\nratios: peer not available ({peer_note})")

        t = time.monotonic()
        counts, writes, write_latencies, errors = writers_and_readers(kgfuse, args.readers,
                                                                      args.seconds)
        phase("writers+readers", t)
        bad = {n: c for n, c in counts.items() if n not in (1000, 2000)}
        violation = bool(bad or errors)
        print(f"\nwriters+readers ({args.readers} readers, 1 writer, {args.seconds:g} s): "
              f"{writes} PUTs (p50 {percentile_ms(write_latencies, 0.5):.1f} ms, "
              f"p99 {percentile_ms(write_latencies, 0.99):.1f} ms); reads saw 1000: "
              f"{counts.get(1000, 0)}, 2000: {counts.get(2000, 0)}; "
              f"violations: {sum(bad.values())}{f' {bad}' if bad else ''}; errors: {len(errors)}"
              + (f" (first: {errors[0]})" if errors else ""))
    finally:
        print()
        for server in reversed(servers):
            print(server.stop())
        for folder in scratch:
            shutil.rmtree(folder, ignore_errors=True)
    phase("total", started)
    print("time: " + ", ".join(phases))
    if violation:
        sys.exit("error: a reader saw a count other than 1000 or 2000, or a request failed")


if __name__ == "__main__":
    main()
