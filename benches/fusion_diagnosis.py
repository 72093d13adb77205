#!/usr/bin/env python3
"""Where does fusion win or lose? Trains the fused classifier on a generated
finance world, scores every company, and compares each view head's score
with the generator's hidden factors (`truth.tsv`): the text view should find
adverse press (A), the attributes and graph views the structural exposure
(S), and the fused score their AND (the label). Scores are taken on a second
world of another seed (1,000 companies), which the model never saw; prints
their ROC-AUC against each factor.

Usage (from the repository root, after `cargo build --release`):
  benches/fusion_diagnosis.py [--companies 2000] [--seed 7] [--work DIR]
      [-- extra flags for `kgfuse train classify`]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def kgfuse_binary():
    if os.environ.get("KGFUSE_BIN"):
        return os.environ["KGFUSE_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", "kgfuse")


def roc_auc(scores, labels):
    """Mann-Whitney U with ties counted half."""
    pairs = sorted(zip(scores, labels))
    ranks = [0.0] * len(pairs)
    i = 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    positives = sum(1 for _, y in pairs if y)
    negatives = len(pairs) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    rank_sum = sum(r for r, (_, y) in zip(ranks, pairs) if y)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--companies", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work")
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    k = kgfuse_binary()
    work = args.work or tempfile.mkdtemp(prefix="kgfuse-diagnosis-")
    env = dict(os.environ)
    env.setdefault(
        "KGFUSE_BERT_DIR",
        os.path.join(ROOT, "..", "shared", "data", "models", "all-MiniLM-L6-v2"),
    )
    run = lambda *a: subprocess.run([k, *a], check=True, env=env, capture_output=True, text=True)
    def world(companies, seed):
        data = os.path.join(work, f"data-{seed}")
        store = os.path.join(work, f"store-{seed}")
        if not os.path.isdir(store):
            run("generate", "finance", "--companies", str(companies), "--seed", str(seed), "--out", data)
            run("--store", store, "load", os.path.join(ROOT, "ontologies"), os.path.join(data, "finance.ttl"))
            run("--store", store, "reason")
        return data, store

    _, store = world(args.companies, args.seed)
    data, other = world(1000, args.seed + 100)
    model = os.path.join(work, "model")
    start = time.time()
    trained = run("--store", store, "train", "classify", "--class", "risk:Company",
                  "--label", "risk:riskLabel", "--out", model, *args.extra)
    seconds = time.time() - start
    print(trained.stdout)
    predicted = json.loads(run("--store", other, "predict", "--model", model, "--format", "json").stdout)
    truth = {}
    with open(os.path.join(data, "truth.tsv")) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            cells = line.rstrip("\n").split("\t")
            truth[cells[0]] = dict(zip(header[1:], (c == "1" for c in cells[1:])))
    with open(os.path.join(model, "metrics.json")) as f:
        metrics = json.load(f)
    print(f"trained in {seconds:.0f} s; valid accuracy {metrics['valid_metrics']['accuracy']:.3f}, "
          f"test accuracy {metrics['test_metrics']['accuracy']:.3f}, test ROC-AUC {metrics['test_metrics'].get('roc_auc')}")
    rows = predicted["predictions"] if isinstance(predicted, dict) else predicted
    held = [r for r in rows if r["entity"].strip("<>") in truth]
    factors = ["adverse_news", "exposed", "sanctioned_control", "offshore_control",
               "tainted_director", "defaulted_loan", "high_risk"]
    views = sorted(held[0]["views"]) if held and held[0].get("views") else []
    print(f"ROC-AUC of each score against each hidden factor ({len(held)} companies of world {args.seed + 100}):")
    print("score".ljust(12) + "".join(f.rjust(19) for f in factors))
    for name in views + ["fused"]:
        scores = [r["views"][name] if name != "fused" else r["score"] for r in held]
        line = name.ljust(12)
        for factor in factors:
            labels = [truth[r["entity"].strip("<>")][factor] for r in held]
            line += f"{roc_auc(scores, labels):19.3f}"
        print(line)


if __name__ == "__main__":
    sys.exit(main())
