"""promdiff.py — helpers for test_prom_diff.py: a deterministic scrape
target, Debian's Prometheus as a remote_write sender, and comparison of
Prometheus API answers (raw samples bit for bit, query results within a
relative tolerance)."""
import http.server
import json
import math
import os
import shutil
import struct
import subprocess
import threading
import time
import urllib.parse

from harness import free_port, http as http_req

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"


# ---- the deterministic target -------------------------------------------

def _noise(n, k):
    """A deterministic pseudo-random integer in [0, 1000) for scrape n, key k."""
    x = (n * 2654435761 + k * 40503 + 12345) & 0xFFFFFFFF
    x ^= x >> 13
    x = (x * 1274126177) & 0xFFFFFFFF
    return (x ^ (x >> 16)) % 1000


def _fmt(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


HIST_LE = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]
HIST_SERIES = [("GET", "200"), ("GET", "500"), ("POST", "201")]


def exposition(n):
    """The text exposition of scrape number n (0-based). Everything is a
    function of n only, so a run is reproducible up to scrape timing."""
    out = []
    w = out.append
    # Series of one metric never tie (a small per-series offset): which of
    # equal values topk/bottomk keep, or sort puts first, is unspecified.
    # Counters; /b resets at scrape 12 (a restart of the instrumented process).
    w("# HELP synth_requests_total Requests handled.\n# TYPE synth_requests_total counter\n")
    for i, (path, code) in enumerate([("/a", "200"), ("/a", "500"), ("/b", "200"), ("/c", "404")]):
        if path == "/b":
            m = n if n < 12 else n - 12
            v = sum(3 + _noise(j, 7) % 5 for j in range(m + 1)) + (1000 if n < 12 else 0) + m * 0.0071
        else:
            v = sum((i + 1) * (1 + _noise(j, i) % 9) for j in range(n + 1)) * 0.5 + n * 0.0137 * (i + 1)
        w(f'synth_requests_total{{code="{code}",path="{path}"}} {_fmt(v)}\n')
    # Gauges: negative, fractional, large, tiny.
    w("# TYPE synth_temperature_celsius gauge\n")
    for i, room in enumerate(["kitchen", "cellar", "roof"]):
        v = (_noise(n, 20 + i) - 600) / 37.0 + i * 0.001
        w(f'synth_temperature_celsius{{room="{room}"}} {_fmt(v)}\n')
    w("# TYPE synth_big_bytes gauge\n")
    w(f"synth_big_bytes {_fmt(1.5e15 + _noise(n, 30) * 1048576.0)}\n")
    w("# TYPE synth_tiny gauge\n")
    w(f"synth_tiny {_fmt((_noise(n, 31) + 1) * 1e-12)}\n")
    # A gauge that steps now and then (changes/resets), with a label value that
    # needs escaping; no newlines (regex '.' differs between 2.x and 3.x there).
    w("# TYPE synth_state gauge\n")
    w(f'synth_state{{desc="quote \\" backslash \\\\ caf\u00e9"}} {_fmt(float((n // 4) % 3))}\n')
    # Special values: NaN now and then, +Inf, -Inf.
    w("# TYPE synth_special gauge\n")
    w(f'synth_special{{kind="nan"}} {"NaN" if n % 5 == 2 else _fmt(n * 0.25)}\n')
    w(f'synth_special{{kind="inf"}} {"+Inf" if n % 7 == 3 else _fmt(-n * 1.5)}\n')
    w(f'synth_special{{kind="ninf"}} {"-Inf" if n % 6 == 4 else _fmt(n * 2.0)}\n')
    # A series that goes away (staleness marker) and comes back.
    if n < 8 or n >= 16:
        w("# TYPE synth_flappy gauge\n")
        w(f'synth_flappy{{phase="{"early" if n < 8 else "late"}"}} {_fmt(_noise(n, 40) / 10.0)}\n')
        w(f'synth_flappy{{phase="both"}} {_fmt(_noise(n, 41) / 10.0 + 0.001)}\n')
    # A classic histogram with several label combinations.
    w("# TYPE synth_latency_seconds histogram\n")
    for k, (method, code) in enumerate(HIST_SERIES):
        cum = [0] * len(HIST_LE)
        total = 0.0
        for j in range(n + 1):
            obs = 1 + _noise(j, 50 + k) % 6
            for o in range(obs):
                b = _noise(j * 7 + o, 60 + k) % len(HIST_LE)
                for bi in range(b, len(HIST_LE)):
                    cum[bi] += 1
                total += (0.004, 0.008, 0.02, 0.04, 0.08, 0.2, 0.4, 0.8, 2.0, 4.0)[b]
        for le, c in zip(HIST_LE, cum):
            w(f'synth_latency_seconds_bucket{{code="{code}",le="{le}",method="{method}"}} {c}\n')
        w(f'synth_latency_seconds_sum{{code="{code}",method="{method}"}} {_fmt(total)}\n')
        w(f'synth_latency_seconds_count{{code="{code}",method="{method}"}} {cum[-1]}\n')
    # A summary.
    w("# TYPE synth_rpc_seconds summary\n")
    for q, base in (("0.5", 0.05), ("0.9", 0.2), ("0.99", 0.7)):
        w(f'synth_rpc_seconds{{quantile="{q}"}} {_fmt(base + _noise(n, 70) / 10000.0)}\n')
    w(f"synth_rpc_seconds_sum {_fmt(0.1 * (n + 1) * 7 + _noise(n, 71) / 1000.0)}\n")
    w(f"synth_rpc_seconds_count {7 * (n + 1)}\n")
    return "".join(out).encode()


