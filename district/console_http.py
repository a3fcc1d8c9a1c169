"""The district web console (issue 17, ADR 0023): static files served at ``/console/``.

The console is plain ES modules, HTML and CSS from ``district/console`` (no build step, no
CDN); it talks to the admin API (``/admin/v1``) with the session cookie and keeps the
anti-CSRF token in memory only. Every response of the console carries a strict
Content-Security-Policy (no inline script or style, nothing from another origin), and
``nosniff`` / ``no-referrer``.
"""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/console"
FILES = Path(__file__).parent / "console"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-cache"),
)


class SecurityHeaders:
    """ASGI wrapper: the console's security headers on every response (errors too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + list(HEADERS)}
            await send(message)

        await self.app(scope, receive, with_headers)


class ConsoleFiles(StaticFiles):
    """The static files; a missing one is a plain 404 answered here, with the headers
    (not an exception for the district server's JSON error handler)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as error:
            return PlainTextResponse(str(error.detail), status_code=error.status_code)


def console_app() -> ASGIApp:
    """The console's static files with their headers, to mount at :data:`PREFIX`."""
    return SecurityHeaders(ConsoleFiles(directory=FILES, html=True))
