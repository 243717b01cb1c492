#!/usr/bin/env bash
# Configures (release preset) and builds everything into build/; the binary is build/bin/mxserve.
set -euo pipefail
cd "$(dirname "$0")/.."
# Compiler cache hits across clones and worktrees: ccache rewrites paths under the parent folder.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$PWD")}"
preset="${1:-release}"
cmake --preset "$preset" >/dev/null
jobs="$(nproc)"
dir=build
[ "$preset" = release ] || dir="build/$preset"
cmake --build "$dir" -j"$jobs"
