"""Who may call the kiosk's local API: the window this agent opened, nobody else.

- The server listens on 127.0.0.1 only.
- **Per-launch secret**: 32 random bytes, handed to the window in the URL fragment (never
  sent to the server as part of a URL, never logged); every API call carries it in the
  ``X-Cedoka-Secret`` header. Other local users cannot read it (the state directory is 0700).
- **Host check**: ``Host`` must be this server's own loopback address and port (a web page
  cannot reach it through DNS rebinding).
- **Origin check**: a request that carries ``Origin`` must come from this server's own
  origin; no CORS headers are ever sent, so other pages cannot read answers either.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

SECRET_HEADER = "x-cedoka-secret"


@dataclass(frozen=True)
class Guard:
    port: int
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def origins(self) -> frozenset[str]:
        return frozenset({f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"})

    def host_ok(self, host: str | None) -> bool:
        return host in {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    def origin_ok(self, origin: str | None) -> bool:
        return origin is None or origin in self.origins

    def secret_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.secret.encode())

    def window_url(self) -> str:
        """What the kiosk window opens: the app, with the secret in the fragment."""
        return f"http://127.0.0.1:{self.port}/#k={self.secret}"
