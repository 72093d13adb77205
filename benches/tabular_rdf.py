#!/usr/bin/env python3
"""Real tabular data sets as RDF, and scikit-learn's tabular baselines on them as the peer reference.

Writes scikit-learn's embedded data sets (no download) into OUT_DIR:

* ``breast_cancer.ttl``: 569 ``ex:Patient`` entities (``ex:patient0`` ...), the 30 features as
  ``xsd:decimal`` literals (``ex:meanRadius`` ...), the label as an IRI
  (``ex:diagnosis ex:Malignant`` / ``ex:Benign``).
* ``wine.ttl``: 178 ``ex:Wine`` entities, 13 features, ``ex:cultivar ex:Cultivar0|1|2``
  (three classes).
* ``<name>.csv``: the same table (``entity``, the features, ``label`` as a class index, class
  names in ``classes.json``) plus one column ``split<seed>`` per seed holding ``train``, ``valid``
  or ``test``: a stratified 60/20/20 split (``train_test_split(stratify=y, random_state=seed)``
  twice: 20% test, then a quarter of the rest for validation).

Then, per data set, scikit-learn's own baselines on those splits, ``--seeds`` seeds (default 5),
mean +- population std of test ROC-AUC (binary: the positive class; three classes: macro
one-vs-rest) and accuracy:

* LR: ``StandardScaler`` + ``LogisticRegression`` (lbfgs, multinomial), ``C`` from
  ``{0.01, 0.1, 1, 10, 100, 1000}`` by log loss on ``valid``, then refit on ``train`` + ``valid``.
* HGB: ``HistGradientBoostingClassifier(random_state=seed)`` with its defaults (100 trees,
  learning rate 0.1, 31 leaves; no early stopping below 10,000 rows), fitted on ``train`` +
  ``valid``.

kgfuse's baselines on the same rows (``kgfuse::tasks::baselines``; they carve their own
validation quarter from ``train`` + ``valid``)::

    cargo run --release --example tabular_baselines -- OUT_DIR/breast_cancer.csv

Setup: needs ``scikit-learn`` (tested with 1.9.1, numpy 2.4.6). Without it the script makes a
virtual environment at ``/tmp/kgfuse-tabular-venv``, installs scikit-learn there with pip and runs
itself again with that Python.

Usage::

    python3 benches/tabular_rdf.py OUT_DIR [--seeds 5]
"""

import argparse
import decimal
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

VENV = Path("/tmp/kgfuse-tabular-venv")
EX = "https://example.org/tabular/"


