"""GET /api/v1/status/tsdb against Debian's Prometheus (2.42): both get the
same series by remote_write (built here by hand, the same bytes to each),
then the two answers must agree: the same keys in the same order, the same
headStats (numSeries, numLabelPairs, chunkCount, minTime, maxTime) and the
same top-10 lists, names and values. Among equal values Prometheus's order
(Go map order) is unspecified, so tied names are compared as sets; scry's
?limit=11 shows whether the 10th value is tied with a cut 11th, and only
then is the last group compared by size. query/README.md "Status endpoints"
lists what may differ (not reached here: head minTime after a truncation)."""
import os
import tempfile
import time
import unittest

from wire import field, snappy_literal, varint
import promdiff
from harness import Server, http

LISTS = ["seriesCountByMetricName", "labelValueCountByLabelName",
         "memoryInBytesByLabelName", "seriesCountByLabelValuePair"]


def write_request(series):
    """prometheus.WriteRequest: series = [(sorted label pairs, [(t_ms, v)])]."""
    import struct
    body = b""
    for labels, samples in series:
        ts = b"".join(field(1, field(1, n.encode()) + field(2, v.encode())) for n, v in labels)
        for t, v in samples:
            ts += field(2, b"\x09" + struct.pack("<d", v) + b"\x10" + varint(t))
        body += field(1, ts)
    return snappy_literal(body)


def dataset(t0):
    """Metric mK (K = 1..12) has K+1 series told apart by label lK, whose
    values have distinct lengths; job is on every series; one value needs
    escaping and is not ASCII (memoryInBytes counts bytes). Three samples
    per series, 15 s apart."""
    series = []
    for k in range(1, 13):
        for i in range(k + 1):
            v = "a" * (i + 1) if (k, i) != (12, 0) else 'caf\u00e9 "q"'
            labels = sorted([("__name__", "m%02d" % k), ("job", "j"), ("l%02d" % k, v)])
            series.append((labels, [(t0 + j * 15000, float(k * 100 + i + j)) for j in range(3)]))
    return series


class StatusTSDBTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        assert os.access(promdiff.PROMETHEUS, os.X_OK), f"needs {promdiff.PROMETHEUS} (scripts/deps.sh installs it)"
        cls.tmp = tempfile.TemporaryDirectory(prefix="scry-status-tsdb-")
        cls.scry = cls.prom = None
        try:
            d = cls.tmp.name
            cfg = os.path.join(d, "cfg.yml")
            with open(cfg, "w") as f:
                f.write("global:\n  scrape_interval: 15s\n")   # no scrape jobs: only what we write
            cls.scry = Server(config=cfg)
            cls.prom = promdiff.Prometheus(d, [], None, ["--web.enable-remote-write-receiver"])
            cls.prom.wait_ready()
            cls.prom_url = cls.prom.url
            cls.t0 = (int(time.time()) - 120) * 1000 + 123
            body = write_request(dataset(cls.t0))
            hdr = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                   "X-Prometheus-Remote-Write-Version": "0.1.0"}
            for base in (cls.prom_url, cls.scry.api):
                r = http("POST", base + "/api/v1/write", body=body, headers=hdr)
                assert r.status in (200, 204), f"{base}: {r.status} {r.text()}"
            # Prometheus caches these statistics for 30 s: ask once, after the write.
            cls.p = http("GET", cls.prom_url + "/api/v1/status/tsdb").json()
            cls.s = cls.scry.get("/api/v1/status/tsdb").json()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        rc = 0
        if cls.prom:
            cls.prom.stop()
        if cls.scry:
            rc = cls.scry.stop()
        cls.tmp.cleanup()
        assert rc == 0, f"scry exited with {rc}"

    def test_same_keys_in_same_order(self):
        self.assertEqual(self.p["status"], "success")
        self.assertEqual(list(self.s), list(self.p))
        self.assertEqual(list(self.s["data"]), list(self.p["data"]))
        self.assertEqual(list(self.s["data"]["headStats"]), list(self.p["data"]["headStats"]))
        for k in LISTS:
            for e in self.s["data"][k]:
                self.assertEqual(list(e), ["name", "value"])

    def test_head_stats_match(self):
        p, s = self.p["data"]["headStats"], self.s["data"]["headStats"]
        n = sum(k + 1 for k in range(1, 13))
        self.assertEqual(s["numSeries"], n)
        self.assertEqual(s["numLabelPairs"], 12 + 1 + n)   # __name__ values, job=j, lK values
        # Three samples per series: one chunk each in both (a chunk-range
        # boundary inside the 30 s would cut a second one in both).
        for key in ("numSeries", "numLabelPairs", "chunkCount", "minTime", "maxTime"):
            self.assertEqual(s[key], p[key], key)
            self.assertIsInstance(s[key], int)
        self.assertEqual(s["minTime"], self.t0)
        self.assertEqual(s["maxTime"], self.t0 + 30000)

    def test_top_lists_match(self):
        wide = self.scry.get("/api/v1/status/tsdb?limit=11").json()["data"]
        for k in LISTS:
            p, s = self.p["data"][k], self.s["data"][k]
            self.assertEqual(len(p), 10, k)
            self.assertEqual([e["value"] for e in s], [e["value"] for e in p], k)
            # The 10th value is cut from an equal 11th only if wide says so.
            cut_tie = len(wide[k]) == 11 and wide[k][10]["value"] == wide[k][9]["value"]
            self.assertEqual(wide[k][:10], s, k)
            for v in {e["value"] for e in p}:
                pn = {e["name"] for e in p if e["value"] == v}
                sn = {e["name"] for e in s if e["value"] == v}
                if cut_tie and v == p[-1]["value"]:
                    self.assertEqual(len(sn), len(pn), (k, v))
                else:
                    self.assertEqual(sn, pn, (k, v))
        # This data set has no tie at any cut, so every name was compared.
        self.assertFalse(any(len(wide[k]) == 11 and wide[k][10]["value"] == wide[k][9]["value"]
                             for k in LISTS))

    def test_memory_is_bytes_of_values(self):
        mem = {e["name"]: e["value"] for e in self.s["data"]["memoryInBytesByLabelName"]}
        self.assertEqual(mem["l12"], sum(range(2, 14)) + len('caf\u00e9 "q"'.encode()))
        self.assertEqual(mem["l11"], sum(range(1, 13)))

    def test_limit_parameter(self):
        r = self.scry.get("/api/v1/status/tsdb?limit=3").json()["data"]
        for k in LISTS:
            self.assertEqual(r[k], self.s["data"][k][:3], k)
        for bad, msg in (("0", "limit must be a positive number"),
                         ("x", "limit must be a positive number"),
                         ("10001", "limit must not exceed 10000")):
            r = self.scry.get("/api/v1/status/tsdb?limit=" + bad)
            self.assertEqual(r.status, 400)
            self.assertEqual(r.json(), {"status": "error", "errorType": "bad_data", "error": msg})


if __name__ == "__main__":
    unittest.main()
