"""Shared by tailbench.py and agentlogsbench.py: the backlog they tail and
the wait until a tailer has checkpointed it."""
import os
import random
import sqlite3
import time


def write_backlog(path, n):
    """Writes n logfmt request lines (fixed seed: every run reads the same
    bytes) to path; returns its size in bytes."""
    r = random.Random(1)
    with open(path, "w") as f:
        for i in range(n):
            f.write('ts=2026-12-05T19:00:00Z level=info msg="request done" '
                    f'path=/api/v1/items/{i % 1000} status=200 dur_ms={r.randint(1, 900)} '
                    f'user=u{r.randint(0, 99999):06d}\n')
    return os.path.getsize(path)


def wait_tail_offset(catalog, size, t0, timeout=600):
    """Polls the tail_positions table of the catalog.db at `catalog` until
    the first file's checkpointed offset reaches `size`; exits when
    `timeout` seconds have passed since `t0`."""
    while True:
        try:
            db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
            rows = db.execute("SELECT off FROM tail_positions").fetchall()
            db.close()
            if rows and rows[0][0] >= size:
                return
        except sqlite3.Error:
            pass
        if time.time() - t0 > timeout:
            raise SystemExit("timed out")
        time.sleep(0.02)
