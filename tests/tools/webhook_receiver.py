#!/usr/bin/python3
"""webhook_receiver: a webhook receiver for the notification tests. Listens on loopback,
records every request as one JSON line when it answers it (arrival time, path, Parallax
headers, the body parsed and raw, whether the signature and timestamp verify, the status
answered) and, at once on arrival, its key in --arrivals (if given), and answers as its mode file says:
a status code ("200", "503", "400", ...), or "hold" (keep the request open, answering nothing,
until the mode changes; bounded by --hold-max). The mode is re-read for every request, so a
test changes the answer by rewriting the file.

usage: webhook_receiver.py --port-file FILE --log FILE --secret SECRET [--mode-file FILE]
                           [--arrivals FILE] [--max-skew S] [--hold-max S]
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import socketserver
import threading
import time


def verify(secret, headers, body, max_skew):
    """(signature ok, timestamp ok) of a request, as a receiver should check them."""
    ts = headers.get("X-Parallax-Timestamp", "")
    sig = headers.get("X-Parallax-Signature", "")
    if not ts.isdigit() or not sig.startswith("sha256="):
        return False, False
    want = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig[7:]), abs(time.time() - int(ts)) <= max_skew


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--mode-file")
    ap.add_argument("--arrivals")
    ap.add_argument("--max-skew", type=int, default=300)
    ap.add_argument("--hold-max", type=float, default=120)
    args = ap.parse_args()
    lock = threading.Lock()

    def mode():
        try:
            with open(args.mode_file) as f:
                return f.read().strip() or "200"
        except (OSError, TypeError):
            return "200"

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if 0 < n <= 1 << 20 else b""
            arrived = time.time()
            if args.arrivals:
                with lock, open(args.arrivals, "a") as f:
                    f.write("%s\n" % self.headers.get("X-Parallax-Key"))
            m = mode()
            deadline = arrived + args.hold_max
            while m == "hold" and time.time() < deadline:
                time.sleep(0.05)
                m = mode()
            status = int(m) if m.isdigit() else 200
            sig_ok, ts_ok = verify(args.secret, self.headers, body, args.max_skew)
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            rec = {
                "arrived": arrived,
                "path": self.path,
                "key": self.headers.get("X-Parallax-Key"),
                "content_type": self.headers.get("Content-Type"),
                "sig_ok": sig_ok,
                "ts_ok": ts_ok,
                "status": status,
                "body": parsed,
                "raw": body.decode("utf-8", "replace"),
                "timestamp": self.headers.get("X-Parallax-Timestamp"),
                "signature": self.headers.get("X-Parallax-Signature"),
            }
            with lock, open(args.log, "a") as f:
                f.write(json.dumps(rec, sort_keys=True) + "\n")
                f.flush()
                os.fsync(f.fileno())
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
