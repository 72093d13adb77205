#!/usr/bin/env python3
"""Seconds per training epoch of kgfuse's R-GCN and PyTorch Geometric's RGCNConv, side by side.

Both sides run on the CPU with the same number of threads (``--threads``, default
``os.cpu_count()``): ``RAYON_NUM_THREADS`` for kgfuse, ``torch.set_num_threads()`` for PyTorch
(both children also get ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` / ``RAYON_NUM_THREADS`` set to
it).  Every measurement runs in its own child process, the two sides alternately (kgfuse, PyG,
kgfuse, PyG, ...; ``--repeats`` each, default 3), and the table shows medians.  "PyG/kgfuse" is
PyG's seconds per epoch over kgfuse's: above 1, kgfuse is faster.

AIFB+ node classification (``<data>/aifb``): the 2-layer R-GCN of ``kgfuse train rgcn``.  Graph: every triple of ``aifb+.nt.gz`` whose object is not a literal is an edge
(duplicates once), ``swrc:employs`` (the label) is left out, every relation also read backwards
as its own relation id (22 + 22 relations, 20,338 + 20,338 edges, 2,835 nodes: the subjects,
including those with only literals, and the non-literal objects).  Model: a learned 64-wide input
embedding per node, R-GCN 64 -> 16, ReLU, R-GCN 16 -> 4 classes, one full weight matrix per
relation (no bases), a self-loop weight and bias, mean over each relation's neighbours
(1 / c_{i,r}), dropout 0.3 on each layer's input; AdamW lr 0.01 (cosine decay), weight decay
5e-4, gradient-norm clipping at 1.0; cross-entropy on the training people, full batch.

* kgfuse: ``kgfuse --store S load aifb+.nt.gz``, ``kgfuse --store S load --graph
  https://example.org/aifb/labels train.nt.gz valid.nt.gz`` (once), then per repeat ``kgfuse
  --store S train rgcn --cross-validate --label swrc:employs --folds 10 --repeats 1 --epochs E``
  with E = ``--aifb-epochs`` (default 50) and E = 1.  One kgfuse epoch is a training step plus a
  forward pass on the fold's validation people (kgfuse validates every epoch, early stopping,
  keeping a copy of the best weights).  Seconds per epoch: the median of the per-epoch
  ``seconds`` in every fold's ``history`` of the ``--metrics`` JSON.  (Versions before that
  field: (wall(E) - wall(1)) / (10 folds x (E - 1)), a mean in which start-up, loading the
  store, building the graph and models and testing each fold cancel out; the script says which.)
* PyG: the same model with ``torch_geometric.nn.RGCNConv`` (``aggr='mean'``, root weight and
  bias: the self loop), the same graph parsed from the same file, a random (not stratified) split
  of the 140 people into 113 train / 13 validation / 14 test (kgfuse's fold sizes).  One epoch =
  forward with dropout, cross-entropy, backward, ``clip_grad_norm_(1.0)``, ``AdamW.step()`` and
  then, like kgfuse, a ``no_grad`` forward without dropout on the validation people (and a copy of
  the weights when it improves): "PyG train+valid".  The train step alone is shown as well.
  ``--aifb-epochs`` epochs are timed after 3 warm-up epochs; per repeat the median and the mean
  are kept.  The ratio is given against PyG's mean (like for like with kgfuse's mean) and median.

UMLS link prediction (``<data>/umls``): ``kgfuse train linkpred`` with its defaults: R-GCN one
layer, dim 200, 10 bases, over the training triples plus inverses (92 relation ids), DistMult
decoder with a vector per relation and direction, dropout 0.5 on the input, 1-N scoring (each
distinct query (h, r, ?) / (t, r^-1, ?) of the training split against all 135 entities) with
binary cross-entropy and label smoothing 0.1, batches of 128 queries, the encoder re-run for
every batch; AdamW lr 0.003, gradient clipping 1.0.

* kgfuse: ``kgfuse --memory train linkpred --train train.txt --valid valid.txt --test test.txt
  --out TMP --epochs E --validate-every 100`` with E = ``--umls-epochs`` (default 3); the
  per-epoch ``seconds`` of ``TMP/metrics.json`` (``training.history``).  The last epoch also runs
  the filtered validation, so only epochs without validation (``metric`` null) count; the last
  epoch's time is shown apart.
* PyG: the same model and batches (``RGCNConv(200, 200, 92, num_bases=10)``), ``--umls-epochs``
  epochs, each timed, no warm-up and no validation (kgfuse's first epoch is not a warm-up
  either); the median over all repeats' epochs.

Setup (tested with these versions; PyPI's Linux torch wheel pulls its nvidia-* / cuda-toolkit
dependencies, about 5 GB, even for the CPU; torch_geometric's optional compiled extensions
(pyg-lib, torch-scatter, torch-sparse) are not needed and were not installed, so RGCNConv takes
its plain loop over relations)::

    python3 -m venv pyg-venv
    pyg-venv/bin/pip install torch==2.15.0 torch_geometric==2.8.1 numpy==2.4.6
    cargo build --release

Usage::

    pyg-venv/bin/python benches/rgcn_bench.py
    pyg-venv/bin/python benches/rgcn_bench.py --threads 1 --repeats 5
    pyg-venv/bin/python benches/rgcn_bench.py --only umls --umls-epochs 5

The binary is ``$KGFUSE_BIN`` if set, else ``$CARGO_TARGET_DIR/release/kgfuse``, else
``target/release/kgfuse`` under the repository root.  The data folder is
``$KGFUSE_SHARED_DATA`` if set, else ``../shared/data`` beside the repository root.  With 2
threads ``--repeats 5`` took 3 minutes here (the default 3 repeats, about 2).
"""

