"""What the benchmark scripts share: where the repository and the kgfuse binary are, the
check for their Python packages, and the labelled-task benchmarks (per-seed `--baselines`)."""

import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def kgfuse_binary():
    """The kgfuse executable: $KGFUSE_BIN, $CARGO_TARGET_DIR/release, or target/release."""
    if os.environ.get("KGFUSE_BIN"):
        candidates = [Path(os.environ["KGFUSE_BIN"])]
    else:
        candidates = []
        if os.environ.get("CARGO_TARGET_DIR"):
            candidates.append(Path(os.environ["CARGO_TARGET_DIR"]) / "release" / "kgfuse")
        candidates.append(REPO_ROOT / "target" / "release" / "kgfuse")
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    tried = ", ".join(str(p) for p in candidates)
    sys.exit(f"error: kgfuse binary not found (tried {tried}); build it with "
             "`cargo build --release` or set KGFUSE_BIN")


def require(script, pip_hint, *modules):
    """Exit with the pip command if one of the named modules cannot be found."""
    for name in modules:
        if importlib.util.find_spec(name) is None:
            sys.exit(f"error: missing Python package `{name}` for {sys.executable}; "
                     f"install it with: {pip_hint}\n(see the setup in {Path(script).name}'s "
                     "docstring)")


# `name  accuracy  macro-F1  ROC-AUC  reads` rows of `train classify --baselines`.
BASELINE_ROW = re.compile(r"^(\S.*?)\s+(\d\.\d{4})\s+(\d\.\d{4})\s+(\d\.\d{4}|-)\s\s")


def labelled_task_main(name, data_folder, data_file, label_update, target_class, label):
    """The command line of a labelled-task benchmark: `[--seeds 1,2,3,4,5] [--work DIR]
    [--data ../shared/data/DATA_FOLDER] [-- extra flags for kgfuse train classify]`. Loads
    `data_file` of the data folder (the folder itself when empty), applies `label_update`,
    then runs `baselines_over_seeds` for `target_class` and `label`."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--work")
    parser.add_argument("--data", default=str(REPO_ROOT.parent / "shared" / "data" / data_folder))
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()
    kgfuse = str(kgfuse_binary())
    work = args.work or tempfile.mkdtemp(prefix=f"kgfuse-{name}-")
    store = labelled_store(kgfuse, work, os.path.join(args.data, data_file), label_update)
    seeds = [int(s) for s in args.seeds.split(",")]
    baselines_over_seeds(kgfuse, store, target_class, label, seeds, work, args.extra)


def labelled_store(kgfuse, work, data, label_update):
    """The store `work/store`: `data` loaded and `label_update` applied, unless it is there."""
    os.makedirs(work, exist_ok=True)
    store = os.path.join(work, "store")
    if not os.path.isdir(store):
        for argv in (["load", data], ["update", label_update]):
            subprocess.run([kgfuse, "--store", store, *argv], check=True, capture_output=True,
                           text=True)
    return store


def baselines_over_seeds(kgfuse, store, target_class, label, seeds, work, extra):
    """Runs `train classify --baselines` once per seed (each seed its own stratified 60/20/20
    split, shared by every model of that seed), prints each seed's test table, then test
    accuracy and ROC-AUC of every model as mean ± std over the seeds."""
    results = {}
    for seed in seeds:
        out = subprocess.run(
            [kgfuse, "--store", store, "train", "classify", "--class", target_class,
             "--label", label, "--baselines", "--seed", str(seed),
             "--out", os.path.join(work, f"model-{seed}"), *extra],
            check=True, capture_output=True, text=True).stdout
        table = out[out.rindex("\ntest "):]
        for line in table.splitlines()[1:]:
            match = BASELINE_ROW.match(line)
            if match:
                name, accuracy, _, auc = match.groups()
                results.setdefault(name, []).append((float(accuracy), auc))
        print(f"seed {seed}:{table}", flush=True)

    def spread(values):
        if len(values) < 2:
            return f"{values[0]:.4f}"
        return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"

    print(f"\nmean ± std over {len(seeds)} seeds (test share of each seed's split)")
    print(f"{'model':<22} {'accuracy':>17} {'ROC-AUC':>17}")
    for name, rows in results.items():
        aucs = [float(a) for _, a in rows if a != "-"]
        print(f"{name:<22} {spread([a for a, _ in rows]):>17} {spread(aucs) if aucs else '-':>17}")
