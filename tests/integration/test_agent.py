"""`scry agent`: a real prometheus-node-exporter scraped every second and
forwarded by remote_write to real receivers — `scry server`, Debian's
victoria-metrics and Debian's prometheus (--web.enable-remote-write-receiver).

What must hold: the values stored equal the exporter's; a receiver that is
down for several scrape intervals loses nothing (the queue is on disk and
retried); an agent killed with SIGKILL resends after restart what it had
not delivered, so the only hole in the stored series is the time the agent
itself was dead."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse

import harness
from harness import Server, free_port, http, run_cli

EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"
VM = "/usr/bin/victoria-metrics"
PROMETHEUS = "/usr/bin/prometheus"


def wait_until(fn, what, timeout=30, step=0.2):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(step)


def http_ok(url):
    try:
        return http("GET", url, timeout=2).status == 200
    except OSError:
        return False


class Agent(harness.Agent):
    """The harness agent, waited on until ready."""

    def __init__(self, config, data_dir, *extra):
        super().__init__(config, data_dir, *extra)
        wait_until(lambda: http_ok(self.api + "/-/ready"), "agent ready")

    def metric(self, name):
        text = http("GET", self.api + "/metrics").text()
        m = re.search(r"(?m)^%s\{[^}]*\} (\S+)$" % re.escape(name), text)
        return float(m.group(1)) if m else None


class Exporter:
    """prometheus-node-exporter with a textfile collector we control."""

    def __init__(self, d):
        self.port = free_port()
        self.textdir = os.path.join(d, "textfile")
        os.makedirs(self.textdir)
        self.set_value(42.5)
        self.proc = subprocess.Popen(
            [EXPORTER, f"--web.listen-address=127.0.0.1:{self.port}",
             f"--collector.textfile.directory={self.textdir}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: http_ok(f"http://127.0.0.1:{self.port}/metrics"), "node exporter")

    def set_value(self, v):
        tmp = os.path.join(self.textdir, "t.prom.tmp")
        with open(tmp, "w") as f:
            f.write(f"# TYPE scry_agent_test_value gauge\nscry_agent_test_value{{k=\"a\"}} {v}\n")
        os.rename(tmp, os.path.join(self.textdir, "t.prom"))

    def scrape(self):
        return http("GET", f"http://127.0.0.1:{self.port}/metrics").text()

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def agent_config(d, exporter_port, url, extra=""):
    path = os.path.join(d, "agent.yml")
    with open(path, "w") as f:
        f.write(f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:{exporter_port}']
remote_write:
  - url: {url}
    queue_config:
      batch_send_deadline: 500ms
      min_backoff: 50ms
      max_backoff: 500ms
{extra}""")
    return path


def gaps(ts_ms, interval_ms=1000):
    """The holes in a sorted list of scrape timestamps: (after, before) pairs
    more than 1.75 intervals apart. A scrape's timestamp is when it started,
    so a loaded machine shifts single scrapes by a few hundred ms; one
    missing scrape still leaves a gap of about 2 intervals."""
    return [(a, b) for a, b in zip(ts_ms, ts_ms[1:]) if b - a > 1.75 * interval_ms]


def scry_series(server, query):
    r = server.get("/api/v1/query?" + urllib.parse.urlencode({"query": query})).json()
    return r["data"]["result"]


class AgentCliTest(unittest.TestCase):
    def test_no_target_is_a_usage_error(self):
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, "a.yml")
            with open(cfg, "w") as f:
                f.write("scrape_configs: []\n")
            code, _, err = run_cli("agent", "--config", cfg, "--data", d + "/data")
            self.assertEqual(code, 2, err)
            self.assertIn("no remote_write target", err)
            code, _, err = run_cli("agent", "--config", cfg, "--remote-write", "ftp://x/y")
            self.assertEqual(code, 2, err)
            self.assertIn("unsupported scheme", err)
            code, _, err = run_cli("agent", "--listen")
            self.assertEqual(code, 2, err)
            self.assertIn("usage: scry agent", err)