import argparse
import gzip
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import REPO_ROOT, kgfuse_binary, require

PIP_HINT = "pip install torch==2.15.0 torch_geometric==2.8.1 numpy==2.4.6"
SWRC = "http://swrc.ontoware.org/ontology#"
LABEL = SWRC + "employs"
LABEL_GRAPH = "https://example.org/aifb/labels"
NT_RE = re.compile(r'^(<[^>]*>|_:\S+)\s+<([^>]*)>\s+(.*?)\s*\.\s*$')
GRAPH_RE = re.compile(r"(\d+) nodes, (\d+) relations \(with inverses\), (\d+) edges; "
                      r"(\d+) labelled entities in (\d+) classes")
AIFB_WARMUP = 3


# ---------------------------------------------------------------- data, as kgfuse builds it

def aifb_graph(data):
    """Nodes, relations (inverses = r + count) and (src, rel, dst) edges, kgfuse's GraphView."""
    nodes, relations, edges, seen = {}, {}, [], set()

    def node(term):
        return nodes.setdefault(term, len(nodes))

    with gzip.open(data / "aifb" / "aifb+.nt.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            match = NT_RE.match(line)
            if not match:
                continue
            subject, predicate, obj = match.groups()
            if predicate == LABEL:
                continue
            source = node(subject)
            if obj.startswith('"'):
                continue
            key = (source, relations.setdefault(predicate, len(relations)), node(obj))
            if key not in seen:
                seen.add(key)
                edges.append(key)
    count = len(relations)
    edges = edges + [(t, r + count, s) for s, r, t in edges]
    labels = {}
    for name in ("train.nt.gz", "valid.nt.gz"):
        with gzip.open(data / "aifb" / name, "rt", encoding="utf-8") as lines:
            for line in lines:
                match = NT_RE.match(line)
                if match and match.group(2) == LABEL and match.group(1) in nodes:
                    labels[nodes[match.group(1)]] = match.group(3)
    classes = {value: i for i, value in enumerate(sorted(set(labels.values())))}
    examples = sorted((n, classes[v]) for n, v in labels.items())
    return len(nodes), 2 * count, edges, examples, len(classes)


def umls_data(data):
    """Entities and relations in order of appearance (train, valid, test); the train ids."""
    entities, relations, splits = {}, {}, {}
    for split in ("train", "valid", "test"):
        rows = []
        for line in (data / "umls" / f"{split}.txt").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            h, r, t = (part.strip() for part in line.split("\t"))
            rows.append((entities.setdefault(h, len(entities)),
                         relations.setdefault(r, len(relations)),
                         entities.setdefault(t, len(entities))))
        splits[split] = rows
    return len(entities), len(relations), splits["train"]


# ---------------------------------------------------------------- PyG workers (child processes)

def lr_at(epoch, epochs, peak, warmup, floor=0.05):
    """kgfuse's schedule: linear warm-up then cosine decay to floor x peak."""
    if epoch < warmup:
        return peak * (epoch + 1) / warmup
    progress = min((epoch - warmup) / max(epochs - warmup, 1), 1.0)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def worker_aifb(args):
    import torch
    import torch.nn.functional as F
    import torch_geometric
    from torch_geometric.nn import RGCNConv
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    num_nodes, num_relations, edges, examples, num_classes = aifb_graph(Path(args.data))
    edge_index = torch.tensor([[s for s, _, _ in edges], [t for _, _, t in edges]])
    edge_type = torch.tensor([r for _, r, _ in edges])

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.input = torch.nn.Embedding(num_nodes, 64)
            torch.nn.init.xavier_uniform_(self.input.weight)
            self.conv1 = RGCNConv(64, 16, num_relations)
            self.conv2 = RGCNConv(16, num_classes, num_relations)

        def forward(self):
            x = F.dropout(self.input.weight, 0.3, self.training)
            x = F.relu(self.conv1(x, edge_index, edge_type))
            x = F.dropout(x, 0.3, self.training)
            return self.conv2(x, edge_index, edge_type)

    order = torch.randperm(len(examples)).tolist()
    shuffled = [examples[i] for i in order]
    test, valid, train = shuffled[:14], shuffled[14:27], shuffled[27:]
    train_nodes = torch.tensor([n for n, _ in train])
    train_y = torch.tensor([c for _, c in train])
    valid_nodes = torch.tensor([n for n, _ in valid])
    valid_y = torch.tensor([c for _, c in valid])

    model = Model()
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(params, lr=0.01, weight_decay=5e-4)
    total = AIFB_WARMUP + args.epochs
    best, snapshot = -math.inf, None
    train_times, epoch_times = [], []
    for epoch in range(total):
        started = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(epoch, total, 0.01, 0)
        model.train()
        optimizer.zero_grad()
        loss = F.cross_entropy(model()[train_nodes], train_y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        loss_value = loss.item()
        trained = time.perf_counter()
        model.eval()
        with torch.no_grad():
            logits = model()[valid_nodes]
            metric = ((logits.argmax(1) == valid_y).float().mean().item()
                      - 1e-3 * F.cross_entropy(logits, valid_y).item())
        if metric > best:
            best, snapshot = metric, [p.detach().clone() for p in params]
        finished = time.perf_counter()
        if epoch >= AIFB_WARMUP:
            train_times.append(trained - started)
            epoch_times.append(finished - started)
        if not math.isfinite(loss_value):
            raise RuntimeError(f"PyG AIFB training diverged at epoch {epoch + 1}")
    with torch.no_grad():
        for p, saved in zip(params, snapshot):
            p.copy_(saved)
        model.eval()
        test_logits = model()[torch.tensor([n for n, _ in test])]
        accuracy = (test_logits.argmax(1) == torch.tensor([c for _, c in test])).float().mean()
    return {"epoch_median": statistics.median(epoch_times),
            "epoch_mean": statistics.fmean(epoch_times),
            "train_median": statistics.median(train_times),
            "train_mean": statistics.fmean(train_times),
            "nodes": num_nodes, "relations": num_relations, "edges": len(edges),
            "labelled": len(examples), "classes": num_classes, "test_accuracy": float(accuracy),
            "torch": torch.__version__, "pyg": torch_geometric.__version__,
            "threads": torch.get_num_threads()}


def worker_umls(args):
    import torch
    import torch.nn.functional as F
    import torch_geometric
    from torch_geometric.nn import RGCNConv
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    num_entities, r, train = umls_data(Path(args.data))
    edges = [(h, rel, t) for h, rel, t in train] + [(t, rel + r, h) for h, rel, t in train]
    edge_index = torch.tensor([[s for s, _, _ in edges], [t for _, _, t in edges]])
    edge_type = torch.tensor([rel for _, rel, _ in edges])
    answers = {}
    for h, rel, t in train:
        answers.setdefault((h, rel), []).append(t)
        answers.setdefault((t, rel + r), []).append(h)
    queries = sorted(answers.items())

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.input = torch.nn.Embedding(num_entities, 200)
            torch.nn.init.xavier_uniform_(self.input.weight)
            self.conv = RGCNConv(200, 200, 2 * r, num_bases=10)
            self.relations = torch.nn.Parameter(torch.empty(2 * r, 200))
            torch.nn.init.xavier_uniform_(self.relations)

        def nodes(self):
            x = F.dropout(self.input.weight, 0.5, self.training)
            return self.conv(x, edge_index, edge_type)

    model = Model()
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(params, lr=0.003, weight_decay=0.0)
    smoothing, batch_size = 0.1, 128
    times, losses = [], []
    for epoch in range(args.epochs):
        started = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(epoch, 200, 0.003, 2)
        model.train()
        order = torch.randperm(len(queries)).tolist()
        total, batches = 0.0, 0
        for start in range(0, len(order), batch_size):
            batch = [queries[i] for i in order[start:start + batch_size]]
            b = len(batch)
            rows = [row for row, (_, found) in enumerate(batch) for _ in found]
            cols = [answer for _, found in batch for answer in found]
            targets = torch.full((b, num_entities), smoothing / num_entities)
            targets.index_put_((torch.tensor(rows), torch.tensor(cols)),
                               torch.tensor(1.0 - smoothing), accumulate=True)
            known = torch.tensor([q[0] for q, _ in batch])
            rel = torch.tensor([q[1] for q, _ in batch])
            nodes = model.nodes()
            logits = (nodes[known] * model.relations[rel]) @ nodes.t()
            loss = F.binary_cross_entropy_with_logits(logits, targets)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            total += loss.item()
            batches += 1
        times.append(time.perf_counter() - started)
        losses.append(total / batches)
    return {"epochs": times, "losses": losses, "queries": len(queries),
            "batches": math.ceil(len(queries) / batch_size), "entities": num_entities,
            "relations": 2 * r, "edges": len(edges),
            "torch": torch.__version__, "pyg": torch_geometric.__version__,
            "threads": torch.get_num_threads()}


# ---------------------------------------------------------------- child processes

def child_env(threads):
    env = dict(os.environ)
    for name in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    return env


def run(command, threads, nice, what):
    """Run a child; (wall seconds, stdout+stderr). Raises on a non-zero exit."""
    if nice:
        command = ["nice", "-n", str(nice)] + command
    started = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=child_env(threads))
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{what} exited with {proc.returncode}:\n{proc.stdout[-3000:]}")
    return wall, proc.stdout


def run_worker(task, args, epochs):
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", task,
               "--threads", str(args.threads), "--data", str(args.data_dir),
               "--epochs", str(epochs), "--seed", str(args.seed)]
    _, output = run(command, args.threads, args.nice, f"PyG {task} worker")
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"PyG {task} worker printed no result:\n{output[-3000:]}")
    return json.loads(lines[-1])


