#!/usr/bin/env bash
# The fusion ablation of issue 6: train text-only, graph-only, fused without
# and with the joint loss on one generated finance world (seed 7, 2,000
# companies), then score the same models on two other worlds (seed 42, the
# 300-company sample; seed 11, 1,000 companies). Prints one metrics line per
# model and world, and training/prediction time and peak memory.
#
# Usage: benches/fusion_ablation.sh [WORK_DIR]   (run from the repository root
# after `cargo build --release`; needs GNU time at /usr/bin/time)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
K="${KGFUSE_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/kgfuse}"
export KGFUSE_BERT_DIR="${KGFUSE_BERT_DIR:-$root/../shared/data/models/all-MiniLM-L6-v2}"
cd "$work"
for world in "w7 2000 7" "w42 300 42" "w11 1000 11"; do
  read -r name companies seed <<<"$world"
  if [ ! -d "$name" ]; then
    "$K" generate finance --companies "$companies" --seed "$seed" --out "$name-data" >/dev/null
    "$K" --store "$name" load "$root/ontologies/" "$name-data/finance.ttl" >/dev/null 2>&1
    "$K" --store "$name" reason >/dev/null 2>&1
  fi
done
common="--class risk:Company --label risk:riskLabel --bert-layers 0 --batch-size 128 --lr 0.01"
for variant in "text:--no-graph" "graph:--no-text" "fused-nojoint:--no-joint" "fused:"; do
  name=${variant%%:*}; flags=${variant#*:}
  # shellcheck disable=SC2086
  /usr/bin/time -f "$name: trained in %e s, peak %M KB" "$K" --store w7 train classify $common $flags --out "model-$name" \
    2> >(tail -1 >&2) | grep -E "^ +[0-9]+ +0" | tail -1 | sed "s/^/$name seed-7 held-out test: /"
  for world in w42 w11; do
    /usr/bin/time -f "$name: scored $world in %e s, peak %M KB" "$K" --store "$world" evaluate classify --model "model-$name" \
      2> >(tail -1 >&2) | grep -E "^ +[0-9]+ +0" | sed "s/^/$name $world: /"
  done
done
