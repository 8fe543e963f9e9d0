"""A local stand-in for the Hugging Face Hub, for download tests without the network.

It answers what ``hf_hub_download`` asks over plain HTTP: ``HEAD`` and ``GET`` of
``/{owner}/{repo}/resolve/{revision}/{file}``, with the headers the library reads (``ETag``
— the file's sha256, as the hub gives for an LFS file —, ``X-Repo-Commit``,
``Content-Length``) and ``Range`` requests. A served file can be slowed down
(``delay_per_mb``) or paused after some bytes until the test releases it (``pause_at`` +
``release``), so that progress and cancel are observable without leaning on timing.
Point a process at it with ``HF_ENDPOINT=standin.url`` (or ``endpoint=`` in the call).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"
CHUNK = 64 * 1024
PAUSE_LIMIT_S = 120.0  # a paused stream goes on after this even if the test never releases it


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class Served:
    path: Path
    etag: str  # what the stand-in claims is the sha256 (a test may lie)
    delay_per_mb: float = 0.0
    pause_at: int | None = None  # bytes sent before the stream waits for ``released``
    released: threading.Event = field(default_factory=threading.Event)
    paused: threading.Event = field(default_factory=threading.Event)  # set once the stream waits
    gets: int = 0


class HubStandIn:
    def __init__(self) -> None:
        self.files: dict[tuple[str, str], Served] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="hub-standin", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def serve(self, repo_id: str, filename: str, path: Path, etag: str | None = None, **options: object) -> Served:
        served = Served(path=path, etag=etag or file_sha256(path), **options)  # type: ignore[arg-type]
        self.files[(repo_id, filename)] = served
        return served

    def start(self) -> HubStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        for served in self.files.values():
            served.released.set()
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def _find(self) -> Served | None:
                match = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", unquote(self.path.split("?")[0]))
                hub.requests.append((self.command, self.path, self.headers.get("Range")))
                if match is None:
                    return None
                return hub.files.get((match.group(1), match.group(3)))

            def _missing(self) -> None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("X-Error-Message", "Entry not found")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _headers(self, served: Served, status: int, start: int, size: int) -> None:
                self.send_response(status)
                self.send_header("ETag", f'"{served.etag}"')
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size - start))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
                self.end_headers()

            def do_HEAD(self) -> None:  # noqa: N802
                served = self._find()
                if served is None:
                    return self._missing()
                self._headers(served, 200, 0, served.path.stat().st_size)

            def do_GET(self) -> None:  # noqa: N802
                served = self._find()
                if served is None:
                    return self._missing()
                served.gets += 1
                size = served.path.stat().st_size
                start = 0
                wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if wanted:
                    start = int(wanted.group(1))
                self._headers(served, 206 if wanted else 200, start, size)
                sent = start
                try:
                    with served.path.open("rb") as f:
                        f.seek(start)
                        while block := f.read(CHUNK):
                            if served.pause_at is not None and sent < served.pause_at <= sent + len(block):
                                cut = served.pause_at - sent
                                self.wfile.write(block[:cut])
                                self.wfile.flush()
                                sent, block = sent + cut, block[cut:]
                                served.paused.set()
                                served.released.wait(PAUSE_LIMIT_S)
                            self.wfile.write(block)
                            sent += len(block)
                            if served.delay_per_mb:
                                time.sleep(served.delay_per_mb * len(block) / 1e6)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading (a cancelled download)

        return Handler
