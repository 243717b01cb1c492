#!/usr/bin/env bash
# The docs describe the tree that exists: every src/ folder is in README's layout list and in
# docs/architecture.md's layer table, and the layer diagram names only folders that exist.
# $1 (the mxserve binary) is unused.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
status=0
for dir in "$root"/src/*/; do
  name="$(basename "$dir")"
  grep -qF "\`src/$name\`" "$root/README.md" || { echo "README.md layout misses src/$name"; status=1; }
  grep -qE "\| src/$name \|" "$root/docs/architecture.md" ||
    { echo "docs/architecture.md layer table misses src/$name"; status=1; }
done
# The diagram: the first fenced block after "## Layers".
diagram="$(awk '/^## Layers/{on=1} on&&/^```/{n++; next} on&&n==1{print} n==2{exit}' "$root/docs/architecture.md")"
[ -n "$diagram" ] || { echo "no layer diagram under '## Layers'"; exit 1; }
for name in $(echo "$diagram" | tr -c 'a-z\n' ' ' | tr ' ' '\n' | sort -u); do
  [ -d "$root/src/$name" ] || { echo "layer diagram names '$name', which is not a folder under src/"; status=1; }
done
grep -n '(planned)' "$root/docs/architecture.md" | grep -i metering &&
  { echo "docs/architecture.md still calls metering planned"; status=1; }
exit "$status"