def histories(value):
    """Every list of epoch records with `seconds` anywhere in a metrics JSON."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if (key == "history" and isinstance(inner, list) and inner
                    and all(isinstance(e, dict) and "seconds" in e for e in inner)):
                yield inner
            else:
                yield from histories(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from histories(inner)


def kgfuse_classify(binary, store, epochs, args, workdir):
    metrics = workdir / f"classify-{epochs}.json"
    command = [str(binary), "--store", str(store), "train", "rgcn",
               "--cross-validate", "--label", LABEL, "--folds", str(args.folds), "--repeats", "1",
               "--epochs", str(epochs), "--metrics", str(metrics)]
    wall, output = run(command, args.threads, args.nice, "kgfuse train classify")
    summary = json.loads(metrics.read_text(encoding="utf-8"))
    seconds = [e["seconds"] for h in histories(summary) for e in h]
    graph = GRAPH_RE.search(output)
    return {"wall": wall, "epoch_seconds": seconds, "accuracy": summary.get("accuracy_mean"),
            "graph": tuple(int(g) for g in graph.groups()) if graph else None}


def kgfuse_linkpred(binary, args, workdir):
    out = workdir / "linkpred-model"
    umls = args.data_dir / "umls"
    command = [str(binary), "--memory", "train", "linkpred",
               "--train", str(umls / "train.txt"), "--valid", str(umls / "valid.txt"),
               "--test", str(umls / "test.txt"), "--out", str(out),
               "--epochs", str(args.umls_epochs), "--validate-every", "100"]
    wall, _ = run(command, args.threads, args.nice, "kgfuse train linkpred")
    history = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["training"]["history"]
    return {"wall": wall,
            "plain": [e["seconds"] for e in history if e.get("metric") is None],
            "validated": [e["seconds"] for e in history if e.get("metric") is not None]}


# ---------------------------------------------------------------- benchmarks

def median(values):
    return statistics.median(values) if values else float("nan")


def bench_aifb(binary, args, workdir):
    data = args.data_dir / "aifb"
    store = workdir / "aifb-store"
    run([str(binary), "--store", str(store), "load", str(data / "aifb+.nt.gz")],
        args.threads, 0, "kgfuse load")
    run([str(binary), "--store", str(store), "load", "--graph", LABEL_GRAPH,
         str(data / "train.nt.gz"), str(data / "valid.nt.gz")], args.threads, 0, "kgfuse load")
    ours, theirs, source = [], [], None
    for repeat in range(args.repeats):
        print(f"AIFB+ run {repeat + 1}/{args.repeats}: kgfuse ...", end="", flush=True)
        full = kgfuse_classify(binary, store, args.aifb_epochs, args, workdir)
        if full["epoch_seconds"]:
            source = "median of the per-epoch seconds in --metrics"
            per_epoch = median(full["epoch_seconds"])
        else:
            source = (f"(wall({args.aifb_epochs} epochs) - wall(1 epoch)) / "
                      f"({args.folds} folds x {args.aifb_epochs - 1})")
            one = kgfuse_classify(binary, store, 1, args, workdir)
            per_epoch = (full["wall"] - one["wall"]) / (args.folds * (args.aifb_epochs - 1))
        ours.append(dict(full, per_epoch=per_epoch))
        print(f" {per_epoch * 1000:.1f} ms/epoch (accuracy {100 * full['accuracy']:.1f} %); "
              f"PyG ...", end="", flush=True)
        theirs.append(run_worker("aifb", args, args.aifb_epochs))
        print(f" {theirs[-1]['epoch_median'] * 1000:.1f} ms/epoch "
              f"(test accuracy on 14 people {100 * theirs[-1]['test_accuracy']:.0f} %)", flush=True)
    pyg = theirs[-1]
    ours_graph = ours[-1]["graph"]
    pyg_graph = (pyg["nodes"], pyg["relations"], pyg["edges"], pyg["labelled"], pyg["classes"])
    print(f"\n== AIFB+ node classification, 2-layer R-GCN, {args.threads} thread(s), "
          f"{args.repeats} runs per side, {args.aifb_epochs} epochs")
    print(f"graph (nodes, relations with inverses, edges with inverses, labelled, classes): "
          f"kgfuse {ours_graph}, PyG {pyg_graph}"
          + ("" if ours_graph == pyg_graph else "  <-- MISMATCH"))
    print(f"kgfuse seconds/epoch: {source}")
    k = median([o["per_epoch"] for o in ours])
    p_mean = median([t["epoch_mean"] for t in theirs])
    p_median = median([t["epoch_median"] for t in theirs])
    p_train = median([t["train_median"] for t in theirs])
    rows = [("kgfuse (train step + validation)", k, None),
            ("PyG train+valid, mean of epochs", p_mean, p_mean / k),
            ("PyG train+valid, median of epochs", p_median, p_median / k),
            ("PyG train step only, median", p_train, p_train / k)]
    print_rows(rows)
    return k, p_mean, p_median


def bench_umls(binary, args, workdir):
    ours, theirs = [], []
    for repeat in range(args.repeats):
        print(f"UMLS run {repeat + 1}/{args.repeats}: kgfuse ...", end="", flush=True)
        ours.append(kgfuse_linkpred(binary, args, workdir))
        print(" " + ", ".join(f"{s:.2f}" for s in ours[-1]["plain"])
              + (" (+ validated epoch " + ", ".join(f"{s:.2f}" for s in ours[-1]["validated"])
                 + ")" if ours[-1]["validated"] else "")
              + " s; PyG ...", end="", flush=True)
        theirs.append(run_worker("umls", args, args.umls_epochs))
        print(" " + ", ".join(f"{s:.2f}" for s in theirs[-1]["epochs"]) + " s", flush=True)
    pyg = theirs[-1]
    k = median([s for o in ours for s in o["plain"]])
    k_valid = median([s for o in ours for s in o["validated"]])
    p = median([s for t in theirs for s in t["epochs"]])
    print(f"\n== UMLS link prediction, R-GCN 1 layer dim 200 10 bases + DistMult, 1-N BCE, "
          f"{args.threads} thread(s), {args.repeats} runs per side, {args.umls_epochs} epochs")
    print(f"{pyg['entities']} entities, {pyg['relations']} relations with inverses, "
          f"{pyg['edges']} edges with inverses, {pyg['queries']} training queries = "
          f"{pyg['batches']} batches of <= 128 per epoch")
    rows = [("kgfuse, epochs without validation", k, None),
            ("kgfuse, last epoch (+ filtered validation)", k_valid, None),
            ("PyG, median of epochs", p, p / k)]
    print_rows(rows)
    return k, p


def print_rows(rows):
    head = f"{'':<44} | {'s/epoch':>9} | {'PyG/kgfuse':>10}"
    print(head)
    print("-" * len(head))
    for name, seconds, ratio in rows:
        shown = f"{ratio:>9.2f}x" if ratio is not None else f"{'':>10}"
        print(f"{name:<44} | {seconds:>9.4f} | {shown}")


def shared_data():
    data = Path(os.environ.get("KGFUSE_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data")
    if not data.is_dir():
        sys.exit(f"error: shared data folder {data} not found; set KGFUSE_SHARED_DATA")
    return data


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["aifb", "umls", "both"], default="both")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="threads for both sides (default os.cpu_count())")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per side, alternating (default 3)")
    parser.add_argument("--aifb-epochs", type=int, default=50,
                        help="AIFB+ epochs per fold / timed PyG epochs (default 50)")
    parser.add_argument("--folds", type=int, default=10, help="kgfuse's AIFB+ folds (default 10)")
    parser.add_argument("--umls-epochs", type=int, default=3, help="UMLS epochs (default 3)")
    parser.add_argument("--nice", type=int, default=0,
                        help="run every timed child (both sides) under nice -n N (default 0)")
    parser.add_argument("--seed", type=int, default=42, help="PyG's torch seed (default 42)")
    parser.add_argument("--worker", choices=["aifb", "umls"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        work = worker_aifb if args.worker == "aifb" else worker_umls
        print(json.dumps(work(args)))
        return
    if args.aifb_epochs < 2:
        sys.exit("error: --aifb-epochs must be at least 2")

    require(__file__, PIP_HINT, "numpy", "torch", "torch_geometric")
    binary = kgfuse_binary()
    args.data_dir = shared_data()
    version = subprocess.run([sys.executable, "-c", "import torch, torch_geometric; "
                              "print(torch.__version__, torch_geometric.__version__)"],
                             capture_output=True, text=True).stdout.split()
    print(f"kgfuse: {binary}\ndata: {args.data_dir}\nthreads: {args.threads}, repeats: "
          f"{args.repeats}, nice: {args.nice}, python: {sys.executable}, torch "
          f"{version[0] if version else '?'}, torch_geometric {version[-1] if version else '?'}")
    busy = os.getloadavg()[0]
    if busy > 0.5:
        print(f"warning: load average {busy:.2f} before starting: other processes compete for "
              "the cores")
    started = time.perf_counter()
    summary = []
    with tempfile.TemporaryDirectory(prefix="kgfuse-rgcn-bench-") as tmp:
        workdir = Path(tmp)
        if args.only in ("aifb", "both"):
            k, p_mean, p_median = bench_aifb(binary, args, workdir)
            summary.append(f"AIFB+ epoch: kgfuse {k:.4f} s, PyG {p_mean:.4f} s (mean) / "
                           f"{p_median:.4f} s (median): PyG/kgfuse = {p_mean / k:.2f}x (mean), "
                           f"{p_median / k:.2f}x (median)")
            print("load average (1, 5, 15 min): "
                  + ", ".join(f"{load:.2f}" for load in os.getloadavg()) + "\n")
        if args.only in ("umls", "both"):
            k, p = bench_umls(binary, args, workdir)
            summary.append(f"UMLS epoch: kgfuse {k:.3f} s, PyG {p:.3f} s: "
                           f"PyG/kgfuse = {p / k:.2f}x")
            print("load average (1, 5, 15 min): "
                  + ", ".join(f"{load:.2f}" for load in os.getloadavg()))
    print("\n" + "\n".join(summary)
          + "\n(PyG/kgfuse above 1: kgfuse is faster; target: at least 1)")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, subprocess.CalledProcessError) as failed:
        sys.exit(f"error: {failed}")
