"""A real OpenTelemetry client against scry's OTLP/HTTP receiver: metrics,
and logs into the log store (test_otel_js_logs_into_scry_server).

The OpenTelemetry JS SDK (@opentelemetry/sdk-metrics with the OTLP protobuf
and JSON exporters, versions pinned in otel-js/package-lock.json) sends a
counter, an observable gauge and a histogram with known values
(otel-js/send.js). The receiver is tests/tools/otlp_capture: the real
core/http server with col_otlp_register and a store that prints every
committed sample (the tsdb is not linked here). The printed series must be
exactly the expected ones, for both exporters.

node and npm are required: without them the test fails and says so (CI
installs nodejs and npm from Debian, scripts/deps.sh). `npm ci` runs once
into $SCRY_BUILD_DIR/otel-js (node_modules cached there, refreshed when the
lock file changes); it needs the npm registry the first time."""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import unittest

SRC = os.environ.get("SCRY_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
CAPTURE = os.environ.get("SCRY_OTLP_CAPTURE", "otlp_capture")
WORK = os.path.join(os.environ.get("SCRY_BUILD_DIR", "/tmp"), "otel-js")
JS_SRC = os.path.join(SRC, "tests", "integration", "otel-js")


def prepare_node():
    """Copies otel-js/ into the build dir and runs npm ci when the lock changed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise AssertionError(
            "test_otlp_js needs node and npm on PATH (Debian: apt-get install nodejs npm; "
            "scripts/deps.sh installs them); found node=%s npm=%s" % (node, npm))
    os.makedirs(WORK, exist_ok=True)
    for f in ("package.json", "package-lock.json", "send.js", "send_logs.js"):
        shutil.copyfile(os.path.join(JS_SRC, f), os.path.join(WORK, f))
    with open(os.path.join(JS_SRC, "package-lock.json"), "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    stamp = os.path.join(WORK, "node_modules", ".scry-lock-sha256")
    have = open(stamp).read().strip() if os.path.exists(stamp) else ""
    if have != want:
        p = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WORK,
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            raise AssertionError("npm ci failed in %s:\n%s\n%s" % (WORK, p.stdout, p.stderr))
        with open(stamp, "w") as f:
            f.write(want + "\n")
    return node


def expected(instance):
    ident = 'instance="%s", job="scry/otel-js-test"' % instance
    scope = 'otel_scope_name="scry-test", otel_scope_version="1.0.0"'
    lat = "test_latency_milliseconds"
    out = [
        'test_requests_total{%s, %s, route="/a"} 4' % (ident, scope),
        'test_requests_total{%s, %s, route="/b"} 4' % (ident, scope),
        'test_temperature_celsius{%s, %s, room="lab"} 21.5' % (ident, scope),
    ]
    for le, n in (("10", 1), ("100", 2), ("1000", 3), ("+Inf", 4)):
        out.append('%s_bucket{%s, le="%s", method="GET", %s} %d' % (lat, ident, le, scope, n))
    out += [
        '%s_sum{%s, method="GET", %s} 5555' % (lat, ident, scope),
        '%s_count{%s, method="GET", %s} 4' % (lat, ident, scope),
        'target_info{deployment_environment_name="test", %s} 1' % ident,
    ]
    return out


class OtelJsTest(unittest.TestCase):
    def test_otel_js_sdk_proto_and_json_exporters(self):
        node = prepare_node()
        cap = subprocess.Popen([CAPTURE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        try:
            first = cap.stdout.readline()
            m = re.match(r"listening (\d+)$", first.strip())
            self.assertTrue(m, "otlp_capture said %r" % first)
            url = "http://127.0.0.1:%s" % m.group(1)
            p = subprocess.run([node, "send.js", url], cwd=WORK, capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(p.returncode, 0, "send.js failed:\n%s\n%s" % (p.stdout, p.stderr))
        finally:
            out, err = cap.communicate(timeout=30)  # closes stdin: the capture exits
        self.assertEqual(cap.returncode, 0, err)
        lines = out.splitlines()
        # Each exporter sends twice (forceFlush, shutdown): the same series,
        # same values, each at one timestamp per request.
        by_request = {}
        for ln in lines:
            m = re.match(r"^(.*) @(\d+)$", ln)
            self.assertTrue(m, "bad line %r" % ln)
            by_request.setdefault(int(m.group(2)), []).append(m.group(1))
        got = {}
        for t, series in by_request.items():
            inst = re.search(r'instance="(\w+)"', series[0]).group(1)
            got.setdefault(inst, []).append(series)
        self.assertEqual(sorted(got), ["json", "proto"], out)
        for inst in ("proto", "json"):
            self.assertGreaterEqual(len(got[inst]), 2, "%s: %s" % (inst, out))
            for series in got[inst]:
                self.assertEqual(series, expected(inst), "exporter %s:\n%s" % (inst, out))


    def test_otel_js_sdk_into_scry_server(self):
        """The same client against the real server's OTLP listener; what is
        stored (scry tsdb dump) is exactly the expected series."""
        import tempfile
        from harness import Server, run_cli
        node = prepare_node()
        with tempfile.TemporaryDirectory() as d:
            with Server(data_dir=d) as s:
                p = subprocess.run([node, "send.js", s.otlp], cwd=WORK, capture_output=True,
                                   text=True, timeout=120)
                self.assertEqual(p.returncode, 0, "send.js failed:\n%s\n%s" % (p.stdout, p.stderr))
            code, out, err = run_cli("tsdb", "dump", d, timeout=60)
        self.assertEqual(code, 0, err)
        latest = {}
        for ln in out.splitlines():
            m = re.match(r"^(.*) (\S+) (\d+)$", ln)
            self.assertTrue(m, "bad dump line %r" % ln)
            latest[m.group(1)] = (int(m.group(3)), m.group(2))
        for inst in ("proto", "json"):
            got = sorted("%s %s" % (k, v[1]) for k, v in latest.items()
                         if 'instance="%s"' % inst in k)
            self.assertEqual(got, sorted(expected(inst)), out)

    def test_otel_js_logs_into_scry_server(self):
        """The JS SDK's OTLP log exporters (protobuf and JSON) against the
        real server's OTLP listener: one stream per exporter, labelled from
        the resource as Loki does, with severity, attributes and ids as
        structured metadata, read back through the Loki API."""
        import json
        import time
        import urllib.parse
        from harness import Server
        node = prepare_node()
        t0_ms = (int(time.time()) - 300) * 1000
        rng = {"start": str((t0_ms - 60000) * 1000000), "end": str((t0_ms + 60000) * 1000000)}

        def get(s, path, **params):
            r = s.get(path + "?" + urllib.parse.urlencode(dict(rng, **params)))
            self.assertEqual(r.status, 200, r.body)
            return json.loads(r.body)

        with Server() as s:
            p = subprocess.run([node, "send_logs.js", s.otlp, str(t0_ms)], cwd=WORK,
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, "send_logs.js failed:\n%s\n%s" % (p.stdout, p.stderr))
            series = get(s, "/loki/api/v1/series", **{"match[]": '{service_name="otel-js-logs"}'})
            self.assertEqual(series["data"], [
                {"service_instance_id": kind, "service_name": "otel-js-logs",
                 "service_namespace": "scry"} for kind in ("json", "proto")])
            for kind in ("json", "proto"):
                sel = '{service_instance_id="%s"}' % kind
                stats = get(s, "/loki/api/v1/index/stats", query=sel)
                self.assertEqual((stats["streams"], stats["entries"]), (1, 3), stats)
                fields = get(s, "/loki/api/v1/detected_fields", query=sel)["fields"]
                self.assertEqual(
                    sorted((f["label"], f["parsers"]) for f in fields),
                    [("event", ["json"]), ("host_name", None), ("http_route", None),
                     ("ms", ["json"]), ("observed_timestamp", None), ("retry", None),
                     ("scope_name", None),
                     ("scope_version", None), ("severity_number", None),
                     ("severity_text", None), ("user_id", None)], kind)
                self.assertEqual(
                    get(s, "/loki/api/v1/detected_field/severity_text/values", query=sel)["values"],
                    ["ERROR", "INFO", "WARN"])
                self.assertEqual(
                    get(s, "/loki/api/v1/detected_field/severity_number/values", query=sel)["values"],
                    ["13", "17", "9"])
                self.assertEqual(
                    get(s, "/loki/api/v1/detected_field/user_id/values", query=sel)["values"], ["42"])


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
