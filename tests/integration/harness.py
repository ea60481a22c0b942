"""harness.py — start the real `scry server` on free ports with a temp data
dir and talk HTTP to it. No mocks of our own server: every integration test
goes through the binary a user runs.

The scry binary comes from $SCRY_BIN (meson sets it)."""
import gzip
import os
import re
import shutil
import signal
import sqlite3
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

SCRY = os.environ.get("SCRY_BIN", "scry")


def free_port():
    """A TCP port free at the moment of the call on 127.0.0.1."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, timeout, what, step=0.05):
    """Polls cond() every `step` s until it is true; AssertionError after
    `timeout` s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def tail_positions(data_dir):
    """{(dev, ino): off} of the tail checkpoints in data_dir/catalog.db
    (read while scry runs: WAL mode); {} when it cannot be read yet."""
    try:
        db = sqlite3.connect(f"file:{data_dir}/catalog.db?mode=ro", uri=True, timeout=5)
        try:
            return {(d, i): off for d, i, off in db.execute("SELECT dev, ino, off FROM tail_positions")}
        finally:
            db.close()
    except sqlite3.Error:
        return {}


def run_cli(*args, timeout=30, **kw):
    """Runs `scry ARGS`; returns (exit code, stdout, stderr)."""
    p = subprocess.run([SCRY, *args], capture_output=True, text=True, timeout=timeout, **kw)
    return p.returncode, p.stdout, p.stderr


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def text(self):
        return self.body.decode("utf-8")

    def json(self):
        import json
        return json.loads(self.body)


def http(method, url, body=None, headers=None, timeout=30):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            data = r.read()
            if r.headers.get("Content-Encoding") == "gzip":
                data = gzip.decompress(data)
            return Response(r.status, r.headers, data)
    except urllib.error.HTTPError as e:
        data = e.read()
        if e.headers.get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        return Response(e.code, e.headers, data)


class Server:
    """A running `scry server`. Use as a context manager or call stop()."""

    def __init__(self, *extra, data_dir=None, config=None, listen="127.0.0.1:0",
                 otlp_listen="127.0.0.1:0", wait_ready=True):
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="scry-it-")
        args = [SCRY, "server", "--data", self.data_dir, "--listen", listen,
                "--otlp-listen", otlp_listen, *extra]
        if config is not None:
            args += ["--config", config]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.api = self.otlp = None
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if wait_ready:
            self.wait_listening()
            self.wait_ready()

    def _read_log(self):
        for line in self.proc.stderr:
            with self._seen:
                self.lines.append(line.rstrip("\n"))
                m = re.search(r'msg="?listening"? listener=(\w+) addr=(\S+)', line)
                if m:
                    setattr(self, m.group(1), "http://" + m.group(2))
                self._seen.notify_all()
        with self._seen:
            self._seen.notify_all()

    def wait_log(self, pattern, timeout=20):
        """Waits for a log line matching pattern; returns it."""
        deadline = time.time() + timeout
        with self._seen:
            while True:
                for line in self.lines:
                    if re.search(pattern, line):
                        return line
                left = deadline - time.time()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(f"no log line matching {pattern!r}; log:\n" + "\n".join(self.lines))
                self._seen.wait(min(left, 0.2))

    def wait_listening(self, timeout=20):
        self.wait_log(r'msg="?listening"? listener=otlp', timeout)

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if http("GET", self.api + "/-/ready").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("server not ready; log:\n" + "\n".join(self.lines))

    def get(self, path, **kw):
        return http("GET", self.api + path, **kw)

    def post(self, path, body=b"", **kw):
        return http("POST", self.api + path, body=body, **kw)

    def post_form(self, path, params):
        body = urllib.parse.urlencode(params, doseq=True).encode()
        return http("POST", self.api + path, body=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stops the server; returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._reader.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Agent:
    """A running `scry agent` listening on a free port, stderr collected in
    .lines; .api is its HTTP base URL. Tests subclass it for metrics."""

    def __init__(self, config, data_dir, *extra, env=None):
        e = os.environ.copy()
        e.update(env or {})
        self.proc = subprocess.Popen([SCRY, "agent", "--config", config, "--data", data_dir,
                                      "--listen", "127.0.0.1:0", *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     env=e)
        self.lines, self.api = [], None
        self._cv = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        with self._cv:
            self._cv.wait_for(lambda: self.api or self.proc.poll() is not None, 20)
        if not self.api:
            raise AssertionError("agent did not start:\n" + "\n".join(self.lines))

    def _read(self):
        for line in self.proc.stderr:
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                m = re.search(r'component=http msg="?listening"? addr=(\S+)', line)
                if m:
                    self.api = "http://" + m.group(1)
                self._cv.notify_all()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(30)
        self._reader.join(5)
        self.proc.stderr.close()
        return rc


class LogWriter(threading.Thread):
    """Appends "line NNNNNN the quick brown fox M" (numbers first..first+n)
    to `path` at a steady `rate` lines/s (bursts of 10 on a fixed schedule,
    so a slow sleep does not slow the rate down), rotating every `per_file`
    lines by rename (to path.K) or copytruncate (copy to path.K, truncate in
    place). copytruncate loses what the tailer has not read at the moment
    of the truncation (with any tailer), so before one it calls
    caught_up(os.stat(path)), which waits until the whole file is read."""

    def __init__(self, path, n, per_file, mode, rate, caught_up, first=0):
        super().__init__(daemon=True)
        self.path, self.n, self.per_file, self.mode = path, n, per_file, mode
        self.rate, self.caught_up, self.first = rate, caught_up, first
        self.rotations, self.error = 0, None

    def run(self):
        try:
            f = open(self.path, "a")
            start = time.monotonic()
            for k in range(self.n):
                if k and k % self.per_file == 0:
                    f = self.rotate(f)
                    start = time.monotonic() - k / self.rate  # a pause is not made up for
                i = self.first + k
                f.write(f"line {i:06d} the quick brown fox {i % 97}\n")
                f.flush()
                if k % 10 == 9:
                    ahead = start + (k + 1) / self.rate - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
            f.close()
        except Exception as e:  # reported by the test
            self.error = e

    def rotate(self, f):
        self.rotations += 1
        dst = f"{self.path}.{self.rotations}"
        if self.mode == "rename":
            f.close()
            os.rename(self.path, dst)
            return open(self.path, "a")
        self.caught_up(os.stat(self.path))
        shutil.copyfile(self.path, dst)
        os.truncate(self.path, 0)
        return f  # opened with O_APPEND: writes go to the new end
