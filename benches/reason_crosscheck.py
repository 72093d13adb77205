#!/usr/bin/env python3
"""Cross-check kgfuse's OWL 2 RL closure against the Python `owlrl` package.

For each input the script computes the triples that each reasoner infers (closure minus input)
and compares the two sets:

* owlrl: ``owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, rdfs_closure=False,
  axiomatic_triples=False, datatype_axioms=False).expand(graph)``.  OWLRL_Semantics is the plain
  OWL 2 RL rule set (not ``OWLRL_Extension``, which adds non-RL extras such as rational datatypes
  and facets; not ``RDFS_OWLRL_Semantics``, which adds the RDFS rules and axioms on top).
  ``axiomatic_triples=False`` leaves out owlrl's OWL/RDF(S) axiomatic triples and
  ``datatype_axioms=False`` its datatype axiomatic triples, since kgfuse derives neither.  owlrl
  still runs, unconditionally, its "one-time rules" cls-thing, cls-nothing1, prp-ap and (partly)
  dt-type1/dt-type2, and it applies eq-ref to every term; those show up as "only owlrl" groups.
  Inconsistencies that owlrl finds are added by it as error-message triples; they are taken out
  of the closure and printed separately.
* kgfuse: a fresh temporary store, ``kgfuse --store DIR load FILE...`` and
  ``kgfuse --store DIR reason --dry-run --output OUT.nt``; OUT.nt holds the inferred triples, each
  followed by ``# rule-name``.

Normalisation.  Both inferred sets are parsed into rdflib terms (so literals are compared as
rdflib terms: rdflib's literal normalisation applies to both sides), ``"x"^^xsd:string`` is
written as the simple literal ``"x"`` and language tags are lower-cased.  Triples that are part
of the (normalised) input are removed from both sets.  Blank nodes, chosen with ``--bnodes``:

* ``skolem`` (default): the input is parsed once with rdflib, every blank node is replaced by
  the IRI ``urn:x-crosscheck:bnode:<n>`` and the result is written as N-Triples; BOTH reasoners
  read that one file, so triples about restrictions and lists are compared exactly.
* ``drop``: both reasoners read the original files; every inferred triple with a blank node is
  dropped from both sets (the counts are printed).

Inputs (``--case``):

* ``finance``: ontologies/risk.ttl + data/finance.ttl (the shipped sample, about 20k triples).
* ``brick``: the Brick ontology (https://brickschema.org) as shipped inside the PyPI package
  ``brickschema`` (``brickschema/ontologies/1.5/Brick.ttl``, about 62k triples; owlrl needs
  about 35 s on it).  The package is only used as a container of that file and is never imported
  (``--input`` takes another copy).
* ``fibo``: FIBO from ``../shared/data/fibo`` (``$KGFUSE_SHARED_DATA/fibo``), 271 RDF/XML files,
  68,796 triples; owlrl needs about 150 s on it.
* ``fibo-finance``: FIBO, ontologies/risk.ttl (which declares its terms specialisations of FIBO's)
  and data/finance.ttl read together, as a user loads them.
* ``--input PATH``: any RDF file, or a folder whose RDF files (by extension, recursively) are
  read together.

The report lists the sizes, |both|, the triples only kgfuse infers (grouped by kgfuse's rule name)
and the triples only owlrl infers (grouped by a heuristic category: literal subject, eq-ref,
datatype, else the predicate and, for rdf:type, the object's namespace), 3 examples per group.
Differences are a finding, not an error: the exit status is 0 unless something fails.

Setup (tested with these versions)::

    python3 -m venv /tmp/kgfuse-bench-venv
    /tmp/kgfuse-bench-venv/bin/pip install owlrl==7.6.2 rdflib==7.6.0
    /tmp/kgfuse-bench-venv/bin/pip install --no-deps brickschema==0.8.0   # only for --case brick
    cargo build --release                                                 # the kgfuse binary

Usage::

    /tmp/kgfuse-bench-venv/bin/python benches/reason_crosscheck.py              # every case
    /tmp/kgfuse-bench-venv/bin/python benches/reason_crosscheck.py --case finance
    /tmp/kgfuse-bench-venv/bin/python benches/reason_crosscheck.py --input ../shared/data/fibo
    /tmp/kgfuse-bench-venv/bin/python benches/reason_crosscheck.py --bnodes drop --examples 5

The binary is ``$KGFUSE_BIN`` if set, else ``$CARGO_TARGET_DIR/release/kgfuse``, else
``target/release/kgfuse`` under the repository root.
"""

