#!/usr/bin/env bash
# reqcpu.sh — server CPU and wall time per HTTP request, one curl process
# per request (a new connection each time, as peerbench.sh and logbench.sh
# send their queries), against a running server.
#   bench/reqcpu.sh PID N URL [curl args...]
# e.g. 300 PromQL range queries against a scry server on :9090:
#   bench/reqcpu.sh "$(pgrep -f 'scry server')" 300 http://127.0.0.1:9090/api/v1/query_range \
#     -G --data-urlencode 'query=topk(5, rate(node_network_receive_bytes_total[5m]))' \
#     --data-urlencode start=... --data-urlencode end=... --data-urlencode step=60
# Prints the server's task-clock, page faults and context switches per
# request (perf stat on the server process) and the median and p90 of
# curl's time_total. Needs: apt-get install linux-perf curl.
set -euo pipefail
pid=$1 n=$2 url=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for _ in 1 2 3 4 5; do curl -s -o /dev/null "$@" "$url"; done # warm-up
perf stat -e task-clock,page-faults,context-switches -p "$pid" -o "$tmp/stat" &
sp=$!
sleep 0.3
for _ in $(seq "$n"); do curl -s -o /dev/null -w '%{time_total}\n' "$@" "$url"; done >"$tmp/t"
kill -INT "$sp"
wait "$sp" 2>/dev/null || true
sort -g "$tmp/t" | awk -v n="$n" -v stat="$tmp/stat" '
  { t[NR] = $1 }
  END {
    while ((getline l < stat) > 0) {
      split(l, f, " "); gsub(",", "", f[1])
      if (l ~ /task-clock/) tc = f[1]
      if (l ~ /page-faults/) pf = f[1]
      if (l ~ /context-switches/) cs = f[1]
    }
    printf "server CPU %.3f ms/req  faults %.1f/req  context switches %.1f/req  curl median %.2f ms  p90 %.2f ms\n",
      tc / n, pf / n, cs / n, t[int((NR + 1) / 2)] * 1000, t[int(NR * 0.9)] * 1000
  }'
