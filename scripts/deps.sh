#!/usr/bin/env bash
# deps.sh — install what scry needs to build and test on Debian 12, and
# nothing when it is already there (idempotent). Needs root for apt-get.
set -euo pipefail

PACKAGES=(
  # build
  gcc libc6-dev meson ninja-build pkg-config git ca-certificates
  # libraries (ARCHITECTURE.md "Libraries")
  libmicrohttpd-dev libprotobuf-c-dev protobuf-c-compiler liblz4-dev libzstd-dev libsqlite3-dev
  libyaml-dev libcurl4-openssl-dev zlib1g-dev libsnappy-dev libpcre2-dev
  # tests: unit tests, the integration harness (Python 3 stdlib), curl
  libcmocka-dev python3 curl openssl
  # the OpenTelemetry JS client of tests/integration/test_otlp_js.py
  nodejs npm
  # tests: a real target for the scrape manager (tests/unit/collector/test_scrape_node.c)
  prometheus-node-exporter
  # tests: the reference for remote_write and PromQL (tests/integration/test_prom_diff.py)
  prometheus
  # receivers for `scry agent` (tests/integration/test_agent.py; also prometheus above)
  victoria-metrics
)

# A machine may already have Node.js from elsewhere (NodeSource's nodejs
# bundles npm and conflicts with Debian's npm package): a working node and
# npm on PATH are enough, whatever package brought them.
if command -v node >/dev/null && command -v npm >/dev/null; then
  keep=()
  for p in "${PACKAGES[@]}"; do
    case "$p" in nodejs|npm) ;; *) keep+=("$p") ;; esac
  done
  PACKAGES=("${keep[@]}")
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
