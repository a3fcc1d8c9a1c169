"""What the delivery and kiosk benchmarks share: the test document, the agent's log read as
it grows, the physical floors they compare against, and figures from samples.

Times come from the agent's own log lines (``ts=`` in UTC milliseconds, written when the
step happened), never from how fast this process notices them; so polling here adds no
latency to a figure, and every figure has a resolution of 1 ms.
"""

from __future__ import annotations

import datetime
import io
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.result import Figure, percentile
from cedoka_io.files import write_atomic

_PAIR = re.compile(r'([A-Za-z_]+)=("(?:[^"\\]|\\.)*"|\S*)')
_SAMPLE_DATE = datetime.date(2024, 5, 17)  # the same date gives the same specimen bytes


def realistic_pdf() -> bytes:
    """A realistic one-page KK of about 190 KB: the specimen KK of :mod:`district.samples`
    (fake identifiers; ReportLab) with a scanned stamp and signature on it, a 900x300 grey
    JPEG, as the documents SIAK issues carry raster seals, signatures and QR codes (the
    text-only specimen is 7 KB; real ones weigh 100-300 KB)."""
    from PIL import Image
    from pypdf import PdfReader, PdfWriter
    from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped]
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

    from district.samples import sample_jobs

    [(_, kk)] = sample_jobs(_SAMPLE_DATE)[0].documents
    writer = PdfWriter(clone_from=io.BytesIO(kk))
    page = writer.pages[0]
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    scan = Image.frombytes("L", (900, 300), random.Random(8).randbytes(900 * 300))
    jpeg = io.BytesIO()
    scan.save(jpeg, "JPEG", quality=60)
    jpeg.seek(0)
    overlay = io.BytesIO()
    sheet = canvas.Canvas(overlay, pagesize=(width, height))
    sheet.drawImage(ImageReader(jpeg), width - 300, 40, width=240, height=80)
    sheet.showPage()
    sheet.save()
    page.merge_page(PdfReader(io.BytesIO(overlay.getvalue())).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def durable_write_ms(path: Path, data: bytes) -> float:
    """Write ``data`` to ``path`` as the folder printers and the agent do
    (:func:`cedoka_io.files.write_atomic`: temp file, fsync, chmod, rename, fsync of the
    folder: the least a folder printer must do so a crash never leaves half a document);
    return how long it took in ms."""
    started = time.perf_counter()
    write_atomic(path, data)
    return (time.perf_counter() - started) * 1000


@dataclass(frozen=True)
class LogEvent:
    at_s: float  # Unix time of the log record (ms resolution)
    event: str
    pairs: dict[str, str]


def parse_line(line: str) -> LogEvent | None:
    """A logfmt line with ``ts=`` and ``event=``; None for anything else."""
    pairs = {key: value.strip('"') for key, value in _PAIR.findall(line)}
    stamp, event = pairs.get("ts"), pairs.get("event")
    if stamp is None or event is None:
        return None
    try:
        at = datetime.datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None
    return LogEvent(at, event, pairs)


def job_of(event: LogEvent) -> str | None:
    """The job a log line is about (``job=…``, or the print title ``<job>.<round>.<doc>``)."""
    if "job" in event.pairs:
        return event.pairs["job"]
    title = event.pairs.get("title")
    return title.split(".", 1)[0] if title else None


def mark_of(event: LogEvent) -> str:
    """``state:<state>`` for a state change in the agent's log, ``report:<state>`` for a job
    event the district stored (its log), else the event's name."""
    if event.event == "job_state":
        return "state:" + event.pairs.get("state", "?")
    if event.event == "job_event":
        return "report:" + event.pairs.get("state", "?")
    return event.event


@dataclass
class LogTail:
    """A logfmt file read as it grows, indexed per job: ``marks[job][mark]`` is the time of
    the first line of that kind (``job_received``, ``state:printing``, ``document_printed``
    …)."""

    path: Path
    marks: dict[str, dict[str, float]] = field(default_factory=dict)
    events: list[LogEvent] = field(default_factory=list)
    _offset: int = 0
    _partial: bytes = b""

    def poll(self) -> None:
        try:
            with self.path.open("rb") as source:
                source.seek(self._offset)
                chunk = source.read()
        except FileNotFoundError:
            return
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            event = parse_line(raw.decode("utf-8", errors="replace"))
            if event is None:
                continue
            self.events.append(event)
            job = job_of(event)
            if job is not None:
                self.marks.setdefault(job, {}).setdefault(mark_of(event), event.at_s)

    def wait(self, what: str, ready: Callable[[], bool], *, timeout_s: float = 120) -> None:
        """Poll until ``ready()``; TimeoutError naming ``what`` and the log's last lines."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.poll()
            if ready():
                return
            if time.monotonic() > deadline:
                tail = self.path.read_text(errors="replace").splitlines()[-8:]
                raise TimeoutError(
                    f"{what}: not within {timeout_s:g} s; the end of "
                    f"{self.path.name}:\n  " + "\n  ".join(tail)
                )
            time.sleep(0.01)

    def wait_mark(
        self, job_id: str, mark: str, *, timeout_s: float = 120, failed: str = "state:failed"
    ) -> dict[str, float]:
        """Until ``mark`` is logged for ``job_id``; its marks. RuntimeError when ``failed``
        is logged first."""

        def ready() -> bool:
            marks = self.marks.get(job_id, {})
            if failed in marks:
                raise RuntimeError(
                    f"job {job_id} failed; the end of the log:\n"
                    + "\n".join(self.path.read_text().splitlines()[-8:])
                )
            return mark in marks

        self.wait(f"{mark} of {job_id}", ready, timeout_s=timeout_s)
        return self.marks[job_id]


def ms(values: Sequence[float]) -> str:
    """``p50 X ms, p99 Y ms`` for a note."""
    return f"p50 {percentile(values, 50):.0f} ms, p99 {percentile(values, 99):.0f} ms"


def pair(
    group: str,
    name: str,
    ours: Sequence[float],
    base: Sequence[float],
    *,
    base_name: str,
    limit: str,
    note: str = "",
    pcts: Sequence[int] = (50, 99),
    unit: str = "ms",
) -> list[Figure]:
    """One figure per percentile of ``ours`` against the same percentile of ``base``."""
    return [
        Figure(
            group,
            f"{name}, p{p}",
            percentile(ours, p),
            unit,
            base_name,
            percentile(base, p),
            limit,
            note,
        )
        for p in pcts
    ]


def missing(group: str, what: str, why: str) -> Figure:
    """The stand-in figure when a tool the benchmark needs is not installed."""
    return Figure(group, f"{what}: not measured", 0.0, "ms", limit="-", note=why)
