#!/usr/bin/env bash
# peers.sh — scry beside Debian's prometheus and victoria-metrics in one
# run of the shared peer driver (../shared/bench/peers/peerbench.sh): the
# same remote_write data set into each, ingest CPU and RSS, bytes per sample
# after persisting, query latency. Arguments go to peerbench.sh, e.g.
#   bench/peers.sh --series 10000 --rounds 2 --reps 5
# Needs: apt-get install prometheus victoria-metrics jq (and a built scry).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${SCRY_SHARED:-$here/../shared}
scry=${SCRY_BIN:-$here/build-release/cmd/scry}
# Without SCRY_BIN, (re)build the release binary: a stale one would be
# measured silently otherwise.
if [ -z "${SCRY_BIN:-}" ]; then
  [ -d "$here/build-release" ] || meson setup "$here/build-release" --buildtype=release >/dev/null
  ninja -C "$here/build-release" cmd/scry >/dev/null
fi
cd "$shared/bench/peers"
exec ./peerbench.sh prometheus victoriametrics \
  "scry=19300=$scry server --listen 127.0.0.1:{port} --otlp-listen 127.0.0.1:0 --data {data}" \
  --persist 'scry=curl -s -XPOST http://127.0.0.1:{port}/api/v1/admin/tsdb/flush' "$@"
