"""File tailing through the real server: a `logs:` section pointing at a
temp dir, a writer appending numbered lines at a steady rate and rotating
the file (by rename, and by copytruncate), `kill -9` of the server at two
random points in between, restarts, and then `scry logs dump` of the data
dir: every line must be there exactly once. Also: new files matching the
glob, deleted files drained, excluded files, relabelling over __path__,
the max_line_bytes marker, UTF-8 repair, and a reload adding a glob."""
import os
import random
import re
import shutil
import sys
import signal
import tempfile
import time
import unittest

import harness
from harness import Server, run_cli, wait_for
from harness import tail_positions as positions

DUMP = re.compile(r'^(\d+) (\{[^}]*\}) (.*)$')


def dump(data_dir):
    """[(t_ns, labels, line)] from `scry logs dump`."""
    code, out, err = run_cli("logs", "dump", data_dir, timeout=120)
    if code != 0:
        raise AssertionError(f"scry logs dump failed ({code}): {err}")
    rows = []
    for line in out.splitlines():
        m = DUMP.match(line)
        if not m:
            raise AssertionError(f"unexpected dump line: {line!r}")
        rows.append((int(m.group(1)), m.group(2), m.group(3)))
    return rows


def metric(server, name):
    try:
        r = server.get("/metrics")
    except OSError:
        return 0.0
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", r.text(), re.M)
    return float(m.group(1)) if m else 0.0


def Writer(test, logs, n, per_file, mode, rate=1000):
    """harness.LogWriter on logs/app.log (the glob does not match app.log.K);
    before a copytruncate it waits, bounded, until scry has committed and
    checkpointed the whole file."""
    return harness.LogWriter(os.path.join(logs, "app.log"), n, per_file, mode, rate,
                             lambda st: test.wait_caught_up(st.st_dev, st.st_ino, st.st_size))


class TailTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="scry-tail-")
        self.logs = os.path.join(self.dir, "logs")
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.logs)
        self.server = None

    def tearDown(self):
        if self.server:
            self.server.stop(signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

    def config(self, body):
        path = os.path.join(self.dir, "scry.yml")
        with open(path, "w") as f:
            f.write(body.replace("LOGS", self.logs))
        return path

    def start(self, cfg, env=None):
        old = os.environ.copy()
        os.environ.update(env or {})
        try:
            self.server = Server(config=cfg, data_dir=self.data)
        finally:
            os.environ.clear()
            os.environ.update(old)
        return self.server

    def wait_caught_up(self, dev, ino, size, timeout=40):
        wait_for(lambda: positions(self.data).get((dev, ino), -1) >= size, timeout,
                 f"scry to checkpoint inode {ino} at {size}")

    # ---- rotation with kill -9 ------------------------------------------

    def rotation_with_kills(self, mode):
        cfg = self.config("logs:\n  - paths: [LOGS/*.log]\n    labels: {job: app}\n")
        # 10 s of writing, 5 rotations; a file lives 2 s, longer than a
        # restart takes, so no file is created and rotated away unseen.
        n, per_file = 10000, 2000
        # Each round sleeps 150 ms between the store's commit and the
        # checkpoint: most kills land in that window, where only the pinned
        # timestamps keep the re-read lines from being stored twice.
        env = {"SCRY_TAIL_CHECKPOINT_DELAY_MS": "150"}
        self.start(cfg, env)
        w = Writer(self, self.logs, n, per_file, mode)
        w.start()
        kills, replayed = 0, 0
        rng = random.Random(os.getpid())
        for _ in range(2):
            time.sleep(rng.uniform(1.5, 3.5))
            if not w.is_alive():
                break
            replayed += metric(self.server, "scry_tail_replayed_lines_total")
            self.server.stop(signal.SIGKILL)
            kills += 1
            self.start(cfg, env)
        w.join(60)
        self.assertIsNone(w.error)
        self.assertFalse(w.is_alive(), "writer did not finish")
        self.assertEqual(kills, 2, "the writer finished before the kills")
        self.assertGreaterEqual(w.rotations, 4)
        st = os.stat(w.path)
        self.wait_caught_up(st.st_dev, st.st_ino, st.st_size)
        # Rotated files still being drained have rows with off < size.
        def drained():
            by_ino = {(os.stat(p).st_dev, os.stat(p).st_ino): os.stat(p).st_size
                      for p in (os.path.join(self.logs, x) for x in os.listdir(self.logs))}
            return all(off >= by_ino.get(k, 0) for k, off in positions(self.data).items())
        wait_for(drained, 30, "rotated files drained")
        replayed += metric(self.server, "scry_tail_replayed_lines_total")
        # How often a kill landed between commit and checkpoint (random).
        print(f"\n{mode}: {w.rotations} rotations, {kills} kills, "
              f"{int(replayed)} lines re-read and refused by the store", file=sys.stderr)
        self.assertEqual(self.server.stop(), 0)
        self.server = None
        rows = dump(self.data)
        seen = {}
        last_t = {}
        for t, labels, line in rows:
            self.assertIn('filename="%s"' % os.path.join(self.logs, "app.log"), labels)
            self.assertGreater(t, last_t.get(labels, 0), "timestamps rise per stream")
            last_t[labels] = t
            m = re.match(r"line (\d{6}) the quick brown fox (\d+)$", line)
            self.assertIsNotNone(m, line)
            i = int(m.group(1))
            seen[i] = seen.get(i, 0) + 1
        missing = [i for i in range(n) if i not in seen]
        dup = [i for i, c in seen.items() if c != 1]
        self.assertEqual(missing, [], f"missing lines ({len(missing)})")
        self.assertEqual(dup, [], f"repeated lines ({len(dup)})")
        self.assertEqual(len(rows), n)

    def test_rename_rotation_with_kill_9_exactly_once(self):
        self.rotation_with_kills("rename")

    def test_copytruncate_with_kill_9_exactly_once(self):
        self.rotation_with_kills("copytruncate")

    # ---- globs, deletion, exclusion, relabelling, limits -----------------

    def test_new_deleted_excluded_files_and_line_limit(self):
        cfg = self.config(
            "logs:\n"
            "  - paths: [LOGS/*.log]\n"
            "    exclude: ['skip.log', 'LOGS/never*.log']\n"
            "    labels: {job: app}\n"
            "    max_line_bytes: 64B\n"
            "    relabel_configs:\n"
            "      - {source_labels: [__path__], regex: '.*/(.*)\\.log', target_label: app}\n")
        one = os.path.join(self.logs, "one.log")
        with open(one, "w") as f:
            f.write("one-1\none-2\n")
        s = self.start(cfg)
        wait_for(lambda: metric(s, "scry_tail_lines_total") >= 2, 20, "one.log read")
        # A new file matching the glob, an excluded one, a long line, bad UTF-8.
        with open(os.path.join(self.logs, "skip.log"), "w") as f:
            f.write("skipped\n")
        with open(os.path.join(self.logs, "two.log"), "wb") as f:
            f.write(b"x" * 200 + b"\n" + b"bad \xff\xfe utf8\r\n" + b"two-end\n")
        wait_for(lambda: metric(s, "scry_tail_lines_total") >= 5, 20, "two.log read")
        self.assertEqual(metric(s, "scry_tail_lines_truncated_total"), 1)
        # A reload adds a glob: its files are picked up without a restart.
        with open(cfg, "a") as f:
            f.write(f"  - paths: [{self.logs}/*.txt]\n    labels: {{app: txt}}\n")
        self.assertEqual(s.post("/-/reload").status, 200)
        with open(os.path.join(self.logs, "r.txt"), "w") as f:
            f.write("after-reload\n")
        wait_for(lambda: metric(s, "scry_tail_lines_total") >= 6, 20, "r.txt read after reload")
        # Deleted right after a last append: that line is still read.
        with open(one, "a") as f:
            f.write("one-3\n")
        ino = os.stat(one).st_ino
        os.unlink(one)
        s.wait_log(r'done with rotated file.*one\.log', timeout=30)
        self.assertNotIn(ino, [i for _, i in positions(self.data)])
        self.assertEqual(s.stop(), 0)
        self.server = None
        rows = dump(self.data)
        lines = {}
        for _, labels, line in rows:
            self.assertNotIn("__path__", labels)
            app = re.search(r'app="(\w+)"', labels).group(1)
            lines.setdefault(app, []).append(line)
        self.assertEqual(lines["one"], ["one-1", "one-2", "one-3"])
        self.assertEqual(lines["txt"], ["after-reload"])
        self.assertNotIn("skip", lines)
        two = lines["two"]
        self.assertEqual(len(two), 3)
        self.assertEqual(two[0], "x" * 64 + ' | {truncated="true"}')
        self.assertEqual(two[1], "bad \ufffd\ufffd utf8")
        self.assertEqual(two[2], "two-end")


if __name__ == "__main__":
    unittest.main()
