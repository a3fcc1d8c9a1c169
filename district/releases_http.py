"""``GET /tuf/metadata/{name}`` and ``GET /tuf/targets/{name}``: the TUF repository of agent
releases (:mod:`district.releases`, ADR 0031), read-only, without a device proof (TUF's
signatures protect it; the archives hold no secret).

Before answering ``timestamp.json`` the server re-signs the snapshot and timestamp when due
(:meth:`ReleaseRepo.refresh`): a kiosk never sees an expired timestamp from a running server,
and a targets version signed on another machine and copied into ``metadata/`` goes live.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from fastapi import FastAPI, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from district.releases import ReleaseRepo
from kiosk.errors import CedokaError, GoneError

log = logging.getLogger("cedoka.district.releases")
PREFIX = "/tuf"
METADATA_NAME = re.compile(r"([1-9][0-9]{0,9}\.(root|targets|snapshot)|timestamp)\.json")
TARGET_NAME = re.compile(r"[0-9a-f]{64}\.cedoka-[0-9.]{3,19}\.tar\.gz")
NO_STORE = {"Cache-Control": "no-store"}


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise GoneError("not_found") from None


def add_release_routes(app: FastAPI, repo: ReleaseRepo) -> None:
    """Add the two read-only routes of ``repo`` to ``app``."""

    def refresh() -> None:
        try:
            if repo.refresh(now_s=int(time.time())):
                log.info("event=tuf_refreshed")
        except (CedokaError, OSError, ValueError) as error:  # serve what is there
            log.warning("event=tuf_refresh_failed error=%s", type(error).__name__)

    @app.get(PREFIX + "/metadata/{name}", include_in_schema=False)
    async def metadata(name: str) -> Response:
        if not METADATA_NAME.fullmatch(name):
            raise GoneError("not_found")
        if name == "timestamp.json":
            await run_in_threadpool(refresh)
        data = await run_in_threadpool(_read, repo.metadata / name)
        return Response(data, media_type="application/json", headers=NO_STORE)

    @app.get(PREFIX + "/targets/{name}", include_in_schema=False)
    async def target(name: str) -> Response:
        path = repo.targets / name
        if not TARGET_NAME.fullmatch(name) or not await run_in_threadpool(path.is_file):
            raise GoneError("not_found")
        return FileResponse(path, media_type="application/octet-stream")
