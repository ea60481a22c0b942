#!/usr/bin/env bash
# lokineedle.sh — needle queries through the Loki HTTP API, as logbench.sh's
# server section sends them (Grafana/logcli shape), against a running scry
# loaded with a loggen corpus: per query kind, N requests with curl; prints
# the median wall time (curl's time_total) and the server's CPU and page
# faults per request (perf stat -p over the N requests).
#   bench/lokineedle.sh URL PID MANIFEST [N (30)] [NEEDLE...]
# Needs: curl, jq, perf (kernel.perf_event_paranoid <= 1 or root).
set -euo pipefail
url=$1 pid=$2 man=$3 n=${4:-30}
shift $(($# < 4 ? $# : 4))
needles=${*:-zqx1e2needle zqx1e4needle}
start=$(jq -r .first_ns "$man")
last=$(jq -r .last_ns "$man")
end=$((last + 1000000000))
rng=$(((end - start + 999999999) / 1000000000 + 1))
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
one() { # NAME CURL-ARGS...
	local name=$1
	shift
	curl -sf -o /dev/null -G "$@" # warm-up, not counted
	perf stat -e task-clock,page-faults -p "$pid" -o "$tmp/perf" >/dev/null 2>&1 &
	local pp=$!
	sleep 0.3
	for ((i = 0; i < n; i++)); do curl -sf -o /dev/null -w '%{time_total}\n' -G "$@"; done >"$tmp/t"
	kill -INT $pp
	wait $pp 2>/dev/null || true
	sort -n "$tmp/t" | awk -v name="$name" -v n="$n" -v f="$tmp/perf" '
		{ a[NR] = $1 }
		END {
			while ((getline l < f) > 0) {
				split(l, w, " "); gsub(",", "", w[1])
				if (l ~ /task-clock/) cpu = w[1]; else if (l ~ /page-faults/) pf = w[1]
			}
			printf "%-26s median %7.2f ms  server CPU %6.2f ms/req  faults %6.1f/req\n",
				name, a[int((NR + 1) / 2)] * 1000, cpu / n, pf / n
		}'
}
for tok in $needles; do
	one "count $tok" --data-urlencode "query=sum(count_over_time({job=~\".+\"} |= \"$tok\" [${rng}s]))" \
		--data-urlencode "time=$end" "$url/loki/api/v1/query"
	for lim in ${LIMITS:-100 1000}; do
		one "first $lim $tok" --data-urlencode "query={job=~\".+\"} |= \"$tok\"" \
			--data-urlencode "start=$start" --data-urlencode "end=$end" \
			--data-urlencode "limit=$lim" --data-urlencode "direction=backward" "$url/loki/api/v1/query_range"
	done
done
