"""HTTP echo server for the kernel tests: answers ``<name> saw client <peer address>``.

Run inside a namespace: ``python echo_server.py BIND PORT NAME LOG``. Every
request is appended to LOG as ``<peer> <path>``; ``ready`` is printed on stdout
once the socket listens. Standard library only (it also runs in the QEMU guest).
"""

from __future__ import annotations

import http.server
import sys


def main() -> None:
    """Serve forever on BIND:PORT."""
    bind, port, name, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            peer = self.client_address[0]
            with open(log, "a", encoding="utf-8") as out:
                out.write(f"{peer} {self.path}\n")
            body = f"{name} saw client {peer}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((bind, port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
