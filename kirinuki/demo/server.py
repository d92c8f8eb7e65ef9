"""A small threaded HTTP server on loopback for the offline demo, the tests and the benchmark.

Serves a dict of path -> `Resource`, answers conditional requests (ETag / Last-Modified -> 304)
like a real site, and keeps a log of requests (with headers) that tests assert on. Runs in
background threads so it never competes with the crawler's reactor for its event loop.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Resource:
    body: bytes
    content_type: str | None = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    last_modified: float | None = None  # unix time; ETag is always derived from the body

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'


@dataclass(frozen=True)
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    status: int
    at: float = field(default_factory=time.monotonic)  # when it was answered (spacing checks)


# A hook may answer a request itself (faults in tests); return True when it did.
Hook = Callable[["SiteHandler", str], bool]


class SiteHandler(BaseHTTPRequestHandler):
    server: SiteServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        site = self.server
        path = self.path
        if site.delay:
            threading.Event().wait(site.delay)
        hook = site.hooks.get(path.split("?", 1)[0]) or site.hooks.get(path)
        if hook is not None and hook(self, path):
            site.log(self, 0)  # answered (or hung up) by the hook
            return
        res = site.resources.get(path)
        if res is None:
            self.send_bytes(404, b"not found", "text/plain")
            site.log(self, 404)
            return
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        not_modified = False
        if res.status == 200:
            if inm is not None:
                not_modified = res.etag in [t.strip() for t in inm.split(",")]
            elif ims is not None and res.last_modified is not None:
                try:
                    not_modified = parsedate_to_datetime(ims).timestamp() >= int(res.last_modified)
                except (TypeError, ValueError):
                    not_modified = False
        site.log(self, 304 if not_modified else res.status)
        headers = {"ETag": res.etag, **res.headers}
        if res.last_modified is not None:
            headers["Last-Modified"] = formatdate(res.last_modified, usegmt=True)
        if not_modified:
            self.send_bytes(304, b"", None, headers, head=True)
            return
        self.send_bytes(res.status, res.body, res.content_type, headers, head=head)

    def send_bytes(self, status: int, body: bytes, content_type: str | None,
                   headers: dict[str, str] | None = None, head: bool = False) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0" if status == 304 else str(len(body)))
        self.end_headers()
        if not head and status != 304:
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass


class SiteServer(ThreadingHTTPServer):
    """`with SiteServer(resources) as s: s.url("/feed.xml")` -- stops and joins on exit."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, resources: dict[str, Resource] | None = None, host: str = "127.0.0.1",
                 port: int = 0, delay: float = 0.0) -> None:
        super().__init__((host, port), SiteHandler)
        self.resources: dict[str, Resource] = dict(resources or {})
        self.hooks: dict[str, Hook] = {}
        self.delay = delay
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up (size caps, timeouts, fault tests) are expected

    def log(self, handler: SiteHandler, status: int) -> None:
        hit = Hit(handler.command, handler.path, dict(handler.headers.items()), status)
        with self._lock:
            self.hits.append(hit)

    def requests_for(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def start(self) -> SiteServer:
        self._thread = threading.Thread(target=self.serve_forever, name="siteserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(5)
            self._thread = None
        self.server_close()

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
