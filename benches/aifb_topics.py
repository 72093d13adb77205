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

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

from bench_common import REPO_ROOT, kgfuse_binary

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

# `name  accuracy  macro-F1  ROC-AUC  reads` rows of `--baselines`.
ROW = re.compile(r"^(\S.*?)\s+(\d\.\d{4})\s+(\d\.\d{4})\s+(\d\.\d{4}|-)\s\s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--work")
    parser.add_argument("--data", default=str(REPO_ROOT.parent / "shared" / "data" / "aifb"))
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    kgfuse = str(kgfuse_binary())
    work = args.work or tempfile.mkdtemp(prefix="kgfuse-aifb-topics-")
    store = os.path.join(work, "store")

    def run(*argv):
        return subprocess.run([kgfuse, "--store", store, *argv], check=True,
                              capture_output=True, text=True)

    if not os.path.isdir(store):
        run("load", os.path.join(args.data, "aifb+.nt.gz"))
        run("update", LABEL_UPDATE)
    results = {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        out = run("train", "classify", "--class", f"{BENCH}TopicalPublication",
                  "--label", f"{BENCH}semanticWeb", "--baselines", "--seed", str(seed),
                  "--out", os.path.join(work, f"model-{seed}"), *args.extra).stdout
        table = out[out.rindex("\ntest "):]
        for line in table.splitlines()[1:]:
            match = ROW.match(line)
            if match:
                name, accuracy, _, auc = match.groups()
                results.setdefault(name, []).append((float(accuracy), auc))
        print(f"seed {seed}:{table}", flush=True)

    def spread(values):
        if len(values) < 2:
            return f"{values[0]:.4f}"
        return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"

    print(f"\nmean ± std over {len(args.seeds.split(','))} seeds (test share of each seed's split)")
    print(f"{'model':<22} {'accuracy':>17} {'ROC-AUC':>17}")
    for name, rows in results.items():
        aucs = [float(a) for _, a in rows if a != "-"]
        print(f"{name:<22} {spread([a for a, _ in rows]):>17} {spread(aucs) if aucs else '-':>17}")


if __name__ == "__main__":
    sys.exit(main())
