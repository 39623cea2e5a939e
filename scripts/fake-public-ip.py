#!/usr/bin/env python3
"""A stand-in for `curl ifconfig.me`: answers every GET with one fixed IPv4.

Usage: scripts/fake-public-ip.py PORT_FILE

Listens on 127.0.0.1 on a free port, writes that port (digits and a newline) to
PORT_FILE once it is accepting connections, and serves until killed (SIGTERM or
SIGINT). The body is the address alone, with no newline, as ifconfig.me sends it:
$FAKE_PUBLIC_IP, default 203.0.113.10 (TEST-NET-3, documentation only).
Point deploy at it with DEPLOY_PUBLIC_IP_URL=http://127.0.0.1:PORT/ so that
${public_ip} resolves without reaching the internet.
Set FAKE_PUBLIC_IP_LOG=1 to log each request to stderr.
"""
import http.server
import ipaddress
import os
import signal
import sys

DEFAULT_IP = "203.0.113.10"


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    port_file = sys.argv[1]
    raw = os.environ.get("FAKE_PUBLIC_IP", DEFAULT_IP)
    try:
        ip = str(ipaddress.IPv4Address(raw.strip()))
    except ValueError:
        print(f"fake-public-ip: FAKE_PUBLIC_IP={raw!r} is not an IPv4 address", file=sys.stderr)
        return 2
    body = ip.encode()
    verbose = os.environ.get("FAKE_PUBLIC_IP_LOG") == "1"

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fake-public-ip/1"

        def _answer(self, with_body: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._answer(True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(False)

        def log_message(self, fmt, *args) -> None:
            if verbose:
                sys.stderr.write("fake-public-ip: %s\n" % (fmt % args))

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    # The socket is already listening (bind+listen happen in the constructor),
    # so the port is published atomically only once a client can connect.
    tmp = f"{port_file}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, port_file)
    print(f"fake-public-ip: serving {ip} on http://127.0.0.1:{port}/", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
