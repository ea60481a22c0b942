#!/usr/bin/env bash
# logs.sh — scry's log path beside the shared log baselines
# (../shared/bench/logs: grep, ripgrep, zstd/lz4, and Loki 2.9's figures in
# its RESULTS.md) in one run over one loggen corpus:
#   1. push the corpus through POST /loki/api/v1/push (pushsend, 4 conns) and
#      read scry's CPU (utime+stime from /proc) before and after: raw MB per
#      server CPU-second, then again including POST /flush (head → segment);
#   2. bytes on disk of the log store (segments + WAL) against zstd -3 of
#      the same files (the driver's compress section);
#   3. the driver's needle/status baselines and its Loki-API query hook
#      against scry, every count checked against the manifest.
#   bench/logs.sh [SIZE (100M)] [REPS (3)]
# ZSTD_LEVELS="3" skips the driver's zstd -19 baseline (over 20 min for a
# 1 GiB corpus on a busy 2-vCPU machine); the default is "3 19".
# Needs: apt-get install make libcurl4-openssl-dev ripgrep zstd lz4 jq
set -euo pipefail
size=${1:-100M}
reps=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${SCRY_SHARED:-$here/../shared}
work=${WORK:-/var/tmp/scry-logbench}
scry=$here/build-release/cmd/scry
[ -d "$here/build-release" ] || meson setup "$here/build-release" --buildtype=release >/dev/null
ninja -C "$here/build-release" cmd/scry >/dev/null

mkdir -p "$work"
rm -rf "$work/h" && cp -r "$shared/bench/logs" "$work/h" && chmod -R u+w "$work/h"
make -s -C "$work/h"
corpus=$work/c$size
[ -f "$corpus/manifest.json" ] || "$work/h/loggen" -b "$size" -o "$corpus" -p "$corpus.push" >/dev/null
raw=$(awk -F'\t' '{ s += $3 } END { print s }' "$corpus.push") # line bytes pushed
files=$(cat "$corpus"/*.log | wc -c)                             # what zstd -3 compresses

data=$work/data
rm -rf "$data"
log=$work/scry.log
"$scry" server --data "$data" --listen 127.0.0.1:0 --otlp-listen 127.0.0.1:0 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q 'msg="ready"' "$log" && break; sleep 0.1; done
addr=$(grep -o 'listener=api addr=[0-9.:]*' "$log" | head -1 | sed 's/.*addr=//')
url=http://$addr
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)

c0=$(cpu)
"$work/h/pushsend" -u "$url/loki/api/v1/push" -f "$corpus.push" -c 4 >"$work/push.txt" 2>&1
c1=$(cpu)
curl -sf -XPOST "$url/flush"
c2=$(cpu)
segs=$(du -sb "$data/logs/segments" | cut -f1)
wal=$(du -sb "$data/logs/wal" | cut -f1)

"$work/h/logbench.sh" --reps "$reps" --sections needle,status,compress,server \
  --zstd-levels "${ZSTD_LEVELS:-3 19}" \
  --server "$url" --server-name scry --out "$work/results-$size" "$corpus" >"$work/logbench.txt" 2>&1 ||
  echo "logbench.sh reported a mismatch: see $work/logbench.txt" >&2

awk -v raw="$raw" -v files="$files" -v c0="$c0" -v c1="$c1" -v c2="$c2" -v hz="$hz" -v segs="$segs" -v wal="$wal" 'BEGIN {
  push = (c1 - c0) / hz; all = (c2 - c0) / hz
  printf "raw line bytes pushed  %d (files: %d)\n", raw, files
  printf "push CPU-s             %.2f  (%.1f MB raw per CPU-s)\n", push, raw / 1e6 / push
  printf "push + flush CPU-s     %.2f  (%.1f MB raw per CPU-s)\n", all, raw / 1e6 / all
  printf "segments               %d bytes (%.2f %% of the files); WAL after flush %d bytes\n", segs, 100 * segs / files, wal
}'
echo "results: $work/results-$size/summary.md"