import argparse
import importlib.util
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench_common import REPO_ROOT, kgfuse_binary
PIP_HINT = "pip install owlrl==7.6.2 rdflib==7.6.0 (and brickschema==0.8.0 --no-deps for --case brick)"
SKOLEM_PREFIX = "urn:x-crosscheck:bnode:"
SUMMARY_RE = re.compile(
    r"asserted (\d+), inferred (\d+), (\d+) rounds, ([0-9.]+) s; (\d+) inconsistenc")
RULE_COMMENT_RE = re.compile(r"\.\s*#\s*(\S+)\s*$")

try:
    import owlrl
    import rdflib
    from rdflib import BNode, Literal, URIRef
    from rdflib.namespace import OWL, RDF, RDFS, XSD
    from rdflib.plugins.parsers.ntriples import W3CNTriplesParser
except ImportError as missing:
    sys.exit(f"error: missing Python package ({missing.name}); install it with: {PIP_HINT}")

OWLRL_ERROR_NS = "http://www.daml.org/2002/03/agents/agent-ont#"


# ---------------------------------------------------------------- locating things

def brick_ontology():
    """Brick.ttl inside the installed `brickschema` package (found without importing it)."""
    spec = importlib.util.find_spec("brickschema")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("error: the `brickschema` package is not installed; install it with "
                 "`pip install --no-deps brickschema==0.8.0` or pass --input Brick.ttl")
    path = Path(list(spec.submodule_search_locations)[0]) / "ontologies" / "1.5" / "Brick.ttl"
    if not path.is_file():
        sys.exit(f"error: {path} not found in the brickschema package; pass --input Brick.ttl")
    return path


RDF_SUFFIXES = {".ttl", ".nt", ".nq", ".trig", ".n3", ".rdf", ".owl", ".xml", ".jsonld"}


