#!/usr/bin/env bash
# Questions of any length on MetaQA (issue 18). For each seed: train on the
# 1- and 2-hop files with the defaults (3-hop questions composed from their
# phrasings), then Hits@1 on each file's validation share and on 3-hop
# questions built from the KB with hand-written templates that no model saw
# (benches/metaqa_3hop.py: "dev" guided the work on composition, "test" chose
# nothing). Then the time and peak memory of preparing all 24,864 questions
# (link, BERT, guided retrieval of up to 3 hops, scoring) against the full
# 2-hop neighbourhoods training labels questions with (the retrieval every
# question had before guided retrieval), and, with BASE_BIN and BASE_MODEL
# set, the same evaluation by another kgfuse build and its model, side by side.
#
# Usage: benches/qa_multihop.sh [WORK_DIR] [SEEDS]   (default seeds: 42 7 1;
# run from the repository root after `cargo build --release`; needs GNU time)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
seeds="${2:-42 7 1}"
# shellcheck source=benches/metaqa_setup.sh
. "$root/benches/metaqa_setup.sh"
python3 "$root/benches/metaqa_3hop.py" --set dev --kb "$data/kb.txt" qa_3hop_dev.txt
python3 "$root/benches/metaqa_3hop.py" --set test --seed 11 --kb "$data/kb.txt" qa_3hop_test.txt
clean() { sed 's/\x1b\[[0-9;]*[A-Za-z]//g; s/\r/\n/g' | grep -v '^ *$'; }
for seed in $seeds; do
  # shellcheck disable=SC2086
  /usr/bin/time -f "wall %e s, peak %M KB" "$K" --store metaqa-store train qa $files --seed "$seed" --out "qa-$seed" 2>&1 \
    | clean | grep -E "^(labelled|composed|prepared|trained|wall)" | sed "s/^/seed $seed: /"
  # shellcheck disable=SC2086
  "$K" --store metaqa-store evaluate qa --model "qa-$seed" --valid-only $files 2>/dev/null | grep "hop" | sed "s/^/seed $seed: /"
  for set in dev test; do
    "$K" --store metaqa-store evaluate qa --model "qa-$seed" --questions "qa_3hop_$set.txt" 2>/dev/null | grep "hop" | sed "s/^/seed $seed: /"
  done
done
first="${seeds%% *}"
echo "preparing and scoring all 24,864 questions (guided retrieval, up to 3 hops):"
# shellcheck disable=SC2086
/usr/bin/time -f "   wall %e s, peak %M KB" "$K" --store metaqa-store evaluate qa --model "qa-$first" $files 2>&1 | clean | grep -E "end to end|wall"
if [ -n "${BASE_BIN:-}" ] && [ -n "${BASE_MODEL:-}" ]; then
  echo "the same with $BASE_BIN and $BASE_MODEL:"
  # shellcheck disable=SC2086
  /usr/bin/time -f "   wall %e s, peak %M KB" "$BASE_BIN" --store metaqa-store evaluate qa --model "$BASE_MODEL" $files 2>&1 | clean | grep -E "end to end|wall"
fi
