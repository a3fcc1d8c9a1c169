"""The A4 printer through CUPS (``cups:QUEUE``), with pycups.

- **Submit without a file**: ``createJob`` + ``startDocument`` + ``writeRequestData`` +
  ``finishDocument`` stream the opened PDF from memory to the scheduler; nothing is written
  to disk by us (CUPS's own spool keeps no document when ``PreserveJobFiles No``, which the
  installer sets). The job title is the opaque ``<job>.<round>.<doc>``.
- **Options**: media A4, ``print-scaling=none`` (never fit-to-page), copies, sides.
- **Status by job id, then by title**: a document this process submitted is asked of CUPS
  by the job id ``createJob`` gave (``getJobAttributes``: one job, ~0.2 ms, whatever the
  length of CUPS's history), its ``job-name`` checked against the title. A title this
  process did not submit (a job submitted before a crash or restart), or whose id CUPS no
  longer knows, falls back to the newest job of CUPS's whole history with that name.
  ``completed`` → done, ``canceled`` / ``aborted`` / ``stopped`` → failed with that reason,
  pending/held/processing → active. A CUPS that does not answer is "unknown", never "done".
  (CUPS 2.4.2 puts ``processing-to-stop-point`` on completed jobs: only ``job-state`` is
  trusted.)
- **Health and pre-flight**: printer state and reasons, accepting jobs, supply levels
  (``marker-*``), loaded media where the printer tells it, and whether the device behind the
  queue answers at all (a TCP probe of its ``ipp``/``ipps``/``socket`` URI: CUPS itself only
  learns that a printer is switched off when a job fails). CUPS does not relay the loaded
  media, so for an IPP printer ``media-ready`` is asked of the device itself: F4/Folio or
  Letter paper in the tray blocks the release.

pycups is imported lazily; every pycups error is translated here. Without pycups (an
install without the ``printers`` extra) nothing fails loudly: health says
``cups-not-installed``, the pre-flight and a submission refuse with ``cups_missing``, and
:func:`list_queues` is empty (:func:`cups_installed` tells why).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from kiosk.config import CupsQueue, PrinterTarget
from kiosk.model import MEDIA_A4, PrintTicket
from kiosk.report import Marker, PrinterHealth
from printers.base import (
    CUPS_MISSING,
    MISSING_HEALTH_REASON,
    Phase,
    PrinterNotReadyError,
    PrinterUnreachableError,
    PrintStatus,
    PrintSubmitError,
)

log = logging.getLogger("cedoka.printers.cups")

_JOB_PHASE = {3: Phase.ACTIVE, 4: Phase.ACTIVE, 5: Phase.ACTIVE, 6: Phase.FAILED,
              7: Phase.FAILED, 8: Phase.FAILED, 9: Phase.DONE}  # fmt: skip
_JOB_REASON = {6: "stopped", 7: "canceled", 8: "aborted"}
_PRINTER_STATE = {3: "idle", 4: "processing", 5: "stopped"}
_PRINTER_ATTRS = [
    "printer-state", "printer-state-reasons", "printer-is-accepting-jobs", "marker-names",
    "marker-levels", "media-ready", "media-default", "device-uri", "printer-state-message",
]  # fmt: skip
_JOB_ATTRS = ["job-id", "job-name", "job-state", "job-state-reasons",
              "job-printer-state-message"]  # fmt: skip
_PROBE_SCHEMES = {"ipp": 631, "ipps": 631, "socket": 9100, "http": 631, "https": 631}
_MEDIA_EMPTY = ("media-empty", "media-needed")
_A4_MEDIA = "iso_a4_210x297mm"
_lock = threading.Lock()  # pycups connections are not thread-safe
# The CUPS job ids of the titles this process submitted, newest last (in memory only: after
# a restart the title scan finds them). A title is followed for minutes at most, so a few
# hundred cover every document in flight.
_KNOWN_JOB_IDS_KEPT = 256


def _cups() -> Any:
    """The pycups module.

    Raises:
        PrinterUnreachableError: pycups is not installed (``missing`` is ``cups_missing``).
    """
    try:
        import cups
    except ImportError:
        raise PrinterUnreachableError("pycups is not installed (the printers extra)",
                                      missing=CUPS_MISSING) from None  # fmt: skip
    return cups


def cups_installed() -> bool:
    """Whether pycups can be imported (without it this PC cannot print through CUPS)."""
    try:
        _cups()
    except PrinterUnreachableError:
        return False
    return True


def _unavailable(error: PrinterUnreachableError) -> str:
    return error.missing or "cups_unavailable"


@contextlib.contextmanager
def _connection() -> Iterator[Any]:
    cups = _cups()
    with _lock:
        try:
            conn = cups.Connection()
        except RuntimeError as error:  # "failed to connect to server"
            raise PrinterUnreachableError(str(error)) from None
        yield conn


def _reasons(attrs: dict[str, Any]) -> tuple[str, ...]:
    raw = attrs.get("printer-state-reasons") or []
    reasons = [raw] if isinstance(raw, str) else list(raw)
    return tuple(r for r in reasons if r and r != "none")


def _has(reasons: tuple[str, ...], prefixes: tuple[str, ...]) -> bool:
    """``toner-low-warning`` may come back as ``toner-low-report``: match on the prefix."""
    return any(r.startswith(p) for r in reasons for p in prefixes)


def list_queues() -> list[str]:
    """The CUPS queues on this machine (for settings and ``cedoka printers``); empty when
    CUPS does not answer or pycups is not installed (see :func:`cups_installed`)."""
    try:
        with _connection() as conn:
            return sorted(conn.getPrinters())
    except PrinterUnreachableError:
        return []


class CupsPrinter:
    """One CUPS queue in the ``a4`` role."""

    def __init__(self, target: PrinterTarget, *, probe_timeout_s: float = 1.0) -> None:
        if not isinstance(target.endpoint, CupsQueue):
            raise TypeError("the CUPS printer needs a cups: target")
        self._target = target
        self.queue = target.endpoint.name
        self._probe_timeout_s = probe_timeout_s
        self._job_ids: OrderedDict[str, int] = OrderedDict()  # title -> CUPS job id

    @property
    def target(self) -> PrinterTarget:
        return self._target

    # --- health -----------------------------------------------------------------------

    def _attributes(self) -> dict[str, Any] | None:
        """The queue's attributes; None if the queue does not exist.

        Raises:
            PrinterUnreachableError: CUPS does not answer, or pycups is not installed.
        """
        cups = _cups()
        with _connection() as conn:
            try:
                attrs: dict[str, Any] = conn.getPrinterAttributes(
                    self.queue, requested_attributes=_PRINTER_ATTRS
                )
            except cups.IPPError:
                return None
        return attrs

    def _device_answers(self, uri: str | None) -> bool | None:
        """True/False when the device behind the queue can be probed; None if not."""
        if not uri:
            return None
        parts = urlsplit(uri)
        port = parts.port or _PROBE_SCHEMES.get(parts.scheme)
        if port is None or not parts.hostname:
            return None  # usb:, file:, … : CUPS's own state is all we have
        try:
            with socket.create_connection((parts.hostname, port), timeout=self._probe_timeout_s):
                return True
        except OSError:
            return False

    def _device_attributes(self, uri: str | None) -> dict[str, Any]:
        """``media-ready`` and ``printer-state-reasons`` asked of the device itself over IPP:
        CUPS does not relay the loaded media, and learns of a paper-out only while a job
        runs. Empty when the device is not an IPP printer or does not answer."""
        import cups

        if not uri:
            return {}
        parts = urlsplit(uri)
        if parts.scheme not in {"ipp", "ipps"} or not parts.hostname:
            return {}
        device_uri = f"{parts.scheme}://{parts.netloc}{parts.path}"
        encryption = cups.HTTP_ENCRYPT_ALWAYS if parts.scheme == "ipps" else (
            cups.HTTP_ENCRYPT_IF_REQUESTED)  # fmt: skip
        try:
            with _lock:
                conn = cups.Connection(host=parts.hostname, port=parts.port or 631,
                                       encryption=encryption)  # fmt: skip
                attrs: dict[str, Any] = conn.getPrinterAttributes(
                    uri=device_uri, requested_attributes=["media-ready", "printer-state-reasons"]
                )
        except (RuntimeError, cups.IPPError):
            return {}
        return attrs

    def health(self) -> PrinterHealth:
        unavailable = "cups-unavailable"
        try:
            attrs = self._attributes()
        except PrinterUnreachableError as error:
            attrs = None
            unavailable = MISSING_HEALTH_REASON.get(_unavailable(error), unavailable)
        if attrs is None:
            return PrinterHealth(role=self._target.role.value, backend="cups", state="unknown",
                                 accepting=False, reasons=(unavailable,), markers=(),
                                 media=None)  # fmt: skip
        device = self._device_attributes(attrs.get("device-uri"))
        reasons = tuple(dict.fromkeys((*_reasons(attrs), *_reasons(device))))
        state = _PRINTER_STATE.get(int(attrs.get("printer-state", 0)), "unknown")
        if self._device_answers(attrs.get("device-uri")) is False:
            state, reasons = "offline", (*reasons, "offline-report")
        names = attrs.get("marker-names") or []
        levels = attrs.get("marker-levels") or []
        if isinstance(names, str):
            names, levels = [names], [levels]
        markers = tuple(
            Marker(name=str(n)[:64], level=max(-3, min(100, int(lvl))))
            for n, lvl in zip(names, levels, strict=False)
        )
        loaded = self._loaded_media(attrs, device)
        media = (_A4_MEDIA if _A4_MEDIA in loaded else loaded[0]) if loaded else None
        return PrinterHealth(
            role=self._target.role.value, backend="cups", state=state,
            accepting=bool(attrs.get("printer-is-accepting-jobs", False)),
            reasons=tuple(r[:64] for r in reasons[:16]), markers=markers[:16],
            media=str(media) if media else None,
        )  # fmt: skip

    def preflight(self) -> None:
        """Block a print that would fail or come out wrong, with the reason.

        Raises:
            PrinterNotReadyError: ``cups_missing``, ``cups_unavailable``, ``no_queue``,
                ``offline``, ``stopped``, ``not_accepting``, ``media_empty``, ``media_not_a4``.
        """
        try:
            attrs = self._attributes()
        except PrinterUnreachableError as error:
            raise PrinterNotReadyError(_unavailable(error), str(error)) from None
        if attrs is None:
            raise PrinterNotReadyError("no_queue", f"CUPS has no queue {self.queue!r}")
        if self._device_answers(attrs.get("device-uri")) is False:  # first: nothing else counts
            raise PrinterNotReadyError("offline", "the printer does not answer")
        device = self._device_attributes(attrs.get("device-uri"))
        reasons = tuple(dict.fromkeys((*_reasons(attrs), *_reasons(device))))
        if int(attrs.get("printer-state", 0)) == 5 or "paused" in reasons:  # noqa: PLR2004
            raise PrinterNotReadyError("stopped", f"queue {self.queue} is stopped")
        if not attrs.get("printer-is-accepting-jobs", False):
            raise PrinterNotReadyError("not_accepting", f"queue {self.queue} rejects jobs")
        if _has(reasons, _MEDIA_EMPTY):
            raise PrinterNotReadyError("media_empty", "out of paper")
        loaded = self._loaded_media(attrs, device)
        if loaded and _A4_MEDIA not in loaded:
            raise PrinterNotReadyError("media_not_a4", f"loaded: {', '.join(map(str, loaded))}")
        if _has(reasons, ("offline",)):
            raise PrinterNotReadyError("offline", "the printer does not answer")

    @staticmethod
    def _loaded_media(attrs: dict[str, Any], device: dict[str, Any]) -> list[str]:
        media = attrs.get("media-ready") or device.get("media-ready")
        return [media] if isinstance(media, str) else [str(m) for m in media or []]

    def enable(self) -> None:
        """Re-enable a stopped queue and make it accept jobs (the screen offers this)."""
        try:
            cups = _cups()
        except PrinterUnreachableError as error:
            raise PrinterNotReadyError(_unavailable(error), str(error)) from None
        try:
            with _connection() as conn:
                conn.enablePrinter(self.queue)
                conn.acceptJobs(self.queue)
        except (PrinterUnreachableError, cups.IPPError) as error:
            raise PrinterNotReadyError("cups_unavailable", str(error)) from None

    # --- printing ---------------------------------------------------------------------

    def submit(self, document: bytes, *, title: str, copies: int, ticket: PrintTicket) -> None:
        try:
            cups = _cups()
        except PrinterUnreachableError as error:
            raise PrintSubmitError(_unavailable(error), str(error)) from None
        if ticket.media != MEDIA_A4:
            raise PrintSubmitError("media_not_a4", "v1 prints on A4 only")
        options = {
            "media": _A4_MEDIA, "print-scaling": "none", "copies": str(copies),
            "sides": ticket.sides.value, "fit-to-page": "false",
        }  # fmt: skip
        job_id = 0
        try:
            with _connection() as conn:
                job_id = conn.createJob(self.queue, title, options)
                try:
                    conn.startDocument(self.queue, job_id, title, "application/pdf", 1)
                    view = memoryview(document)
                    for start in range(0, len(view), 65536):
                        chunk = bytes(view[start : start + 65536])
                        conn.writeRequestData(chunk, len(chunk))
                    conn.finishDocument(self.queue)
                except cups.IPPError:
                    with contextlib.suppress(cups.IPPError):  # no half-sent job left behind
                        conn.cancelJob(job_id, purge_job=True)
                    raise
        except PrinterUnreachableError as error:
            raise PrintSubmitError("cups_unavailable", str(error)) from None
        except cups.IPPError as error:
            status = error.args[0] if error.args else 0
            reason = "not_accepting" if status == 1286 else "cups_refused"  # noqa: PLR2004
            raise PrintSubmitError(reason, str(error.args[-1] if error.args else error)) from None
        self._job_ids[title] = job_id
        self._job_ids.move_to_end(title)
        while len(self._job_ids) > _KNOWN_JOB_IDS_KEPT:
            self._job_ids.popitem(last=False)
        log.info("event=cups_submitted title=%s cups_job=%d", title, job_id)

    def status(self, title: str) -> PrintStatus:
        try:
            cups = _cups()
        except PrinterUnreachableError as error:
            return PrintStatus(Phase.UNKNOWN, _unavailable(error))
        job_id = self._job_ids.get(title)
        try:
            with _connection() as conn:
                job = None if job_id is None else self._job_by_id(cups, conn, job_id, title)
                if job is None:  # submitted before a restart, or forgotten by CUPS
                    job = self._job_by_title(conn, title)
        except (PrinterUnreachableError, cups.IPPError):
            return PrintStatus(Phase.UNKNOWN, "cups_unavailable")
        if job is None:
            return PrintStatus(Phase.NOT_FOUND)
        state = int(job.get("job-state", 0))
        phase = _JOB_PHASE.get(state, Phase.UNKNOWN)
        return PrintStatus(phase, _JOB_REASON.get(state))

    @staticmethod
    def _job_by_id(cups: Any, conn: Any, job_id: int, title: str) -> dict[str, Any] | None:
        """The attributes of CUPS job ``job_id`` if it is still the job titled ``title``;
        None when CUPS no longer knows it (the caller then scans by title).

        Raises:
            cups.IPPError: CUPS failed otherwise.
        """
        try:
            job: dict[str, Any] = conn.getJobAttributes(job_id, requested_attributes=_JOB_ATTRS)
        except cups.IPPError as error:
            if error.args and error.args[0] == cups.IPP_NOT_FOUND:
                return None
            raise
        return job if job.get("job-name") == title else None

    @staticmethod
    def _job_by_title(conn: Any, title: str) -> dict[str, Any] | None:
        """The newest job of CUPS's whole history named ``title`` (None if there is none)."""
        jobs: dict[int, dict[str, Any]] = conn.getJobs(
            which_jobs="all", my_jobs=False, requested_attributes=_JOB_ATTRS
        )
        mine = [jid for jid, job in jobs.items() if job.get("job-name") == title]
        return jobs[max(mine)] if mine else None
