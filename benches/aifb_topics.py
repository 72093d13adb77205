#!/usr/bin/env python3
"""A text-attributed task on real data: is an AIFB+ publication about the
semantic web? Each publication that has a topic (`swrc:isAbout`) is labelled
by whether "semantic web" is among its topics; those `isAbout` triples are
removed, the publication's other topics stay. The text view reads titles and
abstracts, the graph view authors, projects and the other topics.

Trains `train classify --baselines` once per seed (each seed its own
stratified 60/20/20 split, shared by every model of that seed) and prints
test accuracy and ROC-AUC, mean ± std over the seeds, for the fused model,
logistic regression, gradient boosting, text only and graph only. Nothing is
tuned: every model runs with its defaults.

Usage (from the repository root, after `cargo build --release`):
  benches/aifb_topics.py [--seeds 1,2,3,4,5] [--work DIR] [--data ../shared/data/aifb]
      [-- extra flags for `kgfuse train classify`]
"""

import sys

from bench_common import labelled_task_main

SWRC = "http://swrc.ontoware.org/ontology#"
BENCH = "https://w3id.org/kgfuse/bench/aifb-topics#"
SEMANTIC_WEB = "http://www.aifb.uni-karlsruhe.de/Forschungsgebiete/viewForschungsgebietOWL/id79instance"

LABEL_UPDATE = f"""
PREFIX swrc: <{SWRC}>
PREFIX bench: <{BENCH}>
INSERT {{ ?p a bench:TopicalPublication ; bench:semanticWeb ?answer }}
WHERE {{
  {{ SELECT DISTINCT ?p WHERE {{ ?p swrc:isAbout ?any }} }}
  BIND(IF(EXISTS {{ ?p swrc:isAbout <{SEMANTIC_WEB}> }}, "yes", "no") AS ?answer)
}};
DELETE WHERE {{ ?p swrc:isAbout <{SEMANTIC_WEB}> }}
"""


if __name__ == "__main__":
    sys.exit(labelled_task_main("aifb-topics", "aifb", "aifb+.nt.gz", LABEL_UPDATE,
                                f"{BENCH}TopicalPublication", f"{BENCH}semanticWeb"))
