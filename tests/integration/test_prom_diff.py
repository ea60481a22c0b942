"""Debian's Prometheus (2.42) as the reference: it scrapes a deterministic
Python target (promdiff.py) and a real prometheus-node-exporter every
second, stores the samples itself and remote-writes them to scry.

(a) remote_write: for a window ending at T1, scry holds exactly what
    Prometheus holds: same series, label sets, label values, timestamps,
    bit-equal values (test_a_*).
(b) PromQL: the same queries, instant at several times and as range
    queries over [T0, T1] with steps 1s, 3s and 15s, give the same label
    sets, timestamps, and values within 1e-9 relative (test_b_* for the
    API's parameter forms, test_c_* hand-written queries, test_d_* a
    generated grid).

Prometheus 2.x differs from the 3.x semantics scry follows; the test steers
around each difference rather than hiding it (the comments at QUERIES,
EXTRAPOLATED, grid_queries, and query/README.md list them). The main one:
range selectors (and the lookback window) are closed [t-r, t] in 2.x and
left-open (t-r, t] in 3.x, so all evaluation times sit at a millisecond
phase no sample timestamp has (read from the data): no window edge falls
on a sample and both rules select the same points. Subqueries evaluate
their inner expression at multiples of their step (phase 0), so they run
only when no sample sits on a whole second."""
import os
import re
import subprocess
import tempfile
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

import promdiff
from promdiff import api, diff, fsec
from harness import Server

RUN_SCRAPES = 32      # seconds of data (one scrape a second)
WINDOW_S = 20         # T1 - T0
SETTLE_S = 2          # T1 ends this far (or a bit more) in the past

