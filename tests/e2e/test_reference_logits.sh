#!/usr/bin/env bash
# mxserve's logits for every architecture (dense, qwen3moe, deepseek2, glm4moe, minimax-m2), from
# GGUF and HF test models, against the independent PyTorch reference forward (tests/reference).
# $1: the mxserve binary.
set -euo pipefail
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$MX_SOURCE_DIR/tests/reference/check_logits.py" "$1" "$work"
