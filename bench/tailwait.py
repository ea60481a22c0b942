"""Shared by tailbench.py and agentlogsbench.py: wait until a tailer has
checkpointed a whole file."""
import sqlite3
import time


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
