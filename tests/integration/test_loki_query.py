"""LogQL through the real server, as Grafana's Loki datasource uses it: logs
pushed with POST /loki/api/v1/push (JSON), then the health check, log
queries (limit, direction, filters, parsers), the categorize-labels
encoding with structured metadata, metric queries, Loki's plain-text 400s,
and the same answers after the head is flushed into a segment (where the
token index prunes chunks for `|=` filters).

Needs the Loki push endpoint: on a build without it the tests are skipped
with that reason."""
import json
import unittest
import urllib.parse

from harness import Server

T0 = 1732440000  # seconds
NS = 1_000_000_000


def q(path, **params):
    return path + "?" + urllib.parse.urlencode(params)


class LokiQueryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()
        streams = []
        for app in ("api", "web"):
            values = []
            for i in range(60):
                status = 500 if i % 10 == 0 else 200
                line = f"level={'error' if status == 500 else 'info'} app={app} status={status} took={i}ms"
                if i == 42:
                    line += " needle-in-haystack"
                entry = [str((T0 + i) * NS), line]
                if i % 2 == 0:
                    entry.append({"trace_id": f"t{i}"})
                values.append(entry)
            streams.append({"stream": {"job": app, "env": "prod"}, "values": values})
        body = json.dumps({"streams": streams}).encode()
        r = cls.srv.post("/loki/api/v1/push", body, headers={"Content-Type": "application/json"})
        if r.status == 404:
            cls.srv.stop()
            raise unittest.SkipTest("this build has no Loki push endpoint (POST /loki/api/v1/push)")
        assert r.status == 204, (r.status, r.body)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def get(self, path, headers=None, status=200):
        r = self.srv.get(path, headers=headers)
        self.assertEqual(r.status, status, r.body)
        return r.json() if status == 200 else r.text()

    def range(self, query, **kw):
        params = dict(query=query, start=str(T0 * NS), end=str((T0 + 60) * NS), step="15000ms",
                      direction="backward", limit="1000")
        params.update(kw)
        return self.get(q("/loki/api/v1/query_range", **params))["data"]

    def test_health_check(self):
        d = self.get(q("/loki/api/v1/query", query="vector(1)+vector(1)", time="4000000000",
                       direction="backward"))
        self.assertEqual(d["data"]["resultType"], "vector")
        self.assertEqual(d["data"]["result"], [{"metric": {}, "value": [4000000000, "2"]}])

    def check_logs(self):
        d = self.range('{job="api"} |= "needle"')
        self.assertEqual(d["resultType"], "streams")
        self.assertEqual(len(d["result"]), 1)
        self.assertEqual(d["result"][0]["values"],
                         [[str((T0 + 42) * NS), "level=info app=api status=200 took=42ms needle-in-haystack"]])
        # limit across streams, newest first; metadata folded into stream labels
        d = self.range('{env="prod"} | logfmt | status="500"', limit="3")
        got = sorted((v[0], s["stream"]["job"]) for s in d["result"] for v in s["values"])
        self.assertEqual(sorted(t for t, _ in got),
                         [str((T0 + 40) * NS), str((T0 + 50) * NS), str((T0 + 50) * NS)])
        for s in d["result"]:
            self.assertEqual(s["stream"]["status"], "500")
            self.assertIn("trace_id", s["stream"])
        # metric: Grafana's volume query shape, and a logfmt aggregation
        d = self.range('sum by (status) (count_over_time({env="prod"} | logfmt | drop __error__ [1m]))',
                       start=str((T0 + 60) * NS), end=str((T0 + 60) * NS))
        self.assertEqual(d["resultType"], "matrix")
        got = {s["metric"]["status"]: s["values"] for s in d["result"]}
        # window (T0, T0+60]: i = 1..59 of each app; status 500 at i = 10, 20, ..., 50
        self.assertEqual(got, {"200": [[T0 + 60, "108"]], "500": [[T0 + 60, "10"]]})
        # Grafana's logs volume query: detected_level from the logfmt `level=`
        d = self.range('sum by (level, detected_level) (count_over_time({env="prod"} | drop __error__[1m]))',
                       start=str((T0 + 60) * NS), end=str((T0 + 60) * NS))
        got = {json.dumps(s["metric"], sort_keys=True): s["values"] for s in d["result"]}
        self.assertEqual(got, {'{"detected_level": "error"}': [[T0 + 60, "10"]],
                               '{"detected_level": "info"}': [[T0 + 60, "108"]]})
        # a filter on it, returned with the entry as Loki 3 does
        d = self.range('{job="api"} | detected_level="error"', limit="2")
        got = sorted((v[0], s["stream"]["detected_level"]) for s in d["result"] for v in s["values"])
        self.assertEqual(got, [(str((T0 + 40) * NS), "error"), (str((T0 + 50) * NS), "error")])

    def test_logs_and_metrics_head_then_segment(self):
        self.check_logs()
        r = self.srv.post("/flush")
        self.assertIn(r.status, (200, 204), r.body)
        self.check_logs()

    def test_categorize_labels(self):
        r = self.srv.get(q("/loki/api/v1/query_range", query='{job="web"} | logfmt | drop app, took',
                           start=str(T0 * NS), end=str((T0 + 2) * NS), limit="10"),
                         headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"})
        self.assertEqual(r.status, 200, r.body)
        text = r.text()
        self.assertLess(text.index('"encodingFlags"'), text.index('"result"'))
        d = r.json()["data"]
        self.assertEqual(d["encodingFlags"], ["categorize-labels"])
        self.assertEqual(d["result"], [{
            "stream": {"env": "prod", "job": "web"},
            "values": [
                [str((T0 + 1) * NS), "level=info app=web status=200 took=1ms",
                 {"parsed": {"level": "info", "status": "200"}}],
                [str(T0 * NS), "level=error app=web status=500 took=0ms",
                 {"structuredMetadata": {"trace_id": "t0"}, "parsed": {"level": "error", "status": "500"}}],
            ]}])

    def test_errors_are_plain_text(self):
        msg = self.get(q("/loki/api/v1/query", query='{job="api"}', time=str(T0 + 60)), status=400)
        self.assertEqual(msg, "log queries are not supported as an instant query type, please "
                              "change your query to a range query type\n")
        msg = self.get(q("/loki/api/v1/query_range", query="sum(foo"), status=400)
        self.assertEqual(msg, "parse error at line 1, col 5: syntax error: unexpected IDENTIFIER\n")
        msg = self.get(q("/loki/api/v1/query_range", query="vector(1)", start="0", end="11001",
                         step="1"), status=400)
        self.assertIn("exceeded maximum resolution of 11,000 points", msg)


if __name__ == "__main__":
    unittest.main()
