#!/usr/bin/env bash
# logpush.sh — the Loki push path into the head alone: for each of RUNS runs,
# a fresh `scry server` (its own data dir), one replay of PUSH (loggen's push
# batches) by pushsend (4 connections), and the server's CPU-seconds and page
# faults over the push from `perf stat -p`; prints each run and the medians
# of raw MB per server CPU-s and page faults per request.
#   bench/logpush.sh SCRY PUSH [RUNS (3)] [PORT (19520)]
# Needs perf, and pushsend built from ../shared/bench/logs (make -C there);
# WORK (default /var/tmp/scry-logpush) holds the data dir and the logs.
set -euo pipefail
scry=$1
push=$2
runs=${3:-3}
port=${4:-19520}
here=$(cd "$(dirname "$0")/.." && pwd)
shared=${SCRY_SHARED:-$here/../shared}
work=${WORK:-/var/tmp/scry-logpush}
pushsend=${PUSHSEND:-$work/h/pushsend}
mkdir -p "$work"
if [ ! -x "$pushsend" ]; then
  rm -rf "$work/h" && cp -r "$shared/bench/logs" "$work/h" && chmod -R u+w "$work/h"
  make -s -C "$work/h" pushsend
fi
raw=$(awk -F'\t' '{ s += $3 } END { print s }' "$push")
nreq=$(wc -l <"$push")

one() {
  local data=$work/data log=$work/scry.log
  rm -rf "$data"
  "$scry" server --data "$data" --listen "127.0.0.1:$port" --otlp-listen "127.0.0.1:$((port + 1))" \
    >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do grep -q 'msg="ready"' "$log" && break; sleep 0.1; done
  perf stat -x, -e task-clock,page-faults -p "$pid" -o "$work/stat.txt" &
  local pp=$!
  sleep 0.3
  "$pushsend" -u "http://127.0.0.1:$port/loki/api/v1/push" -f "$push" -c 4 >"$work/push.txt" 2>&1
  kill -INT "$pp"
  wait "$pp" || true
  kill "$pid"
  wait "$pid" || true
  grep -q "rejected 0" "$work/push.txt" || { echo "push refused entries: $work/push.txt" >&2; exit 1; }
  local ms faults
  ms=$(awk -F, '$3 == "task-clock" { print $1 }' "$work/stat.txt")
  faults=$(awk -F, '$3 == "page-faults" { print $1 }' "$work/stat.txt")
  awk -v raw="$raw" -v ms="$ms" -v f="$faults" -v n="$nreq" \
    'BEGIN { printf "%.3f %.1f %d %.1f\n", ms / 1000, raw / 1e6 / (ms / 1000), f, f / n }'
}

printf "run  CPU-s  MB/CPU-s  faults  faults/request   (%d requests, %d raw line bytes)\n" "$nreq" "$raw"
for i in $(seq "$runs"); do
  r=$(one)
  echo "$i    $r"
  echo "$r" >>"$work/runs.$$"
done
sort -n -k2 "$work/runs.$$" | awk '{ a[NR] = $2 } END { printf "median MB/CPU-s   %s\n", a[int((NR + 1) / 2)] }'
sort -n -k4 "$work/runs.$$" | awk '{ a[NR] = $4 } END { printf "median faults/request %s\n", a[int((NR + 1) / 2)] }'
rm -f "$work/runs.$$"
