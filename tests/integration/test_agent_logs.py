"""`scry agent` tails files and forwards the lines by Loki push to a real
`scry server` (collector/README.md "Agent: log forwarding").

A writer appends numbered lines at a steady rate and rotates the file: by
rename in a first phase, by copytruncate in a second. Meanwhile the agent
is killed with SIGKILL at random moments (and restarted at once), and the
server is stopped for a while (the agent must retry; it is also killed
then, with a round spooled, so the next start must resend the spool). Each round of
the agent sleeps between the server's acknowledgement and its checkpoint
(SCRY_TAIL_CHECKPOINT_DELAY_MS), so kills often land where only the spool
and the server's order rule keep lines from being lost or stored twice.
Then the server's Loki API (query_range, forward, paged) must return every
line number exactly once, in order, with the labels `scry server` itself
would give (job, filename)."""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

import harness
from harness import SCRY, Server, free_port, http, wait_for
from harness import tail_positions as positions

LINE = re.compile(r"line (\d{6}) the quick brown fox (\d+)$")


class Agent(harness.Agent):
    """The harness agent with its own metrics read (0 when unreachable)."""

    def metric(self, name):
        try:
            text = http("GET", self.api + "/metrics", timeout=5).text()
        except OSError:
            return 0.0
        m = re.search(r"(?m)^%s (\S+)$" % re.escape(name), text)
        return float(m.group(1)) if m else 0.0


def Writer(test, path, first, n, per_file, mode, rate):
    """harness.LogWriter; before a copytruncate it waits until the agent
    checkpointed the whole file."""
    def caught_up(st):
        wait_for(lambda: positions(test.adata).get((st.st_dev, st.st_ino), -1) >= st.st_size,
                 30, "the agent to checkpoint the whole file")
    return harness.LogWriter(path, n, per_file, mode, rate, caught_up, first=first)


class AgentLogsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="scry-agent-logs-")
        self.logs = os.path.join(self.dir, "logs")
        self.sdata = os.path.join(self.dir, "server")
        self.adata = os.path.join(self.dir, "agent")
        os.makedirs(self.logs)
        self.port = free_port()
        self.server = self.agent = None
        self.cfg = os.path.join(self.dir, "agent.yml")
        with open(self.cfg, "w") as f:
            f.write(f"logs:\n  - paths: ['{self.logs}/*.log']\n    labels: {{job: agentlogs}}\n"
                    "logs_push:\n  backoff_config: {min_period: 100ms, max_period: 300ms}\n")
        self.url = f"http://127.0.0.1:{self.port}/loki/api/v1/push"
        self.kills = 0
        self.log_lines = []

    def tearDown(self):
        if self.agent:
            self.agent.stop(signal.SIGKILL)
        if self.server:
            self.server.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_server(self):
        self.server = Server(data_dir=self.sdata, listen=f"127.0.0.1:{self.port}")

    def start_agent(self):
        self.agent = Agent(self.cfg, self.adata, "--logs-url", self.url,
                           env={"SCRY_TAIL_CHECKPOINT_DELAY_MS": "200"})

    def kill_agent(self):
        self.agent.stop(signal.SIGKILL)
        self.log_lines += self.agent.lines
        self.kills += 1
        self.start_agent()

    def query_stream(self, filename):
        """Every entry of one stream through query_range, forward, paged by time."""
        out, start = [], 0
        sel = '{job="agentlogs", filename="%s"}' % filename
        while True:
            q = urllib.parse.urlencode({"query": sel, "direction": "forward", "limit": 5000,
                                        "start": start, "end": time.time_ns() + 60 * 10**9})
            r = self.server.get("/loki/api/v1/query_range?" + q)
            self.assertEqual(r.status, 200, r.text())
            res = r.json()["data"]["result"]
            page = []
            for s in res:
                self.assertEqual(s["stream"], {"job": "agentlogs", "filename": filename})
                page += [(int(t), line) for t, line in s["values"]]
            page.sort()
            out += page
            if len(page) < 5000:
                return out
            start = page[-1][0] + 1

    def test_rotation_kill_9_and_server_down_exactly_once(self):
        self.start_server()
        self.start_agent()
        rng = random.Random(os.getpid())
        n1, n2 = 6000, 2400

        # Phase 1: rename rotation; one kill -9 at random, then, right after
        # the first rotation, the server away for about a second, and the
        # agent killed in the middle of it (a round is spooled then, so the
        # next start must resend the spool, and wait for the server to do
        # so). While the server is away the agent's tailer waits (the files
        # are the buffer), so a file must outlive the outage plus a start
        # of the server (4 s here), or it is created and rotated away
        # unseen, as with an agent that is down (collector/README.md "Agent:
        # log forwarding").
        app = os.path.join(self.logs, "app.log")
        w = Writer(self, app, 0, n1, 2000, "rename", rate=500)
        w.start()
        time.sleep(rng.uniform(0.5, 2.5))
        self.kill_agent()
        wait_for(lambda: w.rotations >= 1, 20, "the first rotation")
        self.assertEqual(self.server.stop(), 0)
        time.sleep(0.5)
        self.kill_agent()
        time.sleep(0.5)
        self.start_server()
        w.join(60)
        self.assertIsNone(w.error)
        self.assertFalse(w.is_alive())
        self.assertTrue(any("push failed; retrying" in x for x in self.log_lines),
                        "the agents retried while the server was down")

        # Phase 2: copytruncate on another file; one kill -9.
        app2 = os.path.join(self.logs, "app2.log")
        w2 = Writer(self, app2, n1, n2, 800, "copytruncate", rate=500)
        w2.start()
        time.sleep(rng.uniform(0.8, 3.0))
        self.kill_agent()
        w2.join(60)
        self.assertIsNone(w2.error)
        self.assertFalse(w2.is_alive())
        self.assertEqual(self.kills, 3)
        self.assertGreaterEqual(w.rotations + w2.rotations, 4)

        # Everything read and acknowledged: both files checkpointed at their size.
        def caught_up():
            pos = positions(self.adata)
            return all(pos.get((os.stat(p).st_dev, os.stat(p).st_ino), -1) >= os.stat(p).st_size
                       for p in (app, app2))
        wait_for(caught_up, 30, "the agent to catch up")
        sent = self.agent.metric("scry_logs_push_sent_entries_total")
        self.assertGreater(sent, 0)
        self.assertEqual(self.agent.stop(), 0, "SIGTERM drains and exits 0")
        self.log_lines += self.agent.lines
        self.agent = None

        seen = {}
        for fn in (app, app2):
            rows = self.query_stream(fn)
            ts = [t for t, _ in rows]
            self.assertEqual(ts, sorted(set(ts)), "timestamps unique and rising per stream")
            for _, line in rows:
                m = LINE.match(line)
                self.assertIsNotNone(m, line)
                i = int(m.group(1))
                self.assertEqual(int(m.group(2)), i % 97)
                seen[i] = seen.get(i, 0) + 1
        missing = [i for i in range(n1 + n2) if i not in seen]
        dup = sorted(i for i, c in seen.items() if c != 1)
        self.assertEqual(missing, [], f"missing lines ({len(missing)})")
        self.assertEqual(dup, [], f"repeated lines ({len(dup)})")
        self.assertEqual(len(seen), n1 + n2)
        resent = sum("resending the spool" in x for x in self.log_lines)
        self.assertGreaterEqual(resent, 1, "the kill during the outage left a spool")
        print(f"\n{w.rotations}+{w2.rotations} rotations, {self.kills} kills, "
              f"{resent} spools resent at start-up", file=sys.stderr)

    def test_same_streams_and_lines_as_the_servers_own_tailer(self):
        """The same logs: entry tailed by a server itself and by an agent
        forwarding to another server gives the same streams and lines, so
        tailing can move from the server to an agent."""
        entry = (f"logs:\n  - paths: ['{self.logs}/*.log']\n"
                 "    labels: {job: same, team: a}\n"
                 "    max_line_bytes: 64B\n"
                 "    relabel_configs:\n"
                 "      - {source_labels: [__path__], regex: '.*/(.*)\\.log', target_label: app}\n"
                 "      - {source_labels: [__path__], regex: '.*/skip\\.log', action: drop}\n")
        with open(self.cfg, "w") as f:
            f.write(entry)
        lines = [b"plain line", b"x" * 100, b"bad \xff utf-8 \xe2\x82", "caf\u00e9 \"q\" \\ ok".encode()]
        for name in ("one.log", "two.log", "skip.log"):
            with open(os.path.join(self.logs, name), "wb") as f:
                f.write(b"\n".join(lines + [name.encode()]) + b"\n")
        own = Server(config=self.cfg, data_dir=os.path.join(self.dir, "own"))
        try:
            self.start_server()
            self.start_agent()
            want = 2 * (len(lines) + 1)

            def streams(srv):
                q = urllib.parse.urlencode({"query": '{job="same"}', "direction": "forward",
                                            "limit": 1000, "start": 0,
                                            "end": time.time_ns() + 60 * 10**9})
                r = srv.get("/loki/api/v1/query_range?" + q)
                self.assertEqual(r.status, 200, r.text())
                return sorted((json.dumps(s["stream"], sort_keys=True), [v[1] for v in s["values"]])
                              for s in r.json()["data"]["result"])

            def count(srv):
                return sum(len(v) for _, v in streams(srv))
            wait_for(lambda: count(own) == want and count(self.server) == want, 20,
                     "both servers to hold every line")
            a, b = streams(own), streams(self.server)
            # Per file: the stream, and the truncated line under its
            # structured metadata (the Loki API lists it with the labels).
            self.assertEqual(len(a), 4)
            self.assertEqual(a, b)
            one = os.path.join(self.logs, "one.log")
            self.assertEqual(json.loads(a[1][0]), {"app": "one", "filename": one, "job": "same",
                                                   "team": "a"})
            self.assertEqual(a[1][1], ["plain line", "bad \ufffd utf-8 \ufffd",
                                       'caf\u00e9 "q" \\ ok', "one.log"])
            self.assertEqual(json.loads(a[0][0]).get("truncated"), "true")
            self.assertEqual(a[0][1], ["x" * 64])  # cut at max_line_bytes the same way
        finally:
            own.stop()

    def test_flag_and_config_errors(self):
        bad = os.path.join(self.dir, "bad.yml")
        with open(bad, "w") as f:
            f.write(f"logs:\n  - paths: ['{self.logs}/*.log']\n")
        p = subprocess.run([SCRY, "agent", "--config", bad, "--data", self.adata],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--logs-url", p.stderr)
        with open(bad, "w") as f:
            f.write("logs_push:\n  url: ftp://x/loki/api/v1/push\n")
        p = subprocess.run([SCRY, "agent", "--config", bad, "--data", self.adata],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unsupported scheme", p.stderr)


if __name__ == "__main__":
    unittest.main()
