#!/usr/bin/env bash
# queryrss.sh — peak RSS and latency of one PromQL range query on a running
# copy of an existing scry data directory (one that bench/peers.sh, or
# shared/bench/peers/peerbench.sh --keep-data, left behind).
#
#   bench/queryrss.sh SCRY_BIN DATA_DIR PORT START END STEP REPS QUERY [CURL_ARGS...]
#
# Starts `SCRY_BIN server` on a scratch copy of DATA_DIR (the original is
# never written), waits until it answers, resets its peak RSS
# (/proc/PID/clear_refs 5), runs the query REPS times with curl, and prints
# one line: the startup RSS, the peak RSS (VmHWM) over the queries, the
# median and all curl time_total values, the HTTP code and the body size.
# Extra CURL_ARGS (e.g. --compressed, --http1.0) go to every curl call.
set -euo pipefail
[ $# -ge 8 ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
bin=$1 data=$2 port=$3 start=$4 end=$5 step=$6 reps=$7 query=$8
shift 8
work=$(mktemp -d "${TMPDIR:-/var/tmp}/queryrss.XXXXXX")
cp -a "$data" "$work/data"
"$bin" server --listen "127.0.0.1:$port" --otlp-listen 127.0.0.1:0 --data "$work/data" \
  >"$work/server.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 600); do
  curl -s -o /dev/null -m 2 "http://127.0.0.1:$port/api/v1/query?query=1" && break
  sleep 0.2
done
kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }
rss0=$(kb VmRSS)
echo 5 >"/proc/$pid/clear_refs"
times=()
for _ in $(seq "$reps"); do
  read -r code t size < <(curl -s -o "$work/out" -w '%{http_code} %{time_total} %{size_download}\n' \
    -G "http://127.0.0.1:$port/api/v1/query_range" --data-urlencode "query=$query" \
    --data-urlencode "start=$start" --data-urlencode "end=$end" --data-urlencode "step=$step" "$@")
  times+=("$t")
done
med=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END { print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2 }')
printf 'startup_rss_mib=%.0f peak_rss_mib=%.0f median_s=%s times=%s code=%s bytes=%s sha=%s\n' \
  "$(echo "$rss0 / 1024" | bc -l)" "$(echo "$(kb VmHWM) / 1024" | bc -l)" "$med" \
  "$(IFS=,; echo "${times[*]}")" "$code" "$size" "$(sha256sum <"$work/out" | cut -c1-16)"
