"""delete_series and clean_tombstones through the real server: remote_write
in (part flushed to a block, part left in the head), delete a set of series
and a time range of others, check queries no longer see them, restart (WAL
replay and the block's tombstones file), check again, then flush and
clean_tombstones: the blocks shrink on disk and everything not deleted is
still there, value for value (`scry tsdb dump`)."""
import os
import tempfile
import unittest
import urllib.parse

from harness import Server, http, run_cli
from test_tsdb import dump, expected, no_scrape_config, rwsend

T0 = 1_700_000_000_000  # rwsend: series i, sample j at T0 + j*1000, value i*1e6 + j
N_SERIES, N_BLOCK, N_HEAD = 30, 200, 100
T_HEAD = T0 + 300_000


def blocks_bytes(data_dir):
    total = 0
    for root, _, files in os.walk(os.path.join(data_dir, "tsdb", "blocks")):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def deleted(i, t):
    """What the test deletes: series 1 and 10..19 entirely, series 5 from
    T0+50s to T0+99s, series 7 from T0+150s to T_HEAD+49s (block and head)."""
    if i == 1 or 10 <= i <= 19:
        return True
    if i == 5 and T0 + 50_000 <= t <= T0 + 99_000:
        return True
    return i == 7 and T0 + 150_000 <= t <= T_HEAD + 49_000


def want_all():
    want = {}
    for key, v in list(expected(N_SERIES, 0, N_BLOCK, T0)) + list(
            expected(N_SERIES, 0, N_HEAD, T_HEAD)):
        if not deleted(*key):
            want[key] = v
    return want


