"""Loki's live tail (GET /loki/api/v1/tail over a WebSocket) through the real
server, with a minimal RFC 6455 client written here (the stdlib has none):
the handshake and Sec-WebSocket-Accept, the first batch from `start` with
its `limit`, new pushed lines arriving in order with their labels and the
line filter applied, categorize-labels, ping/pong, a clean close, the
plain-text 400s before the upgrade, the cap on concurrent tails, v2alpha
being absent, and the close frame a session gets when the server stops."""
import base64
import hashlib
import json
import os
import socket
import struct
import time
import unittest
import urllib.parse

from harness import Server

NS = 1_000_000_000
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class WS:
    """A WebSocket client: masked frames out, whole frames in."""

    def __init__(self, base, path, headers=None):
        host, port = base.replace("http://", "").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: {self.key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n")
        for k, v in (headers or {}).items():
            req += f"{k}: {v}\r\n"
        self.sock.sendall((req + "\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}

    def accept_ok(self):
        want = base64.b64encode(hashlib.sha1(self.key.encode() + GUID).digest()).decode()
        return self.headers.get("sec-websocket-accept") == want

    def send(self, opcode, payload=b"", fin=True):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def recv(self, timeout=10):
        """(opcode, payload) of the next frame; server frames are unmasked."""
        self.sock.settimeout(timeout)
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        assert b1 & 0x80 == 0, "server frames must not be masked"
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, off = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(off + n)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        assert b0 & 0x80, "server frames are final"
        return b0 & 0x0F, payload

    def close(self):
        self.sock.close()


def push(srv, job, entries, extra_labels=None):
    stream = {"job": job}
    stream.update(extra_labels or {})
    body = json.dumps({"streams": [{"stream": stream, "values": entries}]}).encode()
    r = srv.post("/loki/api/v1/push", body, headers={"Content-Type": "application/json"})
    assert r.status == 204, (r.status, r.body)


def tail_path(**params):
    return "/loki/api/v1/tail?" + urllib.parse.urlencode(params)


def collect(ws, want, timeout=10):
    """Text frames until `want` entries arrived: [(labels, ts, line, extra)]."""
    got, deadline = [], time.time() + timeout
    while len(got) < want:
        op, p = ws.recv(max(0.1, deadline - time.time()))
        assert op == 1, (op, p)
        msg = json.loads(p)
        assert "dropped_entries" not in msg
        for s in msg["streams"]:
            for v in s["values"]:
                got.append((s["stream"], v[0], v[1], v[2:]))
    return got


class LokiTailTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_tail_sends_history_then_new_lines_filtered_in_order(self):
        now = time.time_ns()
        push(self.srv, "t1", [[str(now - 30 * NS), "old x 1"], [str(now - 20 * NS), "old y"],
                              [str(now - 10 * NS), "old x 2"]])
        ws = WS(self.srv.api, tail_path(query='{job="t1"} |= "x"', start=str(now - 60 * NS)))
        self.assertEqual(ws.status, 101)
        self.assertTrue(ws.accept_ok(), ws.headers)
        self.assertEqual(ws.headers.get("upgrade", "").lower(), "websocket")
        hist = collect(ws, 2)
        self.assertEqual([(h[0], h[1], h[2]) for h in hist],
                         [({"job": "t1"}, str(now - 30 * NS), "old x 1"),
                          ({"job": "t1"}, str(now - 10 * NS), "old x 2")])
        # new lines: pushed in three requests, the filter drops the "y" ones
        sent = []
        for i in range(6):
            t = time.time_ns()
            line = f"new {'x' if i % 2 == 0 else 'y'} {i}"
            push(self.srv, "t1", [[str(t), line]], {"env": "e" + str(i % 3)} if i == 4 else None)
            if i % 2 == 0:
                sent.append((t, line, i))
            time.sleep(0.1)
        got = collect(ws, 3)
        self.assertEqual([g[2] for g in got], [l for _, l, _ in sent])
        self.assertEqual([g[1] for g in got], [str(t) for t, _, _ in sent])
        self.assertEqual([g[0] for g in got], [{"job": "t1"}, {"job": "t1"}, {"env": "e1", "job": "t1"}])
        # nothing else comes: the non-matching lines stay out, none repeats
        ws.sock.settimeout(1.0)
        with self.assertRaises(socket.timeout):
            ws.recv(1.0)
        # ping → pong with the same payload; close → close with the same code
        ws.send(0x9, b"hello")
        self.assertEqual(ws.recv(), (0xA, b"hello"))
        ws.send(0x8, struct.pack(">H", 1000) + b"bye")
        op, p = ws.recv()
        self.assertEqual(op, 0x8)
        self.assertEqual(struct.unpack(">H", p[:2])[0], 1000)
        ws.sock.settimeout(5)
        self.assertEqual(ws.sock.recv(10), b"")  # the server closed the connection
        ws.close()

    def test_limit_and_fragmented_client_messages(self):
        now = time.time_ns()
        push(self.srv, "t2", [[str(now - 3 * NS + i), f"line {i}"] for i in range(5)])
        ws = WS(self.srv.api, tail_path(query='{job="t2"}', start=str(now - 10 * NS), limit="2"))
        self.assertEqual(ws.status, 101)
        got = collect(ws, 2)
        self.assertEqual([g[2] for g in got], ["line 0", "line 1"])  # the oldest, forward
        # a fragmented text message with a ping between its fragments
        ws.send(0x1, b"ab", fin=False)
        ws.send(0x9, b"p")
        ws.send(0x0, b"cd", fin=True)
        self.assertEqual(ws.recv(), (0xA, b"p"))
        t = time.time_ns()
        push(self.srv, "t2", [[str(t), "after"]])
        got = collect(ws, 1)
        self.assertEqual(got[0][1:3], (str(t), "after"))
        # a protocol error (an unmasked frame) gets close 1002
        ws.sock.sendall(bytes([0x81, 0x01, 0x41]))
        op, p = ws.recv()
        self.assertEqual((op, struct.unpack(">H", p[:2])[0]), (0x8, 1002))
        ws.close()

    def test_late_entries_arrive_once(self):
        ws = WS(self.srv.api, tail_path(query='{job="late"}', delay_for="1"))
        self.assertEqual(ws.status, 101)
        time.sleep(0.6)  # a few polls pass the late entry's timestamp first
        now = time.time_ns()
        push(self.srv, "late", [[str(now - 2 * NS), "two seconds late"], [str(now), "on time"]])
        got = collect(ws, 2)
        self.assertEqual([(g[1], g[2]) for g in got],
                         [(str(now - 2 * NS), "two seconds late"), (str(now), "on time")])
        with self.assertRaises(socket.timeout):  # re-read windows send nothing twice
            ws.recv(1.5)
        ws.close()

    def test_categorize_labels(self):
        now = time.time_ns()
        ws = WS(self.srv.api, tail_path(query='{job="t3"} | logfmt', start=str(now - NS)),
                headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"})
        self.assertEqual(ws.status, 101)
        push(self.srv, "t3", [[str(time.time_ns()), "level=warn msg=hi", {"trace_id": "abc"}]])
        op, p = ws.recv()
        msg = json.loads(p)
        self.assertEqual(list(msg), ["streams", "encodingFlags"])
        self.assertEqual(msg["encodingFlags"], ["categorize-labels"])
        s = msg["streams"][0]
        self.assertEqual(s["stream"], {"job": "t3"})
        self.assertEqual(s["values"][0][1], "level=warn msg=hi")
        self.assertEqual(s["values"][0][2], {"structuredMetadata": {"trace_id": "abc"},
                                             "parsed": {"level": "warn", "msg": "hi"}})
        ws.close()

    def test_errors_before_upgrade(self):
        r = self.srv.get(tail_path(query='{job="x"}'))
        self.assertEqual(r.status, 400)
        self.assertIn("not using the websocket protocol", r.text())
        for params, text in [({"query": '{job="x"'}, "parse error"),
                             ({"query": 'count_over_time({job="x"}[1m])'}, "log queries"),
                             ({"query": '{job="x"}', "delay_for": "6"}, "delay_for"),
                             ({"query": '{job="x"}', "limit": "0"}, "limit")]:
            ws = WS(self.srv.api, tail_path(**params))
            self.assertEqual(ws.status, 400, params)
            ws.close()
        # Grafana's streaming probe: anything but 400 means "no v2alpha"
        r = self.srv.get("/loki/api/v2alpha/tail?query=" + urllib.parse.quote('{job="x"}'))
        self.assertNotEqual(r.status, 400)

    def test_concurrent_tails_are_capped(self):
        open_ = []
        for _ in range(10):
            ws = WS(self.srv.api, tail_path(query='{job="cap"}'))
            self.assertEqual(ws.status, 101)
            open_.append(ws)
        time.sleep(0.3)  # sessions take their slot once upgraded
        ws = WS(self.srv.api, tail_path(query='{job="cap"}'))
        self.assertEqual(ws.status, 429)
        ws.close()
        for ws in open_:
            ws.send(0x8, struct.pack(">H", 1000))
            self.assertEqual(ws.recv()[0], 0x8)
            ws.close()
        deadline = time.time() + 5
        while True:  # slots are released as sessions end
            ws = WS(self.srv.api, tail_path(query='{job="cap"}'))
            if ws.status == 101 or time.time() > deadline:
                break
            ws.close()
            time.sleep(0.1)
        self.assertEqual(ws.status, 101)
        ws.close()


class LokiTailShutdownTest(unittest.TestCase):
    def test_server_stop_closes_sessions(self):
        srv = Server()
        try:
            ws = WS(srv.api, tail_path(query='{job="z"}'))
            self.assertEqual(ws.status, 101)
            t0 = time.time()
            srv.send_signal(15)
            op, p = ws.recv()
            self.assertEqual((op, struct.unpack(">H", p[:2])[0]), (0x8, 1001), p[2:])
            self.assertEqual(srv.stop(), 0)
            self.assertLess(time.time() - t0, 8)
            ws.close()
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main()
