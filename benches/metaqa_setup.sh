# Sourced by the MetaQA bench scripts once they have set $root (the
# repository) and $work (the work folder): the kgfuse binary as $K, MetaQA's
# folder as $data, the BERT model, the KB loaded once into
# $work/metaqa-store, and the two question files as $files for `train qa`.
# Leaves the shell in $work.
K="${KGFUSE_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/kgfuse}"
data="${KGFUSE_SHARED_DATA:-$root/../shared/data}/metaqa"
export KGFUSE_BERT_DIR="${KGFUSE_BERT_DIR:-$root/../shared/data/models/all-MiniLM-L6-v2}"
cd "$work"
if [ ! -d metaqa-store ]; then
  "$K" --store metaqa-store load --format pipe --base http://example.org/metaqa/ "$data/kb.txt" >/dev/null 2>&1
fi
files="--questions $data/qa_1hop.txt --questions $data/qa_2hop.txt"