# Every query is run instantly at several times and as a range query with
# three steps. {at} is a safe evaluation time inside [T0, T1].
QUERIES = [
    # raw selectors and modifiers
    'synth_requests_total',
    'synth_special',
    'synth_flappy',
    '{__name__=~"synth_temp.*", room!="roof"}',
    'synth_state{desc=~"quote.*caf\u00e9"}',
    'synth_requests_total offset 5s',
    'synth_temperature_celsius @ {at}',
    'rate(synth_requests_total[5s] @ end())',
    'synth_big_bytes @ start() offset -3s',
    # counters
    'rate(synth_requests_total[5s])',
    'rate(synth_requests_total[15s])',
    'irate(synth_requests_total[4s])',
    'increase(synth_requests_total[10s])',
    'resets(synth_requests_total[20s])',
    'rate(synth_special[6s])',
    # gauges
    'delta(synth_temperature_celsius[6s])',
    'idelta(synth_temperature_celsius[3s])',
    'deriv(synth_temperature_celsius[8s])',
    'predict_linear(synth_temperature_celsius[10s], 30)',
    'changes(synth_state[20s])',
    'changes(synth_special[9s])',
    # *_over_time
    'avg_over_time(synth_temperature_celsius[7s])',
    'min_over_time(synth_special[10s])',
    'max_over_time(synth_special[10s])',
    'sum_over_time(synth_tiny[5s])',
    'count_over_time(synth_flappy[5s])',
    'quantile_over_time(0.3, synth_temperature_celsius[9s])',
    'stddev_over_time(synth_temperature_celsius[9s])',
    'stdvar_over_time(synth_big_bytes[9s])',
    'last_over_time(synth_flappy[3s])',
    'present_over_time(synth_flappy[4s])',
    'absent_over_time(synth_flappy{phase="early"}[3s])',
    # aggregations
    'sum by (path) (rate(synth_requests_total[5s]))',
    'avg without (code) (synth_requests_total)',
    'min by (kind) (synth_special)',
    'max(synth_temperature_celsius)',
    'sum(synth_special)',
    'count by (code) (synth_latency_seconds_bucket)',
    'stddev(synth_temperature_celsius)',
    'stdvar by (job) (synth_temperature_celsius)',
    'quantile(0.75, synth_temperature_celsius)',
    'topk(2, synth_temperature_celsius)',
    'bottomk(1, rate(synth_requests_total[5s]))',
    'count_values("v", synth_state)',
    'group by (code) (synth_requests_total)',
    # classic histograms and summaries
    'histogram_quantile(0.9, sum by (le) (rate(synth_latency_seconds_bucket[10s])))',
    'histogram_quantile(0.5, rate(synth_latency_seconds_bucket[5s]))',
    'rate(synth_latency_seconds_sum[10s]) / rate(synth_latency_seconds_count[10s])',
    'synth_rpc_seconds{quantile="0.99"} - ignoring (quantile) synth_rpc_seconds_sum / synth_rpc_seconds_count',
    # binary operators
    'synth_requests_total / on (path) group_left sum by (path) (synth_requests_total)',
    'synth_latency_seconds_count / ignoring (code) group_left sum without (code) (synth_latency_seconds_count)',
    'synth_requests_total > bool 100',
    'synth_temperature_celsius > 0',
    '2 * synth_temperature_celsius - 1',
    'scalar(synth_big_bytes) / 1e6 + synth_tiny',
    '-synth_special ^ 2 % 7',
    # atan2 drops the metric name in 3.x (shouldDropMetricName), not in 2.x:
    # '+ 0' drops it on both
    'synth_temperature_celsius atan2 3 + 0',
    'synth_flappy and on () synth_flappy{phase="both"}',
    'synth_flappy or synth_temperature_celsius',
    'synth_requests_total unless synth_requests_total{code="500"}',
    # functions
    'label_replace(synth_requests_total, "p", "x$1", "path", "/(.*)")',
    'label_join(synth_latency_seconds_count, "mc", "-", "method", "code")',
    'absent(nonexistent_metric{job="x"})',
    'absent(synth_temperature_celsius)',
    'clamp(synth_temperature_celsius, -5, 5)',
    'clamp_min(synth_special, 1)',
    'round(synth_temperature_celsius, 0.5)',
    'sqrt(abs(synth_temperature_celsius)) + scalar(ln(synth_big_bytes)) + scalar(log2(synth_tiny))',
    'exp(synth_temperature_celsius / 10)',
    'sgn(synth_temperature_celsius) * sin(synth_temperature_celsius)',
    'time()',
    'timestamp(synth_state)',
    'minute() + hour() + day_of_week() + days_in_month()',
    'year(vector(time())) + month(vector(time()))',
    'sort(synth_temperature_celsius)',
    'sort_desc(rate(synth_requests_total[5s]))',
    'vector(1) + scalar(synth_big_bytes)',
    # subqueries
    'max_over_time(rate(synth_requests_total[5s])[12s:2s])',
    'avg_over_time(synth_temperature_celsius[10s:1s])',
    'sum_over_time(irate(synth_requests_total[3s])[15s:3s] offset 2s)',
    # edges: NaN/±Inf through aggregations and functions, staleness,
    # label rewriting, division by zero, ties of set operators
    'avg(synth_special)',
    'stddev(synth_special)',
    'quantile(0.5, synth_special)',
    'topk(1, synth_special)',
    'bottomk(2, synth_special)',
    'sort(synth_special)',
    'sort_desc(synth_special)',
    'count(synth_special > 0)',
    'sum_over_time(synth_special[5s])',
    'avg_over_time(synth_special[5s])',
    'quantile_over_time(0.99, synth_special[10s])',
    'stddev_over_time(synth_special[6s])',
    'irate(synth_special[5s]) + idelta(synth_special[5s])',
    'deriv(synth_special[5s])',
    'round(synth_special)',
    'synth_temperature_celsius / 0',
    'ceil(synth_temperature_celsius) / floor(synth_temperature_celsius)',
    'synth_requests_total % -3',
    'synth_special == bool synth_special',
    'scalar(synth_temperature_celsius)',
    'histogram_quantile(0.99, synth_latency_seconds_bucket)',
    'histogram_quantile(1.5, synth_latency_seconds_bucket)',
    'histogram_quantile(-1, synth_latency_seconds_bucket{method="GET"})',
    'max by (le) (synth_latency_seconds_bucket)',
    'deriv(synth_big_bytes[10s])',
    'predict_linear(synth_big_bytes[10s], 60)',
    'changes(synth_flappy[20s])',
    'last_over_time(synth_flappy[20s])',
    'delta(synth_flappy[10s])',
    'timestamp(synth_flappy)',
    'absent(synth_flappy{phase="early"})',
    'absent_over_time(nonexistent[5s])',
    'clamp(synth_temperature_celsius, 5, -5)',
    'clamp_max(synth_special, 3)',
    'count_values("le", synth_latency_seconds_bucket)',
    'count_values without (code) ("val", synth_requests_total)',
    'sum without (instance, job) (synth_requests_total)',
    'sum by (__name__) ({__name__=~"synth_temp.*|synth_tiny"})',
    'synth_requests_total{code="200"} * on (path) group_right synth_requests_total',
    'synth_temperature_celsius > bool synth_temperature_celsius offset 1s',
    'rate(synth_requests_total[5s] offset 3s)',
    'synth_requests_total offset -2s @ {at}',
    '{__name__=~"synth_special|synth_tiny"}',
    'label_replace(synth_state, "desc", "$1", "desc", "(quote).*")',
    'label_replace(synth_temperature_celsius, "__name__", "renamed", "room", "k.*")',
    'label_join(synth_state, "x", ";", "desc", "__name__")',
    'acos(clamp(synth_temperature_celsius / 20, -1, 1)) + scalar(asinh(synth_tiny))',
    'tanh(synth_special)',
    'deg(synth_tiny) + pi()',
    'rad(synth_temperature_celsius)',
    'day_of_month(timestamp(synth_state)) + day_of_year(timestamp(synth_state))',
    'minute(synth_state)',
    'time() - timestamp(synth_state)',
    'synth_requests_total + on (code) synth_requests_total',
    'scalar(vector(time())) - time()',
    'count_values("v", synth_special)',
    'count_values("v", synth_tiny)',
    'count_values("v", synth_big_bytes * 1e10)',
    'synth_tiny * -0',
    'synth_tiny / 1e300',
    'synth_big_bytes * 1e10',
    'quantile(2, synth_temperature_celsius)',
    'quantile(scalar(synth_state) / 2, synth_temperature_celsius)',
    'topk(scalar(synth_state), synth_temperature_celsius)',
    'topk(0, synth_temperature_celsius)',
    'avg(synth_temperature_celsius / 0)',
    'sum(synth_special) by (kind)',
    'stddev by (method) (synth_latency_seconds_bucket)',
    'sum by (quantile) (synth_rpc_seconds)',
    'histogram_quantile(0.5, sum by (le, method) (rate(synth_latency_seconds_bucket[5s])))',
    'histogram_quantile(0.5, synth_rpc_seconds)',
    'increase(synth_requests_total[2s])',
    'resets(synth_special[10s])',
    'rate(synth_flappy[5s])',
    'max_over_time(synth_flappy[2s])',
    'synth_flappy offset 3s',
    'present_over_time(synth_flappy[20s])',
    'sum_over_time(synth_requests_total[30s])',
    'predict_linear(synth_temperature_celsius[6s], -20)',
    'max_over_time(synth_temperature_celsius[10s:1s] @ {at})',
    'rate(sum(synth_requests_total)[10s:1s])',
    '1 < synth_temperature_celsius',
    'synth_temperature_celsius >= bool -2',
    'synth_requests_total * on () group_left (desc) synth_state',
    'synth_requests_total and ignoring (code) synth_requests_total{code="200"}',
    'synth_flappy or on (phase) vector(1)',
    'count by (__name__) ({job="synth"})',
    # __name__ goes at the function/operator that makes a new value (not at
    # the end of the query, as with promql-delayed-name-removal)
    'sum by (__name__) (rate({__name__=~"synth_temp.*|synth_state"}[5s]))',
    'count by (__name__) (-{__name__=~"synth_special|synth_state"})',
    'label_replace(rate(synth_requests_total[5s]), "n", "$1", "__name__", "(.*)")',
    'label_replace(rate(synth_requests_total[5s]), "__name__", "r_$1", "code", "(.*)")',
    'label_join(abs(synth_temperature_celsius), "n", "-", "__name__", "room")',
    'sum by (__name__) (synth_temperature_celsius > 0)',
    'label_replace(synth_tiny, "x", "$0", "__name__", ".*")',
    'absent(sum(nonexistent))',
    '1 + 2',
    '"hello"',
    'synth_special[4s]',
    # the node exporter and the scrape's own series
    'sum by (mode) (rate(node_cpu_seconds_total[10s]))',
    'node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes',
    'rate(node_network_receive_bytes_total[5s])',
    'count by (job) ({__name__=~"node_.*"})',
    'up',
    'scrape_samples_scraped',
    'avg_over_time(scrape_duration_seconds[10s])',
]