def rdf_files(path):
    """The file itself, or every RDF file under the folder (by extension), sorted."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        sys.exit(f"error: {path}: no such file or folder")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in RDF_SUFFIXES)
    if not files:
        sys.exit(f"error: {path}: no RDF files ({', '.join(sorted(RDF_SUFFIXES))}) under it")
    return files


# Why each group differs, where it has been worked out: (case, side, group name or its
# start, verdict). Printed under the group it explains.
VERDICTS = [
    ("fibo", "kgfuse", "cax-sco",
     "follows from scm-svf2 below: members of one restriction typed into its same-property twins"),
    ("fibo", "kgfuse", "scm-sco",
     "follows from scm-svf2 below: subclasses of one restriction under its same-property twins"),
    ("fibo", "kgfuse", "scm-svf2",
     "owlrl incomplete: restrictions on cmns-dsg:hasTag (undeclared; OMG Commons is not in the input) "
     "need hasTag rdfs:subPropertyOf hasTag, which scm-eqp1 + scm-spo give; owlrl's scm-spo skips p1 = p3 "
     "and its scm-op fires only for declared properties"),
    ("fibo", "kgfuse", "scm-rng1",
     "follows from scm-svf2: ranges widened to the same-property twins of a restriction"),
    ("fibo", "kgfuse", "scm-eqc2",
     "owlrl incomplete: x equivalentClass x only for terms typed owl:Class (its scm-cls), and scm-sco "
     "skips c1 = c3; these are undeclared Commons classes and rdfs:Datatypes"),
    ("fibo", "kgfuse", "scm-eqp2", "owlrl incomplete: reflexive only for declared properties (same cause)"),
    ("fibo", "kgfuse", "scm-spo", "owlrl incomplete: scm-spo with p1 = p3 skipped (same cause)"),
    ("fibo", "kgfuse", "prp-spo1",
     "same value, other lexical form: kgfuse's store keeps xsd:decimal canonical (\"0.00\" -> \"0\")"),
    ("fibo", "owlrl", "cmns-qtu:hasNumericValue",
     "the other side of kgfuse's prp-spo1 group: \"0.00\" as the input writes it"),
    ("fibo", "kgfuse", "cls-svf1",
     "owlrl incomplete: its dt-type2 skips simple literals (rdflib's datatype None; RDF 1.1 makes them "
     "xsd:string), so u p \"213800D1EI4B9WTWWD28\" never meets p some xsd:string"),
]


def cases(args):
    """(name, key, [files]) for each requested input."""
    chosen = []
    wanted = args.case or ([] if args.input else ["all"])
    if {"finance", "all"} & set(wanted):
        chosen.append(("finance sample (risk.ttl + data/finance.ttl)", "finance",
                       [REPO_ROOT / "ontologies" / "risk.ttl", REPO_ROOT / "data" / "finance.ttl"]))
    if {"brick", "all"} & set(wanted):
        path = brick_ontology()
        chosen.append((f"Brick ontology ({path.name}, brickschema package)", "brick", [path]))
    folder = Path(os.environ.get("KGFUSE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data")) / "fibo"
    if {"fibo", "all"} & set(wanted):
        files = rdf_files(folder)
        chosen.append((f"FIBO ({len(files)} files under {folder})", "fibo", files))
    if {"fibo-finance", "all"} & set(wanted):
        # The user's case: FIBO with data in the risk vocabulary, which risk.ttl aligns to FIBO;
        # FIBO's own groups (and verdicts) recur here.
        files = rdf_files(folder) + [REPO_ROOT / "ontologies" / "risk.ttl",
                                     REPO_ROOT / "data" / "finance.ttl"]
        chosen.append(("FIBO + risk.ttl + data/finance.ttl", "fibo", files))
    for path in args.input:
        files = rdf_files(path)
        chosen.append((f"{path} ({len(files)} files)", "input", files))
    return chosen


# ---------------------------------------------------------------- terms

def normalise_term(term):
    """Compare literals as rdflib terms; xsd:string -> simple literal, language tag lower case."""
    if isinstance(term, Literal):
        if term.datatype == XSD.string:
            return Literal(str(term))
        if term.language:
            return Literal(str(term), lang=term.language.lower())
    return term


def normalise(triple):
    return tuple(normalise_term(t) for t in triple)


def has_bnode(triple):
    return any(isinstance(t, BNode) for t in triple)


def skolemise(graph):
    """A copy of graph with every blank node replaced by a urn:x-crosscheck:bnode: IRI."""
    names = {}

    def iri(term):
        if isinstance(term, BNode):
            return names.setdefault(term, URIRef(f"{SKOLEM_PREFIX}{len(names)}"))
        return term

    out = rdflib.Graph()
    for prefix, ns in graph.namespaces():
        out.bind(prefix, ns)
    for triple in graph:
        out.add(tuple(iri(t) for t in triple))
    return out


def parse_files(files):
    graph = rdflib.Graph()
    for path in files:
        graph.parse(str(path))
    return graph


# ---------------------------------------------------------------- reasoners

def run_owlrl(graph):
    """owlrl's inferred triples (normalised), its error messages and the time expand() took."""
    asserted = {normalise(t) for t in graph}
    closure = rdflib.Graph()
    for triple in graph:
        closure.add(triple)
    started = time.perf_counter()
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, rdfs_closure=False,
                           axiomatic_triples=False, datatype_axioms=False).expand(closure)
    seconds = time.perf_counter() - started
    errors = [str(o) for o in closure.objects(None, URIRef(OWLRL_ERROR_NS + "error"))]
    for message in list(closure.subjects(RDF.type, URIRef(OWLRL_ERROR_NS + "ErrorMessage"))):
        closure.remove((message, None, None))
    inferred = {normalise(t) for t in closure} - asserted
    return inferred, errors, seconds


