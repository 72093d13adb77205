#!/usr/bin/env python3
"""A text-attributed task on a real ontology: which FIBO domain (BE, FBC, SEC, DER, LOAN, …;
ten in all) does a class belong to? Every named FIBO class with a `skos:definition` is labelled
with the domain its IRI names; the `rdfs:isDefinedBy` triples, which would name its ontology,
are removed. The text view reads each class's definition and its neighbours' (superclasses,
restrictions' classes); the graph view the class hierarchy and the properties its restrictions
use. Like a citation graph, a class's own text and its neighbours' both carry the label.

Trains and prints as `benches/aifb_topics.py` does (`train classify --baselines` once per
seed; test accuracy of the fused model and the four baselines, mean ± std over the seeds).

Usage (from the repository root, after `cargo build --release`):
  benches/fibo_domains.py [--seeds 1,2,3,4,5] [--work DIR] [--data ../shared/data/fibo]
      [-- extra flags for `kgfuse train classify`]
"""

import sys

from bench_common import labelled_task_main

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


if __name__ == "__main__":
    sys.exit(labelled_task_main("fibo-domains", "fibo", "", LABEL_UPDATE,
                                f"{BENCH}FiboClass", f"{BENCH}domain"))
