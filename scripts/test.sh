#!/usr/bin/env bash
# Builds and runs the whole test suite: unit tests, end-to-end checks against the independent
# references (JS tokenizers, Python jinja2). Usage: scripts/test.sh [preset]  (release|asan|...)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
preset="${1:-release}"
scripts/build.sh "$preset"
dir=build
[ "$preset" = release ] || dir="build/$preset"
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)" --timeout 900