class AgentToScryTest(unittest.TestCase):
    def test_values_equal_and_kill9_loses_nothing(self):
        self.assertTrue(os.access(EXPORTER, os.X_OK), "needs prometheus-node-exporter")
        with tempfile.TemporaryDirectory() as d:
            exp = Exporter(d)
            sport = free_port()
            srv_dir = os.path.join(d, "srv")
            srv = Server(data_dir=srv_dir, listen=f"127.0.0.1:{sport}")
            agent = None
            try:
                cfg = agent_config(d, exp.port, f"http://127.0.0.1:{sport}/api/v1/write")
                data = os.path.join(d, "agent")
                agent = Agent(cfg, data)
                wait_until(lambda: scry_series(srv, 'scry_agent_test_value{job="node"}'),
                           "samples in scry server")

                # Values: what the server stored is what the exporter exposes.
                got = scry_series(srv, 'scry_agent_test_value{job="node"}')[0]
                self.assertEqual(got["metric"], {"__name__": "scry_agent_test_value", "k": "a",
                                                 "job": "node",
                                                 "instance": f"127.0.0.1:{exp.port}"})
                self.assertEqual(got["value"][1], "42.5")
                ne = re.search(r"(?m)^node_memory_MemTotal_bytes (\S+)$", exp.scrape()).group(1)
                mt = wait_until(lambda: scry_series(srv, "node_memory_MemTotal_bytes"), "MemTotal")
                self.assertEqual(float(mt[0]["value"][1]), float(ne))
                exp.set_value(-7.25)
                wait_until(lambda: scry_series(srv, 'scry_agent_test_value == -7.25'),
                           "the changed value")

                # Receiver down: the agent queues on disk and retries.
                srv.stop()
                down_at = time.time()
                wait_until(lambda: (agent.metric("scry_remote_write_samples_retried_total") or 0) > 0,
                           "retries while the server is down")
                wait_until(lambda: time.time() - down_at > 4, "4 scrapes", step=0.5)
                self.assertGreater(agent.metric("scry_remote_write_samples_pending"), 0)
                # SIGKILL: nothing flushed, only the disk queue survives.
                agent.stop(signal.SIGKILL)
                killed_ms = int(time.time() * 1000)
                self.assertTrue(any(f[0].isdigit() for f in os.listdir(
                    os.path.join(data, "queue", os.listdir(os.path.join(data, "queue"))[0]))))
                srv = Server(data_dir=srv_dir, listen=f"127.0.0.1:{sport}")
                agent = Agent(cfg, data)
                wait_until(lambda: (agent.metric("scry_remote_write_samples_sent_total") or 0) > 0
                           and agent.metric("scry_remote_write_samples_pending") == 0,
                           "the queue drained after restart")
                restarted_ms = int(time.time() * 1000)
                time.sleep(1.5)
                r = scry_series(srv, 'up{job="node"}[5m]')
                ts = [int(round(float(t) * 1000)) for t, _ in r[0]["values"]]
                self.assertEqual(sorted(ts), ts)
                holes = gaps(ts)
                # One hole only: while the agent was dead, not while the server was.
                self.assertLessEqual(len(holes), 1, holes)
                for a, b in holes:
                    self.assertGreaterEqual(a, killed_ms - 1500, (holes, killed_ms))
                    self.assertLessEqual(b, restarted_ms + 1500, (holes, restarted_ms))
                self.assertLess(ts[0], int(down_at * 1000) - 1000, "samples from before the outage")
                self.assertEqual(agent.metric("scry_remote_write_samples_dropped_total"), 0)
                self.assertEqual(agent.stop(), 0)
                agent = None
            finally:
                if agent:
                    agent.stop(signal.SIGKILL)
                srv.stop()
                exp.stop()


    def test_sighup_reloads_scrape_configs(self):
        with tempfile.TemporaryDirectory() as d:
            exp = Exporter(d)
            agent = None
            with Server() as srv:
                try:
                    url = srv.api + "/api/v1/write"
                    cfg = agent_config(d, exp.port, url)
                    agent = Agent(cfg, os.path.join(d, "agent"))
                    wait_until(lambda: scry_series(srv, 'up{job="node"}'), "job node")
                    with open(cfg) as f:
                        text = f.read().replace("job_name: node", "job_name: node2")
                    with open(cfg, "w") as f:
                        f.write(text)
                    agent.proc.send_signal(signal.SIGHUP)
                    wait_until(lambda: scry_series(srv, 'up{job="node2"}'), "job node2 after SIGHUP")
                    self.assertEqual(agent.stop(), 0)
                    agent = None
                finally:
                    if agent:
                        agent.stop(signal.SIGKILL)
                    exp.stop()