def ensure_sklearn():
    """Re-run this script in a venv with scikit-learn when the current Python lacks it."""
    if importlib.util.find_spec("sklearn") is not None:
        return
    python = VENV / "bin" / "python"
    if os.environ.get("KGFUSE_TABULAR_VENV") == "1":
        sys.exit(f"error: scikit-learn is still missing in {python}")
    if not python.exists():
        print(f"making {VENV} and installing scikit-learn ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "scikit-learn"], check=True)
    env = dict(os.environ, KGFUSE_TABULAR_VENV="1")
    os.execve(str(python), [str(python), *sys.argv], env)


def camel(name):
    """'mean radius' -> 'meanRadius', 'od280/od315_of_diluted_wines' -> 'od280Od315OfDilutedWines'."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", name) if w]
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])


def decimal_lexical(value):
    """The xsd:decimal lexical form of a float (no exponent)."""
    text = format(decimal.Decimal(repr(float(value))), "f")
    return text if "." in text else text + ".0"


def write_dataset(out, name, cls, entity, label_property, class_iris, X, columns, y, seeds):
    from sklearn.model_selection import train_test_split
    import numpy as np

    properties = [camel(c) for c in columns]
    ids = [f"{entity}{i}" for i in range(len(y))]
    with open(out / f"{name}.ttl", "w") as f:
        f.write(f"@prefix ex: <{EX}> .\n@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n\n")
        for i, row in enumerate(X):
            f.write(f"ex:{ids[i]} a ex:{cls} ;\n")
            for p, v in zip(properties, row):
                f.write(f'    ex:{p} "{decimal_lexical(v)}"^^xsd:decimal ;\n')
            f.write(f"    ex:{label_property} ex:{class_iris[y[i]]} .\n")
    splits = {}
    index = np.arange(len(y))
    for seed in seeds:
        rest, test = train_test_split(index, test_size=0.2, stratify=y, random_state=seed)
        train, valid = train_test_split(rest, test_size=0.25, stratify=y[rest], random_state=seed)
        column = np.empty(len(y), dtype=object)
        column[train], column[valid], column[test] = "train", "valid", "test"
        splits[seed] = column
    with open(out / f"{name}.csv", "w") as f:
        f.write(",".join(["entity", *properties, "label", *(f"split{s}" for s in seeds)]) + "\n")
        for i, row in enumerate(X):
            cells = [ids[i], *(repr(float(v)) for v in row), str(int(y[i]))]
            cells += [splits[s][i] for s in seeds]
            f.write(",".join(cells) + "\n")
    with open(out / f"{name}.classes.json", "w") as f:
        json.dump(class_iris, f)
    return splits


def peer_scores(X, y, splits):
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def auc(yt, p):
        if p.shape[1] == 2:
            return roc_auc_score(yt, p[:, 1])
        return roc_auc_score(yt, p, multi_class="ovr", average="macro")

    def lr(c):
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=10000))

    results = {"LR": [], "HGB": []}
    for seed, column in splits.items():
        train, valid, test = (np.flatnonzero(column == s) for s in ("train", "valid", "test"))
        fit = np.concatenate([train, valid])
        best = min((log_loss(y[valid], lr(c).fit(X[train], y[train]).predict_proba(X[valid]),
                             labels=np.unique(y)), c) for c in (0.01, 0.1, 1, 10, 100, 1000))
        model = lr(best[1]).fit(X[fit], y[fit])
        p = model.predict_proba(X[test])
        results["LR"].append((auc(y[test], p), accuracy_score(y[test], p.argmax(1)), best[1]))
        model = HistGradientBoostingClassifier(random_state=seed).fit(X[fit], y[fit])
        p = model.predict_proba(X[test])
        results["HGB"].append((auc(y[test], p), accuracy_score(y[test], p.argmax(1)), None))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    ensure_sklearn()
    import numpy as np
    import sklearn
    from sklearn.datasets import load_breast_cancer, load_wine

    args.out_dir.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.seeds))
    cancer = load_breast_cancer()
    wine = load_wine()
    cases = [
        # scikit-learn's target: 0 = malignant, 1 = benign.
        ("breast_cancer", "Patient", "patient", "diagnosis", ["Malignant", "Benign"], cancer),
        ("wine", "Wine", "wine", "cultivar", ["Cultivar0", "Cultivar1", "Cultivar2"], wine),
    ]
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}; seeds {seeds}; "
          "test ROC-AUC and accuracy, mean +- std (population)")
    for name, cls, entity, prop, class_iris, data in cases:
        X, y = data.data, data.target
        splits = write_dataset(args.out_dir, name, cls, entity, prop, class_iris, X,
                               data.feature_names, y, seeds)
        results = peer_scores(X, y, splits)
        print(f"{name}: {len(y)} rows, {data.data.shape[1]} columns, {len(class_iris)} classes "
              f"-> {args.out_dir / (name + '.ttl')}, {args.out_dir / (name + '.csv')}")
        for model, rows in results.items():
            aucs = np.array([r[0] for r in rows])
            accs = np.array([r[1] for r in rows])
            chosen = "" if rows[0][2] is None else f"  (C per seed: {[r[2] for r in rows]})"
            print(f"  sklearn {model:<4} ROC-AUC {aucs.mean():.4f} +- {aucs.std():.4f}   "
                  f"accuracy {accs.mean():.4f} +- {accs.std():.4f}{chosen}")


if __name__ == "__main__":
    main()
