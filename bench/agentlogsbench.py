#!/usr/bin/env python3
"""agentlogsbench.py — how fast `scry agent` forwards a backlog of log lines.

The agent's side of bench/tailbench.py: writes N logfmt-like lines (default
1,000,000, ~112 bytes each) into DIR/logs/big.log, starts a `scry server`
(no logs: section) and a `scry agent` tailing the file and forwarding it by
Loki push to the server, and times how long until the agent's checkpoint
(its catalog's tail_positions) reaches the file's size: every line read,
spooled, acknowledged by the server and checkpointed. Prints MB/s and the
CPU seconds of each process (from /proc, start-up included).

    python3 bench/agentlogsbench.py build/cmd/scry [N]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from tailcommon import wait_tail_offset, write_backlog


def start(args, pattern):
    p = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    while True:
        line = p.stderr.readline()
        if not line:
            raise SystemExit(f"{args[1]} exited")
        m = re.search(pattern, line)
        if m:
            # Keep reading, so a chatty process never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            return p, m.group(1)


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def main():
    scry = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    d = tempfile.mkdtemp(prefix="agentlogsbench-")
    procs = []
    try:
        os.makedirs(f"{d}/logs")
        size = write_backlog(f"{d}/logs/big.log", n)
        with open(f"{d}/agent.yml", "w") as f:
            f.write(f"logs:\n  - paths: [{d}/logs/*.log]\n    labels: {{job: bench}}\n")
        srv, addr = start([scry, "server", "--data", f"{d}/data", "--listen", "127.0.0.1:0",
                           "--otlp-listen", "127.0.0.1:0"], r"listener=api addr=(\S+)")
        procs.append(srv)
        t0 = time.time()
        ag, _ = start([scry, "agent", "--config", f"{d}/agent.yml", "--data", f"{d}/agent",
                       "--listen", "127.0.0.1:0", "--logs-url",
                       f"http://{addr}/loki/api/v1/push"], r"component=http msg=\"?listening\"? (addr)")
        procs.append(ag)
        wait_tail_offset(f"{d}/agent/catalog.db", size, t0)
        dt = time.time() - t0
        print(f"{n} lines, {size / 1e6:.1f} MB in {dt:.2f} s: {size / 1e6 / dt:.1f} MB/s, "
              f"{n / dt:.0f} lines/s; agent CPU {cpu_s(ag.pid):.2f} s, "
              f"server CPU {cpu_s(srv.pid):.2f} s")
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