class AgentToVictoriaMetricsTest(unittest.TestCase):
    def start_vm(self, port, path):
        p = subprocess.Popen([VM, f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={path}",
                              "-retentionPeriod=100y", "-search.latencyOffset=0s"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/health"), "victoria-metrics")
        return p

    def test_outage_loses_nothing(self):
        self.assertTrue(os.access(VM, os.X_OK), "needs victoria-metrics (scripts/deps.sh)")
        with tempfile.TemporaryDirectory() as d:
            exp = Exporter(d)
            port = free_port()
            vm_path = os.path.join(d, "vm")
            vm = self.start_vm(port, vm_path)
            agent = None
            base = f"http://127.0.0.1:{port}"

            def export():
                http("GET", base + "/internal/force_flush")
                r = http("GET", base + "/api/v1/export?" +
                         urllib.parse.urlencode({"match[]": 'up{job="node"}'}))
                lines = [json.loads(x) for x in r.text().splitlines() if x.strip()]
                return sorted(t for x in lines for t in x["timestamps"])

            try:
                agent = Agent(agent_config(d, exp.port, base + "/api/v1/write"),
                              os.path.join(d, "agent"))
                wait_until(lambda: len(export()) >= 2, "samples in victoria-metrics")
                vm.terminate()
                vm.wait()
                down_at = time.time()
                wait_until(lambda: (agent.metric("scry_remote_write_samples_retried_total") or 0) > 0,
                           "retries while victoria-metrics is down")
                wait_until(lambda: time.time() - down_at > 5, "5 scrape intervals", step=0.5)
                vm = self.start_vm(port, vm_path)
                up_at = time.time()
                wait_until(lambda: agent.metric("scry_remote_write_samples_pending") == 0 and
                           agent.metric("scry_remote_write_highest_sent_timestamp_seconds") > up_at,
                           "the queue drained")
                ts = wait_until(lambda: [t for t in [export()] if t and t[-1] > up_at * 1000],
                                "samples after the outage")[0]
                self.assertEqual(gaps(ts), [], ts)
                self.assertLess(ts[0], down_at * 1000 - 1000)
                self.assertGreater(len(ts), 6)
                self.assertEqual(agent.metric("scry_remote_write_samples_dropped_total"), 0)
                self.assertEqual(agent.stop(), 0)
                agent = None
            finally:
                if agent:
                    agent.stop(signal.SIGKILL)
                vm.terminate()
                vm.wait()
                exp.stop()


class AgentToPrometheusTest(unittest.TestCase):
    def test_samples_arrive_also_at_a_second_target(self):
        self.assertTrue(os.access(PROMETHEUS, os.X_OK), "needs prometheus (scripts/deps.sh)")
        with tempfile.TemporaryDirectory() as d:
            exp = Exporter(d)
            port = free_port()
            pcfg = os.path.join(d, "prometheus.yml")
            with open(pcfg, "w") as f:
                f.write("global: {}\n")
            prom = subprocess.Popen([PROMETHEUS, f"--config.file={pcfg}",
                                     f"--storage.tsdb.path={d}/prom",
                                     f"--web.listen-address=127.0.0.1:{port}",
                                     "--web.enable-remote-write-receiver"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            base = f"http://127.0.0.1:{port}"
            agent = None
            try:
                wait_until(lambda: http_ok(base + "/-/ready"), "prometheus ready")
                # Two targets: prometheus from the file, a scry server from the flag.
                srv = Server()
                self.addCleanup(srv.stop)
                agent = Agent(agent_config(d, exp.port, base + "/api/v1/write"),
                              os.path.join(d, "agent"),
                              "--remote-write", srv.api + "/api/v1/write")

                def query(q):
                    r = http("GET", base + "/api/v1/query?" + urllib.parse.urlencode({"query": q}))
                    return r.json()["data"]["result"]

                res = wait_until(lambda: query('scry_agent_test_value{job="node"}'),
                                 "samples in prometheus")
                self.assertEqual(res[0]["value"][1], "42.5")
                self.assertEqual(res[0]["metric"]["instance"], f"127.0.0.1:{exp.port}")
                wait_until(lambda: query('count_over_time(up{job="node"}[1m]) >= 3'),
                           "several scrapes in prometheus")
                got = wait_until(lambda: scry_series(srv, 'scry_agent_test_value{job="node"}'),
                                 "samples in the second target")
                self.assertEqual(got[0]["value"][1], "42.5")
                self.assertEqual(agent.metric("scry_remote_write_samples_dropped_total"), 0)
                self.assertEqual(agent.stop(), 0)
                agent = None
            finally:
                if agent:
                    agent.stop(signal.SIGKILL)
                prom.terminate()
                prom.wait()
                exp.stop()


if __name__ == "__main__":
    unittest.main()
