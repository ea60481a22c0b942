#!/usr/bin/env python3
"""Records real remote_write requests for test_remote_write.c (run once, by hand).

Starts a capture server on 127.0.0.1:PORT that answers 204 and writes each
POST body, byte for byte as received, to OUT/prom_rw_<n>.bin and its headers
to OUT/prom_rw_<n>.hdr ("Name: value" lines), then exits after N requests.
Used with Debian's prometheus 2.42 scraping itself:

  ./capture_rw.py 19391 3 . &
  prometheus --config.file=prom_rw.yml --storage.tsdb.path=/tmp/promdata \
             --web.listen-address=127.0.0.1:19390
"""
import http.server
import sys

port, want, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
seen = 0


class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if seen < want:
            with open(f"{out}/prom_rw_{seen}.bin", "wb") as f:
                f.write(body)
            with open(f"{out}/prom_rw_{seen}.hdr", "w") as f:
                for k in ("Content-Type", "Content-Encoding", "User-Agent",
                          "X-Prometheus-Remote-Write-Version"):
                    if self.headers.get(k) is not None:
                        f.write(f"{k}: {self.headers[k]}\n")
            seen += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


srv = http.server.HTTPServer(("127.0.0.1", port), H)
while seen < want:
    srv.handle_request()
