#!/usr/bin/env bash
# Etcd, a frontend and 3 workers each in its own network namespace (hosts on a bridge): greedy
# equality with serve, a rate cap, a worker's link down, etcd's link down, SIGSTOP / SIGKILL of
# a worker; ledger exact and workers idle after each (tests/e2e/cluster/netns_cluster.py).
# Skips (77) only when not root or network namespaces cannot be made. $1: mxserve.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
lib="$(dirname "$0")/cluster/netns_lib.py"
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root (ip netns, veth, bridge)"
  exit 77
fi
if ! /usr/bin/python3 "$lib" probe; then
  echo "SKIP: ip netns / veth / bridge unavailable here"
  exit 77
fi
e2e_setup "$1"
prefix="mxn$(printf %x $$)"
# Namespaces and whatever still runs in them go even if the test is aborted.
trap '/usr/bin/python3 "$lib" clean "$prefix"; e2e_cleanup' EXIT
tiny_qwen3 "$work/model.gguf"
/usr/bin/python3 "$(dirname "$0")/cluster/netns_cluster.py" "$mxserve" "$work/model.gguf" \
  "$work" "$prefix" || {
  for log in "$work"/*.log; do echo "== $log"; tail -20 "$log"; done
  exit 1
}
