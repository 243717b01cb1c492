#!/usr/bin/env bash
# mxserve's logits with an INT8 KV cache (qwen3 GQA; deepseek2 MLA latent, both attention forms)
# against the PyTorch reference that rounds the cached rows the same way. $1: the mxserve binary.
set -euo pipefail
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$MX_SOURCE_DIR/tests/reference/check_int8_kv.py" "$1" "$work"