class TsdbDeleteTest(unittest.TestCase):
    def count_over_time(self, s, series, at_ms, window_s):
        q = urllib.parse.urlencode({
            "query": f'count_over_time(crash_test{{series="{series}"}}[{window_s}s])',
            "time": f"{at_ms / 1000:.3f}"})
        r = s.get("/api/v1/query?" + q)
        self.assertEqual(r.status, 200, r.text())
        res = r.json()["data"]["result"]
        return int(float(res[0]["value"][1])) if res else 0

    def series_present(self, s):
        q = urllib.parse.urlencode({"match[]": "crash_test", "start": str(T0 // 1000 - 10),
                                    "end": str(T_HEAD // 1000 + 1000)})
        r = s.get("/api/v1/series?" + q)
        self.assertEqual(r.status, 200, r.text())
        return sorted(int(x["series"]) for x in r.json()["data"])

    def check_queries(self, s):
        alive = [i for i in range(N_SERIES) if not (i == 1 or 10 <= i <= 19)]
        self.assertEqual(self.series_present(s), alive)
        # Window (T0+0.5s-1000s, T0+199.5s]: the block part of each series.
        at = T0 + 199_500
        self.assertEqual(self.count_over_time(s, 0, at, 1000), N_BLOCK)
        self.assertEqual(self.count_over_time(s, 5, at, 1000), N_BLOCK - 50)
        self.assertEqual(self.count_over_time(s, 7, at, 1000), 150)
        self.assertEqual(self.count_over_time(s, 12, at, 1000), 0)
        # The head part.
        at = T_HEAD + 99_500
        self.assertEqual(self.count_over_time(s, 7, at, 100), N_HEAD - 50)
        self.assertEqual(self.count_over_time(s, 3, at, 100), N_HEAD)

    def test_delete_series_restart_clean_tombstones(self):
        with tempfile.TemporaryDirectory() as d, tempfile.TemporaryDirectory() as c:
            cfg = no_scrape_config(c)
            with Server(data_dir=d, config=cfg) as s:
                url = s.api + "/api/v1/write"
                self.assertEqual(rwsend(url, N_SERIES, N_BLOCK, 50, T0), (4, 0))
                self.assertEqual(s.post("/api/v1/admin/tsdb/flush").status, 204)
                self.assertEqual(rwsend(url, N_SERIES, N_HEAD, 50, T_HEAD), (2, 0))

                # Bad requests: Prometheus's messages, nothing deleted.
                r = s.post_form("/api/v1/admin/tsdb/delete_series", {})
                self.assertEqual((r.status, r.json()["errorType"], r.json()["error"]),
                                 (400, "bad_data", "no match[] parameter provided"))
                r = s.post_form("/api/v1/admin/tsdb/delete_series",
                                {"match[]": ["crash_test", "rate(crash_test[5m])"]})
                self.assertEqual((r.status, r.json()["errorType"]), (400, "bad_data"))
                self.assertTrue(r.json()["error"].startswith('invalid parameter "match[]": '),
                                r.json()["error"])
                r = s.post_form("/api/v1/admin/tsdb/delete_series",
                                {"match[]": '{series=~".*"}'})
                self.assertEqual(r.status, 400)
                self.assertIn("at least one non-empty matcher", r.json()["error"])
                r = s.post_form("/api/v1/admin/tsdb/delete_series",
                                {"match[]": "crash_test", "start": "yesterday"})
                self.assertEqual((r.status, r.json()["error"]), (400,
                                 'invalid parameter "start": cannot parse "yesterday" to a '
                                 'valid timestamp'))
                self.assertEqual(len(self.series_present(s)), N_SERIES)

                # Deletes: two selectors at once (all time), a range given as
                # unix seconds, one as RFC 3339 crossing block and head (PUT).
                r = s.post_form("/api/v1/admin/tsdb/delete_series",
                                {"match[]": ['crash_test{series="1"}',
                                             'crash_test{series=~"1."}']})
                self.assertEqual(r.status, 204, r.text())
                r = s.post_form("/api/v1/admin/tsdb/delete_series",
                                {"match[]": 'crash_test{series="5"}',
                                 "start": str((T0 + 50_000) // 1000),
                                 "end": str((T0 + 99_000) // 1000)})
                self.assertEqual(r.status, 204, r.text())
                q = urllib.parse.urlencode({"match[]": 'crash_test{series="7"}',
                                            "start": "2023-11-14T22:15:50Z",  # T0 + 150 s
                                            "end": "2023-11-14T22:19:09Z"})   # T_HEAD + 49 s
                r = http("PUT", s.api + "/api/v1/admin/tsdb/delete_series?" + q)
                self.assertEqual(r.status, 204, r.text())
                self.check_queries(s)

            # Restart: the head's deletions come back from the WAL, the
            # block's from its tombstones file.
            with Server(data_dir=d, config=cfg) as s:
                self.check_queries(s)
            self.assertEqual(dump(d), want_all())
            code, out, _ = run_cli("tsdb", "inspect", d)
            self.assertEqual(code, 0)
            # series 1, 10..19, 5 and 7 of the block have one range each
            self.assertIn("tombstones: 1 blocks, 13 series, 13 deleted ranges", out)
            self.assertRegex(out, r"\n\w{26} .* 13/13\n")

            with Server(data_dir=d, config=cfg) as s:
                self.assertEqual(s.post("/api/v1/admin/tsdb/flush").status, 204)
                s.wait_log(r'msg="?head cut into a block"?')
                before = blocks_bytes(d)
                self.assertEqual(s.post("/api/v1/admin/tsdb/clean_tombstones").status, 204)
                s.wait_log(r'msg="?tombstones cleaned"? blocks=1')
                after = blocks_bytes(d)
                # rwsend's values cost almost nothing per sample, so the
                # saving is mostly the 11 series' index and chunk headers.
                self.assertLess(after, before, (before, after))
                self.check_queries(s)
            code, out, _ = run_cli("tsdb", "inspect", d)
            self.assertEqual(code, 0)
            n_want = len(want_all())
            self.assertRegex(out, rf"total: 2 blocks, \d+ series, {n_want} samples")
            self.assertNotIn("tombstones:", out)
            self.assertEqual(dump(d), want_all())
            for root, _, files in os.walk(os.path.join(d, "tsdb", "blocks")):
                self.assertNotIn("tombstones", files)


if __name__ == "__main__":
    unittest.main()