# Queries that must come back empty, or fail, on Prometheus at every
# evaluation (anything else empty or failing is a broken query here).
EXPECTED_EMPTY = {
    'absent(synth_temperature_celsius)',
    'clamp(synth_temperature_celsius, 5, -5)',
    'topk(0, synth_temperature_celsius)',
    'histogram_quantile(0.5, synth_rpc_seconds)',   # no le label
}
EXPECTED_ERROR = {
    'synth_requests_total + on (code) synth_requests_total',   # many-to-many
    '"hello"',   # a string is no range query
    'synth_special[4s]',   # nor is a range vector
}

SUBQUERY = re.compile(r"\[\d+s:\d+s\]")
# Prometheus 2.42 caps counter extrapolation at the counter's zero point
# before deciding whether the series starts inside the window; 3.x (and
# scry) first replaces a too-long gap to the window start by half an
# interval and then caps (extrapolatedRate in functions.go, changed by
# prometheus/prometheus#13725). The two differ only for windows that begin
# before a series' first sample.
EXTRAPOLATED = re.compile(r"\b(rate|increase)\(")


def history_ms(q):
    """How far back from the evaluation time a query reads, at most: all
    its ranges and offsets added up."""
    ranges = sum(int(a) + int(b or 0) for a, b in re.findall(r"\[(\d+)s(?::(\d+)s)?\]", q))
    offsets = sum(int(o) for o in re.findall(r"offset (\d+)s", q))
    return (ranges + offsets) * 1000


