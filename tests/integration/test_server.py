"""The house's promises about `scry server`, checked against the real binary:
health and readiness, self-metrics, buildinfo, error envelopes, reload,
lifecycle (signals, lock file, port in use, unwritable data dir)."""
import json
import os
import re
import signal
import socket
import stat
import tempfile
import time
import unittest

from harness import Server, http, run_cli

GOOD = """
global:
  scrape_interval: 30s
scrape_configs:
  - job_name: one
    static_configs:
      - targets: ['127.0.0.1:9100']
"""

GOOD2 = GOOD + """
  - job_name: two
    static_configs:
      - targets: ['127.0.0.1:9101']
"""

BAD = """
global:
  scrape_interval: 30x
"""


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server()

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def test_healthy_and_ready(self):
        r = self.s.get("/-/healthy")
        self.assertEqual(r.status, 200)
        self.assertIn("Healthy", r.text())
        self.assertEqual(self.s.get("/-/ready").status, 200)
        # The OTLP listener answers health checks too.
        self.assertEqual(http("GET", self.s.otlp + "/-/ready").status, 200)

    def test_log_store_opens_and_flushes(self):
        # The log store opens with tsdb at start-up; POST /flush cuts its head.
        self.assertTrue(os.path.isdir(os.path.join(self.s.data_dir, "logs", "wal")))
        self.assertEqual(self.s.post("/flush").status, 204)
        self.assertEqual(self.s.get("/flush").status, 405)

    def test_buildinfo_has_exact_grafana_shape(self):
        r = self.s.get("/api/v1/status/buildinfo")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        doc = r.json()
        self.assertEqual(doc["status"], "success")
        d = doc["data"]
        self.assertEqual(set(d), {"version", "revision", "branch", "buildUser", "buildDate", "goVersion"})
        self.assertNotIn("features", d)  # present and non-empty would make Grafana assume Mimir
        self.assertRegex(d["version"], r"^\d+\.\d+\.\d+$")
        for v in d.values():
            self.assertIsInstance(v, str)

    def test_metrics_expose_self_and_process(self):
        self.s.get("/-/healthy")
        r = self.s.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertIn("text/plain; version=0.0.4", r.headers["Content-Type"])
        t = r.text()
        self.assertRegex(t, r'(?m)^scry_build_info\{.*version="[0-9.]+".*\} 1$')
        self.assertRegex(t, r'(?m)^scry_http_requests_total\{handler="/-/healthy",code="200"\} [1-9]')
        self.assertRegex(t, r'(?m)^scry_http_request_duration_seconds_bucket\{handler="/-/healthy",code="200",le="\+Inf"\} [1-9]')
        self.assertRegex(t, r"(?m)^process_resident_memory_bytes [1-9]")
        self.assertRegex(t, r"(?m)^process_open_fds [1-9]")
        self.assertRegex(t, r"(?m)^process_cpu_seconds_total [0-9.e+-]+$")
        self.assertRegex(t, r"(?m)^scry_ready 1$")
        self.assertIn("# TYPE scry_http_requests_total counter", t)

    def test_unknown_route_is_json_404(self):
        r = self.s.get("/api/v1/nope")
        self.assertEqual(r.status, 404)
        doc = r.json()
        self.assertEqual(doc["status"], "error")
        self.assertEqual(doc["errorType"], "not_found")
        self.assertTrue(doc["error"])

    def test_wrong_method_is_405_envelope(self):
        r = self.s.post("/api/v1/status/buildinfo")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.json()["status"], "error")

    def test_status_config_returns_yaml(self):
        doc = self.s.get("/api/v1/status/config").json()
        self.assertEqual(doc["status"], "success")
        # The embedded default scrapes scry itself, at the port we really got.
        port = self.s.api.rsplit(":", 1)[1]
        self.assertIn('job_name: "scry"', doc["data"]["yaml"])
        self.assertIn("127.0.0.1:" + port, doc["data"]["yaml"])

    def test_runtimeinfo_and_flags(self):
        d = self.s.get("/api/v1/status/runtimeinfo").json()["data"]
        self.assertTrue(d["reloadConfigSuccess"])
        self.assertEqual(d["storageRetention"], "15d")
        f = self.s.get("/api/v1/status/flags").json()["data"]
        self.assertEqual(f["data"], self.s.data_dir)


