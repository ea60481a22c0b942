#!/usr/bin/env python3
"""livetailbench.py — what Loki live tail sessions cost `scry server`.

Starts `scry server` on a free port, then measures over DUR seconds
(default 10) the server's CPU seconds (utime + stime from /proc) in four
phases: no tail; 10 idle tails (their stream gets nothing); pushing RATE
lines/s (default 2000, batches of 100) with no tail; the same pushes with
one tail on that stream, with the delivery latency (push → frame
received) of every line: median and p99. The WebSocket client is the one
of tests/integration/test_loki_tail.py.

    python3 bench/livetailbench.py build/cmd/scry [DUR] [RATE]
"""
import json
import os
import socket
import statistics
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def main():
    os.environ["SCRY_BIN"] = os.path.abspath(sys.argv[1])
    from harness import Server
    from test_loki_tail import WS, push, tail_path
    dur = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    rate = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    srv = Server()
    pid = srv.proc.pid
    try:
        time.sleep(2)
        c0 = cpu_s(pid)
        time.sleep(dur)
        base = cpu_s(pid) - c0
        tails = [WS(srv.api, tail_path(query='{job="idle"}')) for _ in range(10)]
        c0 = cpu_s(pid)
        time.sleep(dur)
        idle = cpu_s(pid) - c0
        for w in tails:
            w.close()
        sent = {}
        stop = time.time() + dur

        def pusher():
            i = 0
            while time.time() < stop:
                t0 = time.time()
                batch = []
                for _ in range(100):
                    ts = time.time_ns()
                    line = f"level=info n={i} msg=\"hello world\""
                    sent[line] = ts
                    batch.append([str(ts), line])
                    i += 1
                push(srv, "live", batch)
                time.sleep(max(0, 100 / rate - (time.time() - t0)))

        c0 = cpu_s(pid)
        pusher()  # the same pushes with no tail open, for comparison
        push_only = cpu_s(pid) - c0
        # from now on: the pushes above are history, not part of the latency
        ws = WS(srv.api, tail_path(query='{job="live"}', start=str(time.time_ns())))
        sent.clear()
        stop = time.time() + dur
        lat = []
        c0 = cpu_s(pid)
        th = threading.Thread(target=pusher)
        th.start()
        while time.time() < stop + 4:
            try:
                op, p = ws.recv(0.5)
            except (socket.timeout, TimeoutError):
                continue
            now = time.time_ns()
            for s in json.loads(p)["streams"]:
                for v in s["values"]:
                    lat.append((now - sent[v[1]]) / 1e6)
        th.join()
        live = cpu_s(pid) - c0
        lat.sort()
        print(f"server CPU over {dur:.0f} s: no tail {base:.2f} s, 10 idle tails {idle:.2f} s, "
              f"pushing {rate} lines/s {push_only:.2f} s, the same with 1 tail {live:.2f} s")
        print(f"lines pushed {len(sent)}, received {len(lat)}, latency median "
              f"{statistics.median(lat):.0f} ms, p99 {lat[int(len(lat) * 0.99) - 1]:.0f} ms")
        ws.close()
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
