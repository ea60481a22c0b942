"""tls_config.server_name (collector/README.md "TLS"): a throwaway CA signs
a certificate for `scry.test` only; Python's stdlib serves HTTPS with it on
127.0.0.1. With server_name the scrape (and the agent's remote_write)
verifies the certificate against scry.test while connecting to 127.0.0.1
and sending the target's own address as Host; without it the certificate
does not match and the target is down with that reason."""
import http.server
import os
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

from harness import Server
from test_agent import Agent

EXPOSITION = b"# TYPE scry_tls_test_value gauge\nscry_tls_test_value{k=\"a\"} 42\n"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certs(d):
    """ca.pem, and server.pem/server.key for DNS name scry.test only."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "2", "-subj", "/CN=scry test CA", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=scry.test", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:scry.test\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)


class HTTPS:
    """A stdlib HTTPS server on 127.0.0.1:0 that records each request's
    method, path, Host header and body; GET answers EXPOSITION, POST 204."""

    def __init__(self, d):
        self.requests = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.requests.append(("GET", self.path, self.headers.get("Host"), b""))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(EXPOSITION)))
                self.end_headers()
                self.wfile.write(EXPOSITION)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                outer.requests.append(("POST", self.path, self.headers.get("Host"), body))
                self.send_response(204)
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(d, "server.pem"), os.path.join(d, "server.key"))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.addr = "127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_for(fn, what, timeout=30):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.2)


def query(s, q):
    r = s.get("/api/v1/query?" + urllib.parse.urlencode({"query": q})).json()
    return {tuple(sorted(x["metric"].items())): float(x["value"][1]) for x in r["data"]["result"]}


class TLSServerNameTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        make_certs(cls.dir.name)
        cls.srv = HTTPS(cls.dir.name)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.dir.cleanup()

    def config(self, tls_extra):
        path = os.path.join(self.dir.name, "scry.yml")
        ca = os.path.join(self.dir.name, "ca.pem")
        with open(path, "w") as f:
            f.write(f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: tls
    scheme: https
    tls_config:
      ca_file: {ca}
{tls_extra}
    static_configs:
      - targets: ['{self.srv.addr}']
""")
        return path

    def test_server_name_verifies_against_it_and_keeps_host(self):
        self.srv.requests.clear()
        with Server(config=self.config("      server_name: scry.test")) as s:
            def up():
                t = s.get("/api/v1/targets").json()["data"]["activeTargets"]
                return t and t[0]["health"] == "up" and t[0]
            t = wait_for(up, "the https target to be up")
            self.assertEqual(t["lastError"], "")
            self.assertEqual(t["scrapeUrl"], f"https://{self.srv.addr}/metrics")
            want = (("__name__", "up"), ("instance", self.srv.addr), ("job", "tls"))
            wait_for(lambda: query(s, "up").get(want) == 1.0, "up == 1 stored")
            v = wait_for(lambda: query(s, "scry_tls_test_value"), "the scraped sample stored")
            self.assertEqual(v, {(("__name__", "scry_tls_test_value"), ("instance", self.srv.addr),
                                  ("job", "tls"), ("k", "a")): 42.0})
        gets = [r for r in self.srv.requests if r[0] == "GET"]
        self.assertTrue(gets)
        # The connection went to 127.0.0.1 and Host is the target, not scry.test.
        self.assertEqual({r[2] for r in gets}, {self.srv.addr})
        self.assertEqual({r[1] for r in gets}, {"/metrics"})

    def test_without_server_name_the_certificate_does_not_match(self):
        with Server(config=self.config("")) as s:
            def down():
                t = s.get("/api/v1/targets").json()["data"]["activeTargets"]
                return t and t[0]["health"] == "down" and t[0]
            t = wait_for(down, "the https target to be down")
            err = t["lastError"].lower()
            self.assertTrue("certificate" in err or "ssl" in err or "host" in err, err)
            want = (("__name__", "up"), ("instance", self.srv.addr), ("job", "tls"))
            wait_for(lambda: query(s, "up").get(want) == 0.0, "up == 0 stored")
            self.assertEqual(query(s, "scry_tls_test_value"), {})

    def test_agent_remote_write_uses_server_name(self):
        self.srv.requests.clear()
        ca = os.path.join(self.dir.name, "ca.pem")
        path = os.path.join(self.dir.name, "agent.yml")
        with open(path, "w") as f:
            f.write(f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: tls
    scheme: https
    tls_config: {{ca_file: {ca}, server_name: scry.test}}
    static_configs:
      - targets: ['{self.srv.addr}']
remote_write:
  - url: https://{self.srv.addr}/api/v1/write
    tls_config: {{ca_file: {ca}, server_name: scry.test}}
    queue_config:
      batch_send_deadline: 500ms
      min_backoff: 50ms
      max_backoff: 500ms
""")
        data = os.path.join(self.dir.name, "agent-data")
        a = Agent(path, data)
        try:
            posts = wait_for(lambda: [r for r in self.srv.requests if r[0] == "POST"],
                             "a remote_write POST over TLS")
        finally:
            a.stop()
        self.assertEqual(posts[0][1], "/api/v1/write")
        self.assertEqual(posts[0][2], self.srv.addr)
        self.assertTrue(posts[0][3], "an empty remote_write body")


if __name__ == "__main__":
    unittest.main()
