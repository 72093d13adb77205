#!/usr/bin/env bash
# Question answering on MetaQA (issues 7 and 13): load the KB, train one model
# on the 1-hop and 2-hop questions together (a seeded tenth of each kept for
# validation, which also early-stops training), then print the validation
# metrics per file twice: with the questions' [brackets] around the topic
# entity, and with the brackets removed (the topic linked from the text
# alone, plus the linking accuracy). Then the batch-evaluation throughput,
# and the latency of `kgfuse ask` (one question at a time, store and model
# warm) over 1,000 MetaQA questions. Also prints training time and peak
# memory, and the same for a quarter of the questions (how training scales).
#
# Usage: benches/qa_metaqa.sh [WORK_DIR]   (run from the repository root after
# `cargo build --release`; needs GNU time at /usr/bin/time)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
# shellcheck source=benches/metaqa_setup.sh
. "$root/benches/metaqa_setup.sh"
for run in "quarter:--limit 2500" "full:"; do
  name=${run%%:*}; flags=${run#*:}
  # shellcheck disable=SC2086
  /usr/bin/time -f "wall %e s, peak %M KB" "$K" --store metaqa-store train qa $files $flags --out "qa-$name" 2>&1 \
    | sed 's/\x1b\[[0-9;]*[A-Za-z]//g; s/\r//g' | grep -E "^(labelled|composed|prepared|trained|qa_|wall)" | sed "s/^/$name: /"
done
# The same model and validation questions, with and without brackets.
# shellcheck disable=SC2086
"$K" --store metaqa-store evaluate qa --model qa-full --valid-only $files 2>/dev/null
# shellcheck disable=SC2086
"$K" --store metaqa-store evaluate qa --model qa-full --valid-only --strip-brackets $files 2>/dev/null
# Latency: 500 questions of each file, asked one by one without brackets.
{ head -500 "$data/qa_1hop.txt"; head -500 "$data/qa_2hop.txt"; } | tr -d '[]' > ask.txt
# (a few topic entities are missing from this KB: ask reports them and exits 1)
"$K" --store metaqa-store ask --model qa-full --file ask.txt --format json 2>&1 >/dev/null | grep latency || true
