#!/usr/bin/env python3
"""mirror_proxy.py: the HTTP forward proxy through which apt in the fresh root (its own
network namespace) reaches the Debian mirror. It forwards plain-HTTP GET and HEAD requests
to the allowed hosts only (read from the apt sources by fresh_root.sh), refuses everything
else, and stops by itself after its time limit.

usage: mirror_proxy.py LISTEN_ADDR PORT_FILE SECONDS HOST[:PORT]...
Binds LISTEN_ADDR on a free port, writes the port to PORT_FILE, logs one line a request."""
import http.client
import http.server
import os
import socketserver
import sys
import threading
import time
import urllib.parse

# Hop-by-hop headers (RFC 9110, 7.6.1) belong to one connection and are never forwarded.
HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization",
       "proxy-authenticate", "te", "trailer", "transfer-encoding", "upgrade"}
CHUNK = 1 << 16


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allowed = frozenset()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A client that goes quiet (apt gave up) frees its thread after this many seconds.
    timeout = 120

    def setup(self):
        super().setup()
        self.upstream = {}

    def finish(self):
        for conn in self.upstream.values():
            conn.close()
        super().finish()

    def log_message(self, fmt, *args):
        sys.stderr.write("mirror_proxy: " + (fmt % args) + "\n")

    def target(self):
        """Returns (host, port, path) of an allowed absolute http:// URI, or None."""
        url = urllib.parse.urlsplit(self.path)
        if url.scheme != "http" or not url.hostname:
            return None
        port = url.port or 80
        key = url.hostname.lower() + ("" if port == 80 else ":%d" % port)
        if key not in self.server.allowed:
            return None
        return url.hostname, port, (url.path or "/") + ("?" + url.query if url.query else "")

    def forward(self):
        dest = self.target()
        if dest is None:
            self.send_error(403, "only the apt mirror is reachable from the fresh root")
            return
        host, port, path = dest
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        conn = self.upstream.get((host, port))
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=60)
                self.upstream[(host, port)] = conn
            conn.request(self.command, path, headers=headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            self.upstream.pop((host, port), None)
            conn.close()
            self.send_error(502, "mirror unreachable: %s" % e)
            return
        # The mirror's own Date and Server headers go through, not this server's.
        self.log_request(resp.status)
        self.send_response_only(resp.status, resp.reason)
        length = resp.getheader("Content-Length")
        for k, v in resp.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        # Without a length (a chunked answer, decoded by http.client) the body ends when this
        # connection closes.
        if length is None and self.command != "HEAD" and resp.status not in (204, 304):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        while self.command != "HEAD":
            data = resp.read(CHUNK)
            if not data:
                break
            self.wfile.write(data)
        resp.close()
        if resp.will_close:
            self.upstream.pop((host, port), None)
            conn.close()

    do_GET = forward
    do_HEAD = forward


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    addr, port_file, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    server = Server((addr, 0), Handler)
    server.allowed = frozenset(h.lower() for h in sys.argv[4:])
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    # Renamed whole, so a reader never sees half a number.
    os.rename(port_file + ".tmp", port_file)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    time.sleep(seconds)
    sys.stderr.write("mirror_proxy: time limit reached, stopping\n")
    server.shutdown()


if __name__ == "__main__":
    main()
