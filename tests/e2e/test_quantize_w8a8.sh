#!/usr/bin/env bash
# `mxserve quantize --type w8a8|q8_0` on f32 test models (GGUF and HF folder) of every dense
# architecture; the outputs' logits against the independent PyTorch reference
# (tests/reference/check_w8a8.py states the bounds). $1: the mxserve binary.
set -euo pipefail
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$MX_SOURCE_DIR/tests/reference/check_w8a8.py" "$1" "$work"