class Target:
    """Serves exposition(n) on 127.0.0.1:<free>, n counting the scrapes."""

    def __init__(self):
        target = self
        self.scrapes = 0
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with target.lock:
                    n = target.scrapes
                    target.scrapes += 1
                body = exposition(n)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass   # the scraper gave up (timeout, shutdown)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.addr = "127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- Prometheus ---------------------------------------------------------

class Prometheus:
    """Debian's prometheus scraping the given targets every second and
    remote-writing to scry (write_url None: it writes nowhere); extra_args
    go to its command line (e.g. --web.enable-remote-write-receiver)."""

    def __init__(self, workdir, targets, write_url, extra_args=()):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        cfg = os.path.join(workdir, "prometheus.yml")
        jobs = "".join(f"""
  - job_name: {job}
    static_configs:
      - targets: ['{addr}']
""" for job, addr in targets)
        with open(cfg, "w") as f:
            f.write(f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:{jobs}
""")
            if write_url:
                f.write(f"""remote_write:
  - url: {write_url}
    queue_config:
      batch_send_deadline: 200ms
      max_samples_per_send: 2000
      min_backoff: 50ms
      max_backoff: 500ms
    metadata_config:
      send_interval: 5s
""")
        self.log_path = os.path.join(workdir, "prometheus.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={workdir}/prom-data",
             f"--web.listen-address=127.0.0.1:{self.port}", *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if http_req("GET", self.url + "/-/ready", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("prometheus not ready; log:\n" + self.tail())

    def tail(self, n=40):
        self.log.flush()
        with open(self.log_path) as f:
            return "".join(f.readlines()[-n:])

    def get(self, path, **kw):
        return http_req("GET", self.url + path, **kw)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# ---- asking both --------------------------------------------------------

def api(base, path, params):
    """GET base+path?params; returns the decoded JSON envelope (any status)."""
    r = http_req("GET", base + path + "?" + urllib.parse.urlencode(params, doseq=True), timeout=30)
    try:
        body = r.json()
    except ValueError:
        body = {"status": "error", "errorType": "http %d" % r.status, "error": r.text()[:300]}
    body["_http"] = r.status
    return body


def fsec(t_ms):
    """Milliseconds as the API's seconds parameter, exactly."""
    return "%d.%03d" % divmod(t_ms, 1000)


def key(metric):
    return tuple(sorted(metric.items()))


def bits(s):
    return struct.unpack("<Q", struct.pack("<d", float(s)))[0]


def close(a, b, rel):
    """Values as the API prints them: NaN matches NaN, ±Inf exactly, else
    within rel relative (values that are both zero-ish to 1e-300 match)."""
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    if x == 0 and y == 0:
        return math.copysign(1, x) == math.copysign(1, y)   # "-0" is not "0"
    return abs(x - y) <= rel * max(abs(x), abs(y)) or abs(x - y) <= 1e-300


def _points(entry):
    if "values" in entry:
        return [(p[0], p[1]) for p in entry["values"]]
    return [(entry["value"][0], entry["value"][1])]


def diff(prom, scry, exact=False, rel=1e-9, ordered=False):
    """Compares two API envelopes; returns None when they agree, else a
    text naming the first difference (with both series in full)."""
    if prom.get("status") != "success" or scry.get("status") != "success":
        if prom.get("status") == scry.get("status") == "error" and \
                prom.get("errorType") == scry.get("errorType"):
            return None
        return "status: prometheus %s %s %s, scry %s %s %s" % (
            prom.get("_http"), prom.get("errorType", ""), prom.get("error", ""),
            scry.get("_http"), scry.get("errorType", ""), scry.get("error", ""))
    pd, sd = prom["data"], scry["data"]
    if pd["resultType"] != sd["resultType"]:
        return "resultType: prometheus %s, scry %s" % (pd["resultType"], sd["resultType"])
    if pd["resultType"] == "string":
        if pd["result"] != sd["result"]:
            return "string: prometheus %s, scry %s" % (pd["result"], sd["result"])
        return None
    if pd["resultType"] == "scalar":
        pd = {"result": [{"metric": {}, "value": pd["result"]}]}
        sd = {"result": [{"metric": {}, "value": sd["result"]}]}
    pm = {key(e["metric"]): e for e in pd["result"]}
    sm = {key(e["metric"]): e for e in sd["result"]}
    if len(pm) != len(pd["result"]) or len(sm) != len(sd["result"]):
        return "duplicate label sets in an answer"
    only_p = sorted(set(pm) - set(sm))
    only_s = sorted(set(sm) - set(pm))
    if only_p or only_s:
        return "label sets differ: only in prometheus %s; only in scry %s (%d vs %d series)" % (
            [dict(k) for k in only_p[:3]], [dict(k) for k in only_s[:3]], len(pm), len(sm))
    if ordered:
        po = [key(e["metric"]) for e in pd["result"]]
        so = [key(e["metric"]) for e in sd["result"]]
        if po != so:
            return "order differs: prometheus %s, scry %s" % (po, so)
    for k in sorted(pm):
        pp, sp = _points(pm[k]), _points(sm[k])
        bad = None
        if [t for t, _ in pp] != [t for t, _ in sp]:
            bad = "timestamps differ"
        else:
            for (t, a), (_, b) in zip(pp, sp):
                if exact:
                    ok = bits(a) == bits(b) or (math.isnan(float(a)) and math.isnan(float(b)))
                    if ok and a != b:
                        bad = "value text differs at %s: %r vs %r" % (t, a, b)
                        break
                else:
                    ok = close(a, b, rel)
                    # The same double must print the same way (Prometheus's
                    # jsonutil: shortest 'f', 'e' below 1e-6 and from 1e21).
                    if ok and bits(a) == bits(b) and a != b:
                        bad = "value text differs at %s: %r vs %r" % (t, a, b)
                        break
                if not ok:
                    bad = "value differs at %s: prometheus %s, scry %s" % (t, a, b)
                    break
        if bad:
            return "series %s: %s\n  prometheus: %s\n  scry:       %s" % (
                dict(k), bad, json.dumps(pp), json.dumps(sp))
    return None
