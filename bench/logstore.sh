#!/bin/bash
# bench/logstore.sh — the log store against zstd -3 and ripgrep on a loggen
# corpus (logstore/README.md "Numbers").
#
#   bench/logstore.sh [SIZE [BUILD_DIR]]     SIZE for loggen -b (128M), BUILD_DIR (build)
#
# Builds loggen (shared/bench/logs, its Makefile) in a temp dir, generates
# the corpus there, compresses every stream file on its own with zstd -T1 -3
# (as shared/bench/logs/logbench.sh does), runs build/bench/logstorebench
# (bytes by section, ingest speed, needle queries), then times
# `rg --no-config -F -c` over the files for each needle (median of 5, warm)
# and prints the ratios. Needs zstd and ripgrep (Debian: zstd, ripgrep).
set -euo pipefail
SIZE=${1:-128M}
BUILD=${2:-build}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SRC=${LOGGEN_SRC:-$HERE/../shared/bench/logs}
T=$(mktemp -d /tmp/logstorebench.XXXXXX)
trap 'rm -rf "$T"' EXIT

cp "$SRC/Makefile" "$SRC/loggen.c" "$T/"
make -s -C "$T" loggen
"$T/loggen" -b "$SIZE" -o "$T/corpus" --no-verify >/dev/null 2>&1
files=$(ls "$T"/corpus/s*.log)
raw=$(cat $files | wc -c)
z3=0
for f in $files; do
    z3=$((z3 + $(zstd -q -T1 -3 -c "$f" | wc -c)))
done

"$HERE/$BUILD/bench/logstorebench" "$T/corpus" "$T/data" | tee "$T/out.txt"
seg=$(awk '/^segment:/ {print $2}' "$T/out.txt")

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo
awk -v raw="$raw" -v z3="$z3" -v seg="$seg" 'BEGIN {
    printf "file bytes %d; zstd -T1 -3 per file %d (%.2f %%); segment %d (%.2f %% of file bytes, %.3f x zstd -3)\n",
        raw, z3, 100 * z3 / raw, seg, 100 * seg / raw, seg / z3 }'
printf '%-34s %10s %12s %10s\n' needle "store ms" "rg -c ms" "rg/store"
awk '/^needle/ {on=1; next} on && NF >= 5 {print $1, $4}' "$T/out.txt" | while read -r tok ms; do
    us=$(for i in 1 2 3 4 5; do
        s=$(date +%s%N)
        rg --no-config -F -c --no-filename "$tok" "$T/corpus" >/dev/null || true
        e=$(date +%s%N)
        echo $(( (e - s) / 1000 ))
    done | median)
    awk -v t="$tok" -v ms="$ms" -v us="$us" \
        'BEGIN { printf "%-34s %10.3f %12.3f %10.1f\n", t, ms, us / 1000, us / 1000 / ms }'
done
