"""The plain servers the baselines download from: an in-process HTTP(S) server that answers
every GET with the same bytes, with no framework, proof or database in the way."""

from __future__ import annotations

import contextlib
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType


class BytesServer:
    """Serves ``body`` on ``host`` (an ephemeral port) at ``url``; HTTPS with ``tls`` =
    (certificate chain, key). Stop it with :meth:`close` or a ``with`` block."""

    def __init__(
        self, body: bytes, *, host: str = "127.0.0.1", path: str = "/",
        content_type: str = "application/octet-stream", tls: tuple[Path, Path] | None = None,
    ) -> None:  # fmt: skip
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up (a cut link)
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                del format, args

        self._httpd = ThreadingHTTPServer((host, 0), Handler)
        scheme = "http"
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://{host}:{self._httpd.server_address[1]}{path}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> BytesServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()
