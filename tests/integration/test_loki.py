"""The Loki push API and the Loki metadata endpoints through the real
server: JSON, snappy protobuf (built here by hand) and gzip pushes, the
400s, then labels, values, series, index stats and volume answers, exact;
the same answers after a restart (the log store's WAL) and after POST
/flush (from a segment). OTLP logs on the OTLP listener land in the same
store with Loki's mapping."""
import gzip
import json
import time
import unittest
import urllib.parse

from wire import field, field_varint, snappy_literal
from harness import Server, http

NS = 1_000_000_000


def push_request(streams):
    """logproto.PushRequest: streams = [(label text, [(t_ns, line, {meta})])]."""
    body = b""
    for labels, entries in streams:
        s = field(1, labels.encode())
        for t, line, meta in entries:
            ts = field_varint(1, t // NS) + (field_varint(2, t % NS) if t % NS else b"")
            e = field(1, ts) + field(2, line.encode())
            for k, v in meta.items():
                e += field(3, field(1, k.encode()) + field(2, v.encode()))
            s += field(2, e)
        body += field(1, s)
    return body


def q(**params):
    return "?" + urllib.parse.urlencode(params, doseq=True)


class LokiTest(unittest.TestCase):
    def setUp(self):
        # Recent timestamps, so retention never touches them.
        self.t0 = (int(time.time()) - 600) * NS
        self.rng = dict(start=str(self.t0 - 60 * NS), end=str(self.t0 + 60 * NS))

    def push_json(self, s, doc, encoding=None):
        body = json.dumps(doc).encode()
        headers = {"Content-Type": "application/json"}
        if encoding == "gzip":
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return s.post("/loki/api/v1/push", body, headers=headers)

    def ingest(self, s):
        t = self.t0
        r = self.push_json(s, {"streams": [
            {"stream": {"job": "api", "env": "prod"},
             "values": [[str(t), "level=info msg=started"],
                        [str(t + 1 * NS), "level=warn msg=slow dur=250ms",
                         {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}]]},
            {"stream": {"job": "web", "env": "dev"},
             "values": [[str(t + 2 * NS), "GET /cart 200"]]}]})
        self.assertEqual(r.status, 204, r.body)
        self.assertEqual(r.body, b"")
        body = snappy_literal(push_request([
            ('{job="api", env="prod"}', [(t + 3 * NS, "level=error msg=boom", {"user": "bob"})]),
            ('{job="batch"}', [(t + 4 * NS, "done", {})])]))
        r = s.post("/loki/api/v1/push", body, headers={"Content-Type": "application/x-protobuf"})
        self.assertEqual(r.status, 204, r.body)
        r = self.push_json(s, {"streams": [{"stream": {"job": "web", "env": "dev"},
                                            "values": [[str(t + 5 * NS), "GET /cart 500"]]}]},
                           encoding="gzip")
        self.assertEqual(r.status, 204, r.body)

    def check_answers(self, s):
        rng = self.rng
        self.assertEqual(s.get("/loki/api/v1/labels" + q(**rng)).json(),
                         {"status": "success", "data": ["env", "job"]})
        self.assertEqual(s.get("/loki/api/v1/label/job/values" + q(**rng)).json(),
                         {"status": "success", "data": ["api", "batch", "web"]})
        self.assertEqual(s.get("/loki/api/v1/label/job/values" + q(query='{env="dev"}', **rng)).json(),
                         {"status": "success", "data": ["web"]})
        self.assertEqual(s.get("/loki/api/v1/labels" + q(query='{job="batch"}', **rng)).json(),
                         {"status": "success", "data": ["job"]})
        self.assertEqual(
            s.get("/loki/api/v1/series" + q(**{"match[]": ['{job="api"}', '{env="dev"}']}, **rng)).json(),
            {"status": "success", "data": [{"env": "dev", "job": "web"},
                                           {"env": "prod", "job": "api"}]})
        self.assertEqual(s.get("/loki/api/v1/series" + q(**{"match[]": '{job="nope"}'}, **rng)).json(),
                         {"status": "success", "data": []})
        # bytes: line plus structured metadata name and value bytes
        api_bytes = len("level=info msg=started") + len("level=warn msg=slow dur=250ms") + \
            len("trace_id") + 32 + len("level=error msg=boom") + len("user") + len("bob")
        web_bytes = len("GET /cart 200") + len("GET /cart 500")
        r = s.get("/loki/api/v1/index/stats" + q(query='{job=~"api|web"}', **rng))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"streams": 2, "chunks": 2, "entries": 5,
                                    "bytes": api_bytes + web_bytes})
        end_s = int(rng["end"]) // NS
        self.assertEqual(
            s.get("/loki/api/v1/index/volume" + q(query='{job=~".+"}', **rng)).json(),
            {"status": "success", "data": {"resultType": "vector", "result": [
                {"metric": {"job": "api"}, "value": [end_s, str(api_bytes)]},
                {"metric": {"job": "web"}, "value": [end_s, str(web_bytes)]},
                {"metric": {"job": "batch"}, "value": [end_s, "4"]}]}})
        self.assertEqual(
            s.get("/loki/api/v1/index/volume" + q(query='{job=~".+"}', targetLabels="env", limit="1",
                                                  **rng)).json()["data"]["result"],
            [{"metric": {"env": "prod"}, "value": [end_s, str(api_bytes)]}])
        # volume_range: 60 s steps from start; the point at T sums (T-60s, T]
        r = s.get("/loki/api/v1/index/volume_range" + q(query='{job="web"}', step="60s", **rng)).json()
        start_s = int(rng["start"]) // NS
        self.assertEqual(r, {"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"job": "web"}, "values": [[start_s + 120, str(web_bytes)]]}]}})
        r = s.get("/loki/api/v1/detected_fields" + q(query='{job="api"}', **rng)).json()
        self.assertEqual(r, {"fields": [
            {"label": "dur", "type": "duration", "cardinality": 1, "parsers": ["logfmt"]},
            {"label": "level", "type": "string", "cardinality": 3, "parsers": ["logfmt"]},
            {"label": "msg", "type": "string", "cardinality": 3, "parsers": ["logfmt"]},
            {"label": "trace_id", "type": "string", "cardinality": 1, "parsers": None},
            {"label": "user", "type": "string", "cardinality": 1, "parsers": None}],
            "limit": 1000})
        r = s.get("/loki/api/v1/detected_field/level/values" + q(query='{job="api"}', **rng)).json()
        self.assertEqual(r, {"values": ["error", "info", "warn"], "limit": 1000})
        self.assertEqual(s.get("/loki/api/v1/patterns" + q(query='{job="api"}', **rng)).json(),
                         {"status": "success", "data": []})

    def test_push_metadata_restart_flush(self):
        s = Server()
        data_dir = s.data_dir
        s.own_dir = False
        try:
            self.ingest(s)
            self.check_answers(s)
            # the 4xx answers
            r = self.push_json(s, {"streams": [{"stream": {"job": "api"},
                                                "values": [[1732440059123456789, "x"]]}]})
            self.assertEqual(r.status, 400)
            self.assertEqual(r.text(), "loki push json: streams[0].values[0][0]: timestamp must be "
                                       "a string of nanoseconds since the epoch, got a number\n")
            r = self.push_json(s, {"streams": [{"stream": {"job": "batch"}, "values": [
                [str(self.t0), "too old"], [str(self.t0 + 9 * NS), "later"]]}]})
            self.assertEqual(r.status, 400)
            self.assertIn("1 of 2 entries rejected (1 written); first: stream 0 entry 0", r.text())
            self.assertIn("entry out of order", r.text())
            r = self.push_json(s, {"streams": [{"stream": {"job": "x", "0bad": "y"},
                                                "values": [[str(self.t0), "x"]]}]})
            self.assertEqual(r.status, 400)
            self.assertIn("invalid label name '0bad'", r.text())
            r = s.post("/loki/api/v1/push", b"\x00garbage", headers={"Content-Type": "application/x-protobuf"})
            self.assertEqual(r.status, 400)
            r = s.post("/loki/api/v1/push", b"{}", headers={"Content-Type": "application/json",
                                                             "Content-Encoding": "br"})
            self.assertEqual((r.status, r.text()), (400, 'Content-Encoding "br" not supported\n'))
            # the "later" entry of the partial write was kept
            self.assertEqual(s.get("/loki/api/v1/index/stats" + q(query='{job="batch"}', **self.rng)).json(),
                             {"streams": 1, "chunks": 1, "entries": 2, "bytes": len("done") + len("later")})
            s.stop()
            # restart: the head comes back from the WAL
            s = Server(data_dir=data_dir)
            s.own_dir = False
            self.assertEqual(s.get("/loki/api/v1/index/stats" + q(query='{job="batch"}', **self.rng)).json()["entries"], 2)
            self.check_answers_minus_later(s)
            # flush: the same answers from a segment
            r = s.post("/flush")
            self.assertEqual(r.status, 204, r.body)
            self.check_answers_minus_later(s)
        finally:
            s.own_dir = True
            s.stop()

    def check_answers_minus_later(self, s):
        """check_answers, with the batch stream's extra entry accounted for."""
        rng = self.rng
        self.assertEqual(s.get("/loki/api/v1/label/job/values" + q(**rng)).json(),
                         {"status": "success", "data": ["api", "batch", "web"]})
        r = s.get("/loki/api/v1/index/stats" + q(query='{job=~"api|web"}', **rng)).json()
        self.assertEqual((r["streams"], r["entries"]), (2, 5))
        self.assertEqual(
            s.get("/loki/api/v1/series" + q(**{"match[]": ['{job="api"}', '{env="dev"}']}, **rng)).json(),
            {"status": "success", "data": [{"env": "dev", "job": "web"},
                                           {"env": "prod", "job": "api"}]})
        r = s.get("/loki/api/v1/detected_field/level/values" + q(query='{job="api"}', **rng)).json()
        self.assertEqual(r, {"values": ["error", "info", "warn"], "limit": 1000})
        r = s.get("/loki/api/v1/detected_fields" + q(query='{job="api"}', **rng)).json()
        self.assertIn({"label": "trace_id", "type": "string", "cardinality": 1, "parsers": None},
                      r["fields"])

    def test_otlp_logs_into_the_log_store(self):
        with Server() as s:
            t = self.t0
            doc = {"resourceLogs": [{
                "resource": {"attributes": [
                    {"key": "service.name", "value": {"stringValue": "checkout"}},
                    {"key": "host.name", "value": {"stringValue": "h1"}}]},
                "scopeLogs": [{"scope": {"name": "lib"}, "logRecords": [
                    {"timeUnixNano": str(t), "severityText": "INFO",
                     "traceId": "5b8efff798038103d269b633813fc60c",
                     "body": {"stringValue": "order placed"},
                     "attributes": [{"key": "order.id", "value": {"intValue": 7}}]}]}]}]}
            r = http("POST", s.otlp + "/v1/logs", body=json.dumps(doc).encode(),
                     headers={"Content-Type": "application/json"})
            self.assertEqual((r.status, r.body), (200, b"{}"))
            self.assertEqual(
                s.get("/loki/api/v1/series" + q(**{"match[]": '{service_name=~".+"}'}, **self.rng)).json(),
                {"status": "success", "data": [{"service_name": "checkout"}]})
            r = s.get("/loki/api/v1/detected_fields" + q(query='{service_name="checkout"}', **self.rng)).json()
            self.assertEqual([f["label"] for f in r["fields"]],
                             ["host_name", "order_id", "scope_name", "severity_text", "trace_id"])
            # the API listener serves /v1/logs too
            doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"] = str(t + NS)
            r = http("POST", s.api + "/v1/logs", body=json.dumps(doc).encode(),
                     headers={"Content-Type": "application/json"})
            self.assertEqual(r.status, 200)
            r = s.get("/loki/api/v1/index/stats" + q(query='{service_name="checkout"}', **self.rng)).json()
            self.assertEqual(r["entries"], 2)


if __name__ == "__main__":
    unittest.main()