class _ListSink:
    """Collects the triples of an N-Triples parse in file order."""

    def __init__(self):
        self.triples = []

    def triple(self, s, p, o):
        self.triples.append((s, p, o))


def read_kgfuse_output(path):
    """{normalised triple: rule} from kgfuse's `--output` file (`<s> <p> <o> . # rule`)."""
    text = path.read_text(encoding="utf-8")
    rules = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            match = RULE_COMMENT_RE.search(line)
            rules.append(match.group(1) if match else "?")
    sink = _ListSink()
    W3CNTriplesParser(sink=sink).parsestring(text)
    if len(sink.triples) != len(rules):
        raise RuntimeError(f"{path}: {len(sink.triples)} triples but {len(rules)} lines")
    return {normalise(t): rule for t, rule in zip(sink.triples, rules)}


def run_kgfuse(binary, files, workdir):
    """kgfuse's inferred triples {triple: rule}, its summary line and the end-to-end seconds."""
    store, output = workdir / "store", workdir / "inferred.nt"
    subprocess.run([binary, "--store", store, "load", *files], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started = time.perf_counter()
    done = subprocess.run([binary, "--store", store, "reason", "--dry-run", "--output", output],
                          check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    summary = next((l for l in done.stdout.splitlines() if SUMMARY_RE.search(l)), "")
    return read_kgfuse_output(output), summary.strip(), seconds


# ---------------------------------------------------------------- report

def namespace(iri):
    iri = str(iri)
    cut = max(iri.rfind("#"), iri.rfind("/"))
    return iri[:cut + 1] if cut >= 0 else iri


def owlrl_category(triple, show):
    """Heuristic name for a triple only owlrl infers."""
    s, p, o = triple
    if isinstance(s, Literal):
        if p == OWL.sameAs and s == o:
            return "eq-ref on a literal (literal subject, generalised RDF)"
        if p == RDF.type and str(o).startswith(str(XSD)):
            return "dt-type2 on a literal (literal subject, generalised RDF)"
        return f"literal subject (generalised RDF), {show(p)}"
    if p == OWL.sameAs and s == o:
        return "eq-ref (x owl:sameAs x)"
    if str(s).startswith(str(XSD)) and str(o).startswith(str(XSD)):
        return f"datatype axiom, {show(p)} between xsd datatypes"
    if p == RDF.type and (o == RDFS.Datatype or str(o).startswith(str(XSD))):
        return f"datatype typing (dt-type1/2), rdf:type {show(o)}"
    if p == RDF.type:
        return f"rdf:type <{show(URIRef(namespace(o)))}*>"
    return show(p)


def print_groups(title, groups, show, examples, verdicts):
    """verdicts: [(group name or its start, verdict)] for this case and side."""
    total = sum(len(v) for v in groups.values())
    print(f"\n{title}: {total}")
    for name, triples in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"  {len(triples):>7}  {name}")
        for group, verdict in verdicts:
            if name == group or (group.endswith(":") and name.startswith(group)):
                print(f"           verdict: {verdict}")
        for triple in sorted(triples)[:examples]:
            print("             " + " ".join(show(t) for t in triple))


def make_show(graph):
    manager = graph.namespace_manager
    for prefix, ns in (("owl", OWL), ("rdf", RDF), ("rdfs", RDFS), ("xsd", XSD)):
        manager.bind(prefix, ns, override=False)

    def show(term):
        try:
            return term.n3(manager)
        except Exception:  # rdflib refuses some IRIs as prefixed names
            return term.n3()
    return show


def without_bnodes(triples):
    """triples (a set, or a dict keyed by triple) less those that contain a blank node."""
    if isinstance(triples, dict):
        return {t: rule for t, rule in triples.items() if not has_bnode(t)}
    return {t for t in triples if not has_bnode(t)}


def check_case(name, key, files, args, binary):
    print("=" * 100)
    print(f"input: {name}")
    for path in files:
        print(f"  {path}")
    started = time.perf_counter()
    graph = parse_files(files)
    print(f"  rdflib parse: {len(graph)} triples in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory(prefix="kgfuse-crosscheck-") as tmp:
        workdir = Path(tmp)
        if args.bnodes == "skolem":
            graph = skolemise(graph)
            files = [workdir / "input.nt"]
            graph.serialize(destination=str(files[0]), format="nt", encoding="utf-8")
            print(f"  blank nodes skolemised; both reasoners read {len(graph)} triples as N-Triples")
        asserted = {normalise(t) for t in graph}
        ours, summary, ours_s = run_kgfuse(binary, files, workdir)
    print(f"kgfuse: {summary}  (reason command {ours_s:.2f} s end to end)")
    theirs, errors, theirs_s = run_owlrl(graph)
    print(f"owlrl:  inferred {len(theirs)} in {theirs_s:.1f} s; {len(errors)} error messages")
    for message in errors[:args.examples]:
        print(f"        {message}")

    ours_asserted = [t for t in ours if t in asserted]
    for t in ours_asserted:
        del ours[t]
    if ours_asserted:
        print(f"note: {len(ours_asserted)} kgfuse 'inferred' triples are in the normalised input")
    if args.bnodes == "drop":
        kept_ours, kept_theirs = without_bnodes(ours), without_bnodes(theirs)
        print(f"blank nodes: dropped {len(ours) - len(kept_ours)} kgfuse and "
              f"{len(theirs) - len(kept_theirs)} owlrl inferred triples that contain one")
        ours, theirs = kept_ours, kept_theirs
    report(ours, theirs, make_show(graph), args.examples, key)


def report(ours, theirs, show, examples, key):
    both = ours.keys() & theirs
    only_ours = defaultdict(list)
    for triple, rule in ours.items():
        if triple not in theirs:
            only_ours[rule].append(triple)
    only_theirs = defaultdict(list)
    for triple in theirs - ours.keys():
        only_theirs[owlrl_category(triple, show)].append(triple)
    print(f"\ninferred by kgfuse: {len(ours)}   inferred by owlrl: {len(theirs)}   "
          f"in both: {len(both)}")
    verdicts = lambda side: [(g, v) for case, s, g, v in VERDICTS if case == key and s == side]
    print_groups("only kgfuse (by kgfuse rule)", only_ours, show, examples, verdicts("kgfuse"))
    print_groups("only owlrl (by category)", only_theirs, show, examples, verdicts("owlrl"))


def main():
    # rdflib logs a traceback for every ill-formed typed literal (FIBO has dateTimes such as
    # "2025-6-24T18:00:00"); the literals are kept as they are either way.
    logging.getLogger("rdflib.term").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=["finance", "brick", "fibo", "fibo-finance", "all"],
                        action="append",
                        help="a built-in input (repeatable; default: all, unless --input is given)")
    parser.add_argument("--input", action="append", default=[], metavar="PATH",
                        help="an RDF file or a folder of them, read together (repeatable)")
    parser.add_argument("--bnodes", choices=["skolem", "drop"], default="skolem",
                        help="skolemise blank nodes in the input (default) or drop inferred "
                             "triples with blank nodes")
    parser.add_argument("--examples", type=int, default=3, help="examples per group")
    args = parser.parse_args()
    binary = kgfuse_binary()
    print(f"kgfuse: {binary}; owlrl {owlrl.__version__}; rdflib {rdflib.__version__}")
    for name, key, files in cases(args):
        check_case(name, key, files, args, binary)


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as failed:
        detail = failed.stderr.decode() if isinstance(failed.stderr, bytes) else failed.stderr
        sys.exit(f"error: {' '.join(map(str, failed.cmd))} exited with {failed.returncode}\n"
                 f"{detail or ''}")