class ReloadTest(unittest.TestCase):
    def test_reload_keeps_old_config_when_new_is_bad(self):
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, "scry.yml")
            write(cfg, GOOD)
            with Server(config=cfg) as s:
                self.assertIn('job_name: "one"', s.get("/api/v1/status/config").json()["data"]["yaml"])
                write(cfg, BAD)
                r = s.post("/-/reload")
                self.assertEqual(r.status, 500)
                self.assertIn("scry.yml:3:20", r.text())
                self.assertIn("global.scrape_interval", r.text())
                y = s.get("/api/v1/status/config").json()["data"]["yaml"]
                self.assertIn('job_name: "one"', y)
                self.assertRegex(s.get("/metrics").text(), r"(?m)^scry_config_last_reload_successful 0$")
                self.assertFalse(s.get("/api/v1/status/runtimeinfo").json()["data"]["reloadConfigSuccess"])
                # A good file through POST /-/reload.
                write(cfg, GOOD2)
                self.assertEqual(s.post("/-/reload").status, 200)
                self.assertIn('job_name: "two"', s.get("/api/v1/status/config").json()["data"]["yaml"])
                self.assertRegex(s.get("/metrics").text(), r"(?m)^scry_config_last_reload_successful 1$")
                # SIGHUP with a bad file: logged, old config kept.
                write(cfg, BAD)
                s.send_signal(signal.SIGHUP)
                s.wait_log(r"level=error.*reload failed")
                self.assertIn('job_name: "two"', s.get("/api/v1/status/config").json()["data"]["yaml"])
                # SIGHUP with a good file.
                write(cfg, GOOD)
                s.send_signal(signal.SIGHUP)
                deadline = time.time() + 10
                while 'job_name: "two"' in s.get("/api/v1/status/config").json()["data"]["yaml"]:
                    self.assertLess(time.time(), deadline, "SIGHUP reload did not apply")
                    time.sleep(0.05)


class LifecycleTest(unittest.TestCase):
    def test_sigterm_and_sigint_exit_zero(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            s = Server()
            self.assertEqual(s.get("/-/ready").status, 200)
            lines = s.lines
            self.assertEqual(s.stop(sig), 0)
            self.assertTrue(any(re.search(r"msg=\"?stopped", l) for l in lines), lines)

    def test_second_server_on_same_data_dir_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            with Server(data_dir=d) as s:
                code, out, err = run_cli("server", "--data", d, "--listen", "127.0.0.1:0",
                                         "--otlp-listen", "127.0.0.1:0", timeout=20)
                self.assertEqual(code, 1)
                self.assertIn("in use by another scry process", err)
                self.assertIn(str(s.proc.pid), err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
            # Once the first is gone the lock is free again, even after kill -9.
            s2 = Server(data_dir=d)
            s2.proc.kill()
            s2.proc.wait()
            with Server(data_dir=d) as s3:
                self.assertEqual(s3.get("/-/ready").status, 200)

    def test_port_in_use_is_one_line_exit_1(self):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        with tempfile.TemporaryDirectory() as d:
            code, out, err = run_cli("server", "--data", d, "--listen", f"127.0.0.1:{port}",
                                     "--otlp-listen", "127.0.0.1:0", timeout=20)
        sock.close()
        self.assertEqual(code, 1)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("in use", err)
        self.assertIn(str(port), err)

    @unittest.skipIf(os.geteuid() == 0, "root can write anywhere; checked via a file below")
    def test_unwritable_data_dir_as_user(self):
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, stat.S_IRUSR | stat.S_IXUSR)
            code, _, err = run_cli("server", "--data", d, "--listen", "127.0.0.1:0",
                                   "--otlp-listen", "127.0.0.1:0")
            self.assertEqual(code, 1)
            self.assertIn("not writable", err)

    def test_data_dir_that_is_a_file_is_one_line_exit_1(self):
        # Works as root too: no permission bits involved.
        with tempfile.NamedTemporaryFile() as f:
            code, _, err = run_cli("server", "--data", f.name + "/sub", "--listen", "127.0.0.1:0",
                                   "--otlp-listen", "127.0.0.1:0")
        self.assertEqual(code, 1)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("data dir", err)

    def test_json_logs(self):
        s = Server("--log-format", "json", wait_ready=False)
        try:
            line = s.wait_log(r'"msg":"ready"')
            doc = json.loads(line)
            self.assertEqual(doc["level"], "info")
            self.assertEqual(doc["component"], "server")
        finally:
            s.stop()


if __name__ == "__main__":
    unittest.main()
