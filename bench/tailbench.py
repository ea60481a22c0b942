#!/usr/bin/env python3
"""tailbench.py — how fast `scry server` reads a backlog of log lines.

Writes N logfmt-like lines (default 1,000,000, ~112 bytes each) into
DIR/logs/big.log, starts `scry server` with a `logs:` section on it, and
times how long until the tail checkpoint (catalog table tail_positions)
reaches the file's size: every line read, committed to the log store and
checkpointed. Prints MB/s and the server's CPU seconds.

    python3 bench/tailbench.py build/cmd/scry [N]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from tailcommon import wait_tail_offset, write_backlog


def main():
    scry = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    d = tempfile.mkdtemp(prefix="tailbench-")
    try:
        os.makedirs(f"{d}/logs")
        size = write_backlog(f"{d}/logs/big.log", n)
        with open(f"{d}/scry.yml", "w") as f:
            f.write(f"logs:\n  - paths: [{d}/logs/*.log]\n    labels: {{job: bench}}\n")
        p = subprocess.Popen([scry, "server", "--config", f"{d}/scry.yml", "--data", f"{d}/data",
                              "--listen", "127.0.0.1:0", "--otlp-listen", "127.0.0.1:0"],
                             stderr=subprocess.PIPE, text=True)
        addr = None
        while addr is None:
            line = p.stderr.readline()
            if not line:
                raise SystemExit("the server exited")
            m = re.search(r"listener=api addr=(\S+)", line)
            addr = m.group(1) if m else None
        t0 = time.time()
        wait_tail_offset(f"{d}/data/catalog.db", size, t0)
        dt = time.time() - t0
        text = urllib.request.urlopen(f"http://{addr}/metrics").read().decode()
        cpu = re.search(r"^process_cpu_seconds_total (\S+)$", text, re.M).group(1)
        rounds = re.search(r"^scry_tail_commits_total (\S+)$", text, re.M).group(1)
        print(f"{n} lines, {size / 1e6:.1f} MB in {dt:.2f} s: {size / 1e6 / dt:.1f} MB/s, "
              f"{n / dt:.0f} lines/s, {rounds} rounds, server CPU {cpu} s (with start-up)")
        p.terminate()
        p.wait()
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