GRID_SERIES = ["synth_requests_total", "synth_temperature_celsius", "synth_special", "synth_flappy",
               "synth_big_bytes", "synth_tiny", "synth_state", "synth_latency_seconds_bucket"]
# operators and math functions: negative and fractional, NaN/±Inf, tiny, huge, zero
ARITH_SERIES = ["synth_temperature_celsius", "synth_special", "synth_tiny", "synth_big_bytes",
                "synth_state"]


def grid_queries():
    """A deterministic grid: functions × series × windows."""
    out = []
    for f in ["rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets",
              "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
              "last_over_time", "present_over_time", "stddev_over_time", "stdvar_over_time"]:
        for m in GRID_SERIES:
            if m == "synth_flappy" and f in ("rate", "increase"):
                continue   # series (re)start inside the window: see EXTRAPOLATED
            for w in ("3s", "7s"):
                out.append(f"{f}({m}[{w}])")
    for m in GRID_SERIES:
        out.append(f"quantile_over_time(0.7, {m}[6s])")
        out.append(f"predict_linear({m}[6s], 5)")
        for agg in ["sum", "avg", "min", "max", "count", "stddev", "stdvar", "group"]:
            if agg.startswith("std") and m == "synth_special":
                # A group of one NaN or ±Inf: 3.x gives NaN (aggregators.test),
                # 2.x gives 0. The mixed case is in QUERIES (stddev(synth_special)).
                continue
            out.append(f"{agg} by (job) ({m})")
            out.append(f"{agg} without (instance) ({m})")
        out.append(f"quantile by (job) (0.3, {m})")
        if m != "synth_latency_seconds_bucket":
            # Among equal values (cumulative buckets often are) which series
            # topk keeps depends on Prometheus's heap and its series order
            # (creation order in the head): unspecified, so no ties here.
            out.append(f"topk(2, {m})")
            out.append(f"bottomk(2, {m})")
        if m not in ARITH_SERIES:
            continue
        for op in ["+", "-", "*", "/", "%", "^", "atan2", "==", "!=", ">", "<", ">=", "<="]:
            # atan2 keeps the metric name in 2.x, drops it in 3.x: '+ 0'
            # drops it on both.
            tail = " + 0" if op == "atan2" else ""
            out.append(f"{m} {op} 1.5{tail}")
            out.append(f"-2 {op} {m}{tail}")
            out.append(f"{m} {op} {m} offset 2s{tail}")
            if op in ("==", "!=", ">", "<", ">=", "<="):
                out.append(f"{m} {op} bool 0.5")
        for fn in ["abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "round", "sgn",
                   "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh",
                   "acosh", "atanh", "deg", "rad", "timestamp"]:
            out.append(f"{fn}({m})")
        # parameters at and beyond their edges, subqueries
        for p in ("-1", "0", "1", "2", "NaN"):
            out.append(f"quantile_over_time({p}, {m}[5s])")
            out.append(f"quantile({p}, {m})")
        out += [f"clamp({m}, NaN, 1)", f"clamp_min({m}, -Inf)", f"round({m}, 0)", f"round({m}, -2)",
                f"round({m}, 0.3)", f"absent_over_time({m}[3s])", f"timestamp({m} offset 2s)",
                f"max_over_time({m}[10s:3s])", f"min_over_time({m}[9s:2s] offset 1s)",
                f"count_over_time({m}[7s:1s])", f"changes({m}[10s:1s])"]
    for q in ("0", "0.25", "0.99", "1", "NaN", "-0.5", "1.5"):
        out.append(f"histogram_quantile({q}, rate(synth_latency_seconds_bucket[5s]))")
        out.append(f"histogram_quantile({q}, sum by (le, code) (synth_latency_seconds_bucket))")
    return out


