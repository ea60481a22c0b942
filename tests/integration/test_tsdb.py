"""The time-series store through the real server: remote_write in, flush to
blocks, restart, `scry tsdb dump` out. The crash test kills the server with
SIGKILL at random points during ingest, 20 times, and checks the promise:
every sample acknowledged with a 2xx is there after restart, and nothing
stored is corrupt."""
import os
import random
import re
import signal
import subprocess
import tempfile
import time
import unittest

from harness import SCRY, Server, http, run_cli

RWSEND = os.environ.get("RWSEND_BIN", "rwsend")
LINE = re.compile(r'^crash_test\{series="(\d+)"\} (\S+) (\d+)$')


def rwsend(url, series, samples, batch, start_ms):
    """Runs rwsend to the end; returns the number of acknowledged requests."""
    p = subprocess.run([RWSEND, url, str(series), str(samples), str(batch), str(start_ms)],
                       capture_output=True, text=True, timeout=120)
    return len(re.findall(r"^ack \d+$", p.stdout, re.M)), p.returncode


def dump(data_dir):
    code, out, err = run_cli("tsdb", "dump", data_dir, timeout=120)
    if code != 0:
        raise AssertionError(f"scry tsdb dump failed ({code}): {err}")
    got = {}
    for line in out.splitlines():
        if not line.startswith("crash_test{"):
            continue  # the server's own metrics, from the default config's self-scrape
        m = LINE.match(line)
        if not m:
            raise AssertionError(f"unexpected dump line: {line!r}")
        got[(int(m.group(1)), int(m.group(3)))] = float(m.group(2))
    return got


def no_scrape_config(d):
    """A config with no scrape_configs: the embedded default scrapes scry
    itself, which would add series to what these tests count."""
    path = os.path.join(d, "scry.yml")
    with open(path, "w") as f:
        f.write("# defaults, no scraping\n")
    return path


def expected(series, first, n, start_ms):
    """rwsend's data: series i, sample j at start_ms + j*1000 with value i*1e6 + j."""
    for i in range(series):
        for j in range(first, first + n):
            yield (i, start_ms + j * 1000), i * 1e6 + j


class TsdbTest(unittest.TestCase):
    def check_all(self, got, series, n, start_ms):
        for key, v in expected(series, 0, n, start_ms):
            self.assertIn(key, got, f"sample {key} missing")
            self.assertEqual(got[key], v, f"sample {key}")

    def test_flush_restart_dump(self):
        with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as c:
            cfg = no_scrape_config(c)
            with Server(data_dir=d, config=cfg) as s:
                url = s.api + "/api/v1/write"
                self.assertEqual(rwsend(url, 50, 100, 25, 1_700_000_000_000), (4, 0))
                self.assertEqual(s.post("/api/v1/admin/tsdb/flush").status, 204)
                s.wait_log(r'msg="?head cut into a block"? block=\w+ series=50 samples=5000')
                self.assertEqual(rwsend(url, 50, 100, 25, 1_700_000_200_000), (4, 0))
                snap = s.post("/api/v1/admin/tsdb/snapshot").json()
                self.assertEqual(snap["status"], "success")
                snapdir = os.path.join(d, "snapshots", snap["data"]["name"])
                self.assertEqual(len(os.listdir(snapdir)), 2)  # the block, and the head as one
            code, out, _ = run_cli("tsdb", "inspect", d)
            self.assertEqual(code, 0)
            self.assertIn("total: 1 blocks, 50 series, 5000 samples", out)
            got = dump(d)
            self.assertEqual(len(got), 10000)
            self.check_all(got, 50, 100, 1_700_000_000_000)
            self.check_all(got, 50, 100, 1_700_000_200_000)

    def test_ready_is_503_during_wal_replay(self):
        with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as c:
            cfg = no_scrape_config(c)
            with Server(data_dir=d, config=cfg) as s:
                self.assertEqual(rwsend(s.api + "/api/v1/write", 1000, 2000, 100,
                                        1_700_000_000_000), (20, 0))
            s = Server(data_dir=d, config=cfg, wait_ready=False)
            try:
                s.wait_listening()
                seen, refused = [], 0
                deadline = time.time() + 120
                while time.time() < deadline:
                    code = http("GET", s.api + "/-/ready").status
                    seen.append(code)
                    if code == 200:
                        break
                    # While replaying, ingest is refused so that senders
                    # retry; a write accepted must mean replay just ended.
                    if code == 503:
                        r = http("POST", s.api + "/api/v1/write", body=b"",
                                 headers={"Content-Type": "application/x-protobuf"})
                        if r.status >= 500:
                            refused += 1
                        else:
                            self.assertEqual(r.status, 204)
                            self.assertEqual(http("GET", s.api + "/-/ready").status, 200)
                    time.sleep(0.005)
                self.assertGreater(refused, 0)
                self.assertEqual(seen[-1], 200)
                self.assertIn(503, seen)
                self.assertLess(seen.index(503), seen.index(200))
                s.wait_log(r'msg="?WAL replayed"? series=1000 samples=2000000')
            finally:
                self.assertEqual(s.stop(), 0)

    def test_acknowledged_samples_survive_kill_9(self):
        rnd = random.Random(int(os.environ.get("SCRY_CRASH_SEED", "7")))
        series, samples, batch = 20, 1000, 10
        acked = []
        with tempfile.TemporaryDirectory() as d:
            for i in range(20):
                start = 1_700_000_000_000 + i * 10_000_000
                s = Server(data_dir=d)  # waits for ready: the previous crash replayed
                url = s.api + "/api/v1/write"
                p = subprocess.Popen([RWSEND, url, str(series), str(samples), str(batch),
                                      str(start)], stdout=subprocess.PIPE, text=True)
                # Kill at a point measured in progress, not time (a loaded or
                # sanitized build is slow): after a random number of
                # acknowledged requests, plus a random sliver of the next.
                target, n = rnd.randint(1, samples // batch - 5), 0
                while n < target and p.stdout.readline().startswith("ack"):
                    n += 1
                time.sleep(rnd.uniform(0, 0.004))
                s.proc.send_signal(signal.SIGKILL)
                out, _ = p.communicate(timeout=60)
                s.stop()
                acked.append((start, n + len(re.findall(r"^ack \d+$", out, re.M))))
            got = dump(d)
        total = 0
        for start, k in acked:
            for key, v in expected(series, 0, k * batch, start):
                self.assertIn(key, got, f"acknowledged sample {key} lost")
                self.assertEqual(got[key], v)
                total += 1
        # Nothing stored may be corrupt: every sample is one rwsend sent.
        starts = [a for a, _ in acked]
        for (i, t), v in got.items():
            start = max(a for a in starts if a <= t)
            j = (t - start) // 1000
            self.assertEqual(v, i * 1e6 + j, f"sample {(i, t)} corrupt")
        self.assertGreater(total, 0)
        self.assertTrue(any(k < samples // batch for _, k in acked), "no kill hit mid-ingest")


if __name__ == "__main__":
    unittest.main()
