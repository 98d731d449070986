"""The pod's own view of its network, served as JSON on :8080, so tests need no exec.

GET /healthz        "ok"
GET /net, GET /     {"hostname", "links", "addresses", "routes"}: `ip -j` output, routes of all tables
GET /ping/<ipv4>    {"target", "transmitted", "received", "returncode", "output"}: three pings from the pod
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address

PORT = 8080
_PING_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")


def ip_json(*args: str) -> list:
    return json.loads(subprocess.run(["ip", "-j", *args], capture_output=True, check=True, text=True).stdout)


def view() -> dict:
    return {
        "hostname": socket.gethostname(),
        "links": ip_json("-d", "link", "show"),
        "addresses": ip_json("address", "show"),
        "routes": ip_json("route", "show", "table", "all"),
    }


def ping(target: IPv4Address) -> dict:
    proc = subprocess.run(
        ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", str(target)], capture_output=True, text=True, check=False
    )
    summary = _PING_SUMMARY.search(proc.stdout)
    transmitted, received = (int(n) for n in summary.groups()) if summary else (0, 0)
    return {
        "target": str(target),
        "transmitted": transmitted,
        "received": received,
        "returncode": proc.returncode,
        "output": proc.stdout + proc.stderr,
    }


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._send(200, "text/plain", b"ok\n")
        elif self.path in ("/", "/net"):
            self._json(200, view())
        elif self.path.startswith("/ping/"):
            try:
                target = IPv4Address(self.path.removeprefix("/ping/"))
            except ValueError:
                self._json(400, {"error": "ping needs an IPv4 address: /ping/<ipv4>"})
                return
            self._json(200, ping(target))
        else:
            self._json(404, {"error": f"no such path {self.path}; try /net, /healthz or /ping/<ipv4>"})

    def _json(self, status: int, body: dict) -> None:
        self._send(status, "application/json", json.dumps(body, indent=1).encode() + b"\n")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep probe traffic out of the pod log."""


if __name__ == "__main__":
    ThreadingHTTPServer(("", PORT), Handler).serve_forever()