def safe_phase(timestamps):
    """A millisecond phase (0..999) as far as possible from every sample's
    phase and from 0 (where subqueries evaluate)."""
    phases = sorted({t % 1000 for t in timestamps} | {0})
    best, where = -1, 500
    for a, b in zip(phases, phases[1:] + [phases[0] + 1000]):
        if b - a > best:
            best, where = b - a, (a + (b - a) // 2) % 1000
    return where, best


class PromDiffTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for exe in (promdiff.PROMETHEUS, promdiff.EXPORTER):
            assert os.access(exe, os.X_OK), f"needs {exe} (scripts/deps.sh installs it)"
        cls.tmp = tempfile.TemporaryDirectory(prefix="scry-promdiff-")
        cls.target = cls.exporter = cls.scry = cls.prom = None
        try:
            d = cls.tmp.name
            cls.target = promdiff.Target()
            port = promdiff.free_port()
            cls.exporter = subprocess.Popen(
                [promdiff.EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cfg = os.path.join(d, "scry.yml")
            with open(cfg, "w") as f:
                f.write("global:\n  scrape_interval: 15s\n")   # no scrape jobs: only remote_write
            cls.scry = Server(config=cfg)
            cls.prom = promdiff.Prometheus(d, [("synth", cls.target.addr), ("node", f"127.0.0.1:{port}")],
                                           cls.scry.api + "/api/v1/write")
            cls.prom.wait_ready()
            cls._collect()
            cls._sync()
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
        if cls.exporter:
            cls.exporter.terminate()
            cls.exporter.wait()
        if cls.target:
            cls.target.stop()
        cls.tmp.cleanup()
        # A clean shutdown after all those queries (and, in the ASan build,
        # no leak or sanitizer report).
        assert rc == 0, f"scry exited with {rc}; log tail:\n" + "\n".join(cls.scry.lines[-30:])

    @classmethod
    def _collect(cls):
        """Waits for RUN_SCRAPES scrapes, then fixes [T0, T1] at a phase no
        sample timestamp has."""
        deadline = time.time() + RUN_SCRAPES + 20
        while cls.target.scrapes < RUN_SCRAPES:
            assert time.time() < deadline, "target scraped only %d times; prometheus log:\n%s" % (
                cls.target.scrapes, cls.prom.tail())
            assert cls.prom.proc.poll() is None, cls.prom.tail()
            time.sleep(0.2)
        now_ms = int(time.time() * 1000)
        r = api(cls.prom.url, "/api/v1/query", {"query": "up[60s]", "time": fsec(now_ms)})
        ts = [int(round(float(p[0]) * 1000)) for s in r["data"]["result"] for p in s["values"]]
        assert len(ts) >= RUN_SCRAPES, r
        cls.first_ms = min(ts)
        cls.phase, gap = safe_phase(ts)
        cls.t1 = (now_ms // 1000 - SETTLE_S) * 1000 + cls.phase
        if cls.t1 > now_ms - SETTLE_S * 1000:
            cls.t1 -= 1000
        cls.t0 = cls.t1 - WINDOW_S * 1000
        # Raw samples of the whole run, for the boundary check of subqueries.
        cls.all_ts = set()
        print(f"\nphase {cls.phase} ms (widest gap {gap} ms), T0={fsec(cls.t0)} T1={fsec(cls.t1)}, "
              f"first sample {fsec(cls.first_ms)}", flush=True)

    @classmethod
    def _raw(cls, base, job):
        span_s = (cls.t1 - cls.first_ms) // 1000 + 2
        return api(base, "/api/v1/query",
                   {"query": '{__name__=~".+",job="%s"}[%ds]' % (job, span_s), "time": fsec(cls.t1)})

    @classmethod
    def _sync(cls):
        """Waits (bounded) until scry holds every sample Prometheus holds up
        to T1; keeps, per job, Prometheus's series, both raw answers and
        the first difference (None when they agree)."""
        cls.raw = {}
        deadline = time.time() + 20
        for job in ("synth", "node"):
            series = api(cls.prom.url, "/api/v1/series", {"match[]": '{job="%s"}' % job,
                         "start": fsec(cls.first_ms - 1000), "end": fsec(cls.t1)})
            prom = cls._raw(cls.prom.url, job)
            while True:
                scry = cls._raw(cls.scry.api, job)
                d = diff(prom, scry, exact=True)
                if d is None or time.time() > deadline:
                    break
                time.sleep(0.3)
            cls.raw[job] = (series, prom, scry, d)
            if prom.get("status") == "success":
                for s in prom["data"]["result"]:
                    cls.all_ts.update(int(round(float(p[0]) * 1000)) for p in s["values"])

    def test_a_remote_write_matches_prometheus_storage(self):
        """Everything Prometheus stored up to T1 arrives in scry unchanged:
        same series, label sets, timestamps, and bit-equal values."""
        for job, (series, prom, scry, d) in self.raw.items():
            self.assertEqual(series["status"], "success", series)
            self.assertEqual(prom["status"], "success", prom)
            # Enough data that the comparison means something: all the
            # target's series (histogram, summary, specials, the flappy one)
            # and the node exporter's, 20 scrapes and more of each.
            self.assertGreaterEqual(len(series["data"]), 60 if job == "synth" else 100)
            self.assertIsNone(d, f"job {job}: raw samples up to T1 differ: {d}")
            ss = api(self.scry.api, "/api/v1/series", {"match[]": '{job="%s"}' % job,
                     "start": fsec(self.first_ms - 1000), "end": fsec(self.t1)})
            self.assertEqual(sorted(map(promdiff.key, series["data"])),
                             sorted(map(promdiff.key, ss["data"])))
            n = sum(len(s["values"]) for s in prom["data"]["result"])
            self.assertGreaterEqual(n, 20 * len(series["data"]) * 0.9)
            print(f"job {job}: {len(series['data'])} series, {n} samples bit-equal", flush=True)

    def test_a_labels_and_label_values(self):
        """/api/v1/labels and /api/v1/label/<name>/values list the same
        names and values on both."""
        for job, (_, _, _, d) in self.raw.items():
            self.assertIsNone(d, f"job {job}: raw data differ, see test (a)")
        rng = {"start": fsec(self.first_ms - 1000), "end": fsec(self.t1)}
        for job in ("synth", "node"):
            m = {"match[]": '{job="%s"}' % job, **rng}
            for path in ("/api/v1/labels", "/api/v1/label/__name__/values", "/api/v1/label/desc/values",
                         "/api/v1/label/le/values", "/api/v1/label/mode/values"):
                p, s = api(self.prom.url, path, m), api(self.scry.api, path, m)
                self.assertEqual(p["status"], "success", p)
                self.assertEqual(sorted(p["data"]), sorted(s.get("data") or []), f"{path} {job}")

    def test_b_api_parameter_forms(self):
        """Times and steps in the other forms the API accepts (RFC 3339,
        sub-millisecond digits, a fractional step, a duration step) select
        the same evaluation times."""
        for job, (_, _, _, d) in self.raw.items():
            self.assertIsNone(d, f"job {job}: raw data differ, see test (a)")
        def rfc3339(t_ms):
            return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_ms // 1000)) + ".%03dZ" % (t_ms % 1000)
        runs = [("/api/v1/query", {"query": "synth_temperature_celsius", "time": rfc3339(self.t1)}),
                ("/api/v1/query", {"query": "synth_state", "time": fsec(self.t1) + "4"}),
                ("/api/v1/query_range", {"query": "synth_temperature_celsius", "start": fsec(self.t0) + "4",
                                         "end": fsec(self.t1) + "2", "step": "2.0007"}),
                ("/api/v1/query_range", {"query": "synth_special", "start": rfc3339(self.t1 - 15000),
                                         "end": rfc3339(self.t1), "step": "2s"}),
                ("/api/v1/query_range", {"query": "time()", "start": fsec(self.t0), "end": fsec(self.t1),
                                         "step": "1m"})]
        for path, params in runs:
            p, s = api(self.prom.url, path, params), api(self.scry.api, path, params)
            self.assertEqual(p["status"], "success", (params, p))
            self.assertIsNone(diff(p, s), f"{path} {params}")

    def _start(self, q):
        """Where evaluation of q may start: T0, or for counter extrapolation
        (see EXTRAPOLATED) the first time whose windows all lie after the
        first sample, at the same phase."""
        if not EXTRAPOLATED.search(q):
            return self.t0
        need = self.first_ms + history_ms(q)
        return self.t0 + max(0, -(-(need - self.t0) // 1000) * 1000)

    def _ask_both(self, runs):
        """Prometheus's and scry's answers for every (path, params), a few
        requests in flight at a time."""
        def one(run):
            path, params = run
            return api(self.prom.url, path, params), api(self.scry.api, path, params)
        with ThreadPoolExecutor(4) as ex:
            return list(ex.map(one, runs))

    def test_c_promql_differential(self):
        """The same PromQL on both gives the same answer."""
        # Raw data must be complete in scry before queries mean anything.
        for job, (_, _, _, d) in self.raw.items():
            self.assertIsNone(d, f"job {job}: raw data differ, see test (a)")
        on_whole_second = any(t % 1000 == 0 for t in self.all_ts)
        at = fsec(self.t0 + 9000)
        instants = [self.t1, self.t1 - 6000, self.t0 + 4000, self.t0 + 13000]
        skipped, runs = [], []
        for q in QUERIES:
            if on_whole_second and SUBQUERY.search(q):
                skipped.append(q)   # a 2.x/3.x window boundary could fall on a sample
                continue
            start = self._start(q)
            qq = q.replace("{at}", at)
            runs += [(q, "/api/v1/query", {"query": qq, "time": fsec(t)}) for t in instants if t >= start]
            runs += [(q, "/api/v1/query_range", {"query": qq, "start": fsec(start), "end": fsec(self.t1),
                                                 "step": step}) for step in ("1", "3", "15")]
        answers = self._ask_both([(path, params) for _, path, params in runs])
        failures, seen, erred = {}, set(), set()
        for (q, path, params), (p, s) in zip(runs, answers):
            if p.get("data", {}).get("result"):
                seen.add(q)
            if p.get("status") != "success":
                erred.add(q)
            d = diff(p, s, ordered=q.startswith("sort") and path.endswith("query"))
            if d and q not in failures:   # the first difference of each query
                failures[q] = f"{path} {params}:\n  {d}"
        n_queries = len(QUERIES) - len(skipped)
        print(f"{n_queries} queries, {len(runs)} evaluations compared; "
              f"skipped (sample on a whole second): {skipped}", flush=True)
        self.assertFalse(failures, "\n\n".join(failures.values()))
        asked = {q for q, _, _ in runs}
        self.assertEqual(asked - seen - erred, EXPECTED_EMPTY)
        self.assertEqual(erred, EXPECTED_ERROR)

    def test_d_generated_grid(self):
        """Every range function, aggregation, operator and math function
        over every kind of series in the target, as range queries at 1s
        steps over [T0, T1]."""
        for job, (_, _, _, d) in self.raw.items():
            self.assertIsNone(d, f"job {job}: raw data differ, see test (a)")
        on_whole_second = any(t % 1000 == 0 for t in self.all_ts)
        runs = [("/api/v1/query_range", {"query": q, "start": fsec(self._start(q)), "end": fsec(self.t1),
                                         "step": "1"}) for q in grid_queries()
                if not (on_whole_second and SUBQUERY.search(q))]
        failures = []
        for (_, params), (p, s) in zip(runs, self._ask_both(runs)):
            self.assertEqual(p["status"], "success", (params, p))
            d = diff(p, s)
            if d:
                failures.append(f"{params}:\n  {d}")
        print(f"{len(runs)} generated range queries compared", flush=True)
        self.assertFalse(failures, "\n\n".join(failures[:10]))


if __name__ == "__main__":
    unittest.main()
