"""Scraping through the real server: a real prometheus-node-exporter,
scraped every second, stored in tsdb and read back with `scry tsdb dump`;
/api/v1/targets and /api/v1/metadata describe it as Prometheus would."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import Server, free_port, run_cli

EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"


class ScrapeTest(unittest.TestCase):
    def test_node_exporter_is_scraped_and_stored(self):
        self.assertTrue(os.access(EXPORTER, os.X_OK),
                        "needs prometheus-node-exporter (scripts/deps.sh installs it)")
        port = free_port()
        exp = subprocess.Popen([EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with tempfile.TemporaryDirectory() as d:
                cfg = os.path.join(d, "scry.yml")
                with open(cfg, "w") as f:
                    f.write(f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:{port}']
        labels: {{env: test}}
""")
                data = os.path.join(d, "data")
                with Server(data_dir=data, config=cfg) as s:
                    deadline = time.time() + 30
                    while True:
                        t = s.get("/api/v1/targets").json()["data"]["activeTargets"]
                        if t and all(x["health"] == "up" for x in t) and len(t) == 1:
                            break
                        self.assertLess(time.time(), deadline, t)
                        time.sleep(0.2)
                    self.assertEqual(t[0]["labels"],
                                     {"env": "test", "instance": f"127.0.0.1:{port}", "job": "node"})
                    time.sleep(2.5)  # a few more scrapes
                    meta = s.get("/api/v1/metadata").json()["data"]
                    self.assertEqual(meta["node_cpu_seconds_total"][0]["type"], "counter")
                code, out, err = run_cli("tsdb", "dump", data, timeout=60)
                self.assertEqual(code, 0, err)
        finally:
            exp.terminate()
            exp.wait()
        inst = f'env="test", instance="127.0.0.1:{port}", job="node"'
        ups = re.findall(r'^up\{%s\} (\S+) \d+$' % re.escape(inst), out, re.M)
        self.assertGreaterEqual(len(ups), 3, out[:2000])
        self.assertEqual(set(ups), {"1"})
        self.assertRegex(out, r'(?m)^node_cpu_seconds_total\{cpu="0", %s, mode="idle"\} [0-9.e+]+ \d+$' % re.escape(inst))
        self.assertRegex(out, r'(?m)^scrape_samples_scraped\{%s\} [1-9]' % re.escape(inst))


if __name__ == "__main__":
    unittest.main()
