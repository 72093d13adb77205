#!/usr/bin/env python3
"""A text-attributed task on a real ontology: which FIBO domain (BE, FBC, SEC, DER, LOAN, …;
ten in all) does a class belong to? Every named FIBO class with a `skos:definition` is labelled
with the domain its IRI names; the `rdfs:isDefinedBy` triples, which would name its ontology,
are removed. The text view reads each class's definition and its neighbours' (superclasses,
restrictions' classes); the graph view the class hierarchy and the properties its restrictions
use. Like a citation graph, a class's own text and its neighbours' both carry the label.

Trains `train classify --baselines` once per seed (each seed its own stratified 60/20/20 split,
shared by every model of that seed) and prints test accuracy, mean ± std over the seeds, for
the fused model, logistic regression, gradient boosting, text only and graph only. Nothing is
tuned: every model runs with its defaults.

Usage (from the repository root, after `cargo build --release`):
  benches/fibo_domains.py [--seeds 1,2,3,4,5] [--work DIR] [--data ../shared/data/fibo]
      [-- extra flags for `kgfuse train classify`]
"""

import argparse
import os
import subprocess
import sys
import tempfile

from bench_common import REPO_ROOT, baselines_over_seeds, kgfuse_binary

BENCH = "https://w3id.org/kgfuse/bench/fibo-domains#"
FIBO = "https://spec.edmcouncil.org/fibo/ontology/"

LABEL_UPDATE = f"""
PREFIX bench: <{BENCH}>
INSERT {{ GRAPH <{BENCH}labels> {{ ?c a bench:FiboClass ; bench:domain ?domain }} }}
WHERE {{
  ?c a owl:Class ; skos:definition ?definition .
  FILTER(isIRI(?c) && STRSTARTS(STR(?c), "{FIBO}"))
  BIND(STRBEFORE(STRAFTER(STR(?c), "{FIBO}"), "/") AS ?domain)
}};
DELETE WHERE {{ ?c rdfs:isDefinedBy ?ontology }}
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--work")
    parser.add_argument("--data", default=str(REPO_ROOT.parent / "shared" / "data" / "fibo"))
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    kgfuse = str(kgfuse_binary())
    work = args.work or tempfile.mkdtemp(prefix="kgfuse-fibo-domains-")
    store = os.path.join(work, "store")

    def run(*argv):
        return subprocess.run([kgfuse, "--store", store, *argv], check=True,
                              capture_output=True, text=True)

    if not os.path.isdir(store):
        run("load", args.data)
        run("update", LABEL_UPDATE)
    seeds = [int(s) for s in args.seeds.split(",")]
    baselines_over_seeds(kgfuse, store, f"{BENCH}FiboClass", f"{BENCH}domain", seeds, work,
                         args.extra)


if __name__ == "__main__":
    sys.exit(main())
