"""ESC/POS receipt printers for the ``receipt`` role, through python-escpos.

Endpoints (``kiosk.config``): ``escpos:tcp://HOST:PORT`` (raw port 9100, python-escpos
``Network``), ``escpos:usb:VVVV:PPPP`` (``Usb``, needs pyusb), ``escpos:serial:/dev/tty…``
(``Serial``, needs pyserial) and ``escpos:cups:QUEUE`` (``CupsPrinter``: a raw CUPS queue fed
the ESC/POS bytes). python-escpos is imported lazily, inside the methods.

Paper comes from the printer itself: ``DLE EOT 4`` (transmit roll-paper sensor status)
answered by one status byte, read with a short timeout; a printer that says nothing is
"unknown" (printing stays allowed). A CUPS queue is judged by its IPP state instead.

Nothing here may hang the agent: every connect, write and read has a timeout of a few
seconds (pycups has none: a local cupsd is trusted to answer). Nothing foreign escapes:
every error of the driver, the socket, pyusb, pyserial or pycups becomes
:class:`~printers.base.PrinterNotReadyError` or :class:`~printers.base.PrintSubmitError` here.
A driver that is not installed (the ``printers`` extra) is the reason ``escpos_missing``
(``cups_missing`` for pycups behind an ``escpos:cups:`` queue), never ``offline``: no
switching on of the printer will help.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Final, Protocol

from kiosk.config import CupsQueue, PrinterRole, PrinterTarget, SerialDevice, TcpEndpoint, UsbDevice
from kiosk.report import PrinterHealth
from printers.base import (
    CUPS_MISSING,
    ESCPOS_MISSING,
    MISSING_HEALTH_REASON,
    PrinterNotReadyError,
    PrinterUnreachableError,
    PrintSubmitError,
)
from printers.receipt import MAX_WIDTH, MIN_WIDTH, PaperStatus, Receipt, receipt_bytes

DLE_EOT_PAPER: Final = b"\x10\x04\x04"  # DLE EOT 4: transmit roll paper sensor status
_FIXED_MASK: Final = 0x93  # bits 0, 1, 4, 7 of a status byte are fixed ...
_FIXED_BITS: Final = 0x12  # ... to 0, 1, 1, 0
_NEAR_END: Final = 0x0C  # bits 2-3: roll paper near-end sensor
_PAPER_OUT: Final = 0x60  # bits 5-6: roll paper end sensor
_IPP_STATES: Final = {3: "idle", 4: "processing", 5: "stopped"}
_DETAIL_CHARS: Final = 200


def decode_paper_status(reply: bytes) -> PaperStatus:
    """Decode the answer to ``DLE EOT 4`` (ESC/POS: n = 4, roll paper sensor status).

    Bits 2-3 (``0x0C``) mean paper near its end, bits 5-6 (``0x60``) paper out; bits 1 and 4
    are always 1 and bits 0 and 7 always 0. No byte, or one whose fixed bits are wrong (not
    an answer to our question), is ``"unknown"``. Only the first byte counts.
    """
    if not reply or reply[0] & _FIXED_MASK != _FIXED_BITS:
        return "unknown"
    if reply[0] & _PAPER_OUT:
        return "out"
    if reply[0] & _NEAR_END:
        return "near_end"
    return "ok"


def escpos_installed() -> bool:
    """Whether python-escpos can be imported (without it no receipt prints over ESC/POS)."""
    try:
        import escpos.printer  # noqa: F401
    except ImportError:
        return False
    return True


def _detail(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:_DETAIL_CHARS]


@dataclass(frozen=True, slots=True)
class _Probe:
    state: str  # idle | processing | stopped | offline | unknown
    accepting: bool
    reasons: tuple[str, ...]
    paper: PaperStatus
    fault: str | None  # PrinterNotReadyError reason, None when a print may go ahead
    detail: str = ""


class _Link(Protocol):
    """One open connection to the printer."""

    def paper(self) -> PaperStatus: ...
    def send(self, data: bytes) -> None: ...
    def close(self) -> None: ...


class _StreamLink:
    """Network, Usb or Serial: a byte stream both ways."""

    def __init__(
        self, driver: Any, *, sock: socket.socket | None, timeout_s: float, status_timeout_s: float
    ) -> None:
        self._driver = driver
        self._sock = sock
        self._timeout_s = timeout_s
        self._status_timeout_s = status_timeout_s

    def paper(self) -> PaperStatus:
        try:
            if self._sock is not None:
                self._sock.settimeout(self._status_timeout_s)
            self._driver._raw(DLE_EOT_PAPER)
            reply = bytes(self._driver._read())
        except Exception:  # silence, a timeout, a reset: the printer did not say
            return "unknown"
        finally:
            if self._sock is not None:
                self._sock.settimeout(self._timeout_s)
        return decode_paper_status(reply)

    def send(self, data: bytes) -> None:
        self._driver._raw(data)

    def close(self) -> None:
        if self._sock is not None:
            self._linger(self._sock)
        with contextlib.suppress(Exception):
            self._driver.close()

    def _linger(self, sock: socket.socket) -> None:
        """Half-close and wait (briefly) for the printer to close its side: closing a
        socket with unread input (a late status byte) sends a reset, which can throw
        away receipt bytes still in flight."""
        try:
            sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + self._status_timeout_s
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                if not sock.recv(256):
                    break
        except OSError:
            pass


class _CupsLink:
    """``CupsPrinter``: bytes go to a temporary file, sent as one raw job on ``send``."""

    def __init__(self, driver: Any) -> None:
        self._driver = driver

    def paper(self) -> PaperStatus:
        return "unknown"  # no back channel through a CUPS queue: see _probe_cups

    def send(self, data: bytes) -> None:
        self._driver._raw(data)
        self._driver.send()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._driver._clear()  # closes (deletes) the temporary file; nothing is sent
            self._driver.close()


class EscposPrinter:
    """A receipt printer speaking ESC/POS (``escpos:`` URIs)."""

    def __init__(
        self,
        target: PrinterTarget,
        *,
        width: int = 32,
        timeout_s: float = 3.0,
        status_timeout_s: float = 1.0,
    ) -> None:
        """``width``: characters per line (32 on 58 mm paper, 48 on 80 mm).
        ``timeout_s``: connect and write timeout; ``status_timeout_s``: how long to wait
        for the answer to a status query (and for the printer to close the connection)."""
        endpoint = target.endpoint
        if target.role is not PrinterRole.RECEIPT or not isinstance(
            endpoint, TcpEndpoint | UsbDevice | SerialDevice | CupsQueue
        ):
            raise TypeError("EscposPrinter needs an escpos: target of the receipt role")
        if not MIN_WIDTH <= width <= MAX_WIDTH:
            raise ValueError(f"receipt width must be {MIN_WIDTH}..{MAX_WIDTH} columns")
        if not 0 < status_timeout_s <= timeout_s:
            raise ValueError("need 0 < status_timeout_s <= timeout_s")
        self._target = target
        self._endpoint = endpoint
        self._width = width
        self._timeout_s = timeout_s
        self._status_timeout_s = status_timeout_s
        self._lock = threading.Lock()  # one connection at a time: many printers take one

    @property
    def target(self) -> PrinterTarget:
        return self._target

    # --- the receipt-role interface -------------------------------------------------------

    def health(self) -> PrinterHealth:
        """The printer's state now: ``idle`` (it answered), ``offline`` (cannot connect),
        ``unknown`` (connected, no status answer); reasons ``media-empty``/``media-low``."""
        probe = self._probe()
        return PrinterHealth(
            role=self._target.role.value, backend="escpos", state=probe.state,
            accepting=probe.accepting, reasons=probe.reasons, markers=(), media=None,
        )  # fmt: skip

    def preflight(self) -> None:
        """Raise :class:`PrinterNotReadyError` (``offline``, ``media_empty``; for a CUPS queue also
        ``stopped``, ``not_accepting``; ``escpos_missing`` / ``cups_missing`` without the
        driver) when a receipt printed now would not come out."""
        probe = self._probe()
        if probe.fault is not None:
            raise PrinterNotReadyError(probe.fault, probe.detail)

    def paper_status(self) -> PaperStatus:
        """``ok``, ``near_end``, ``out``, or ``unknown`` (no answer, or cannot connect)."""
        return self._probe().paper

    def print_receipt(self, receipt: Receipt) -> None:
        """Send ``receipt`` (one connection: ask for the paper status, then the bytes).

        Raises:
            PrintSubmitError: ``offline`` (cannot connect; nothing sent), ``media_empty``
                (the printer says it has no paper; nothing sent), ``stopped`` /
                ``not_accepting`` (a CUPS queue that would hold the receipt; nothing sent),
                ``send_failed`` (the connection broke while sending: part of the receipt
                may have printed), ``escpos_missing`` / ``cups_missing`` (the driver is not
                installed; nothing sent).
        """
        try:
            data = receipt_bytes(receipt, width=self._width)
        except ImportError as error:  # python-escpos missing: nothing can print
            raise PrintSubmitError(ESCPOS_MISSING, _detail(error)) from None
        if isinstance(self._endpoint, CupsQueue):
            # CUPS would queue a receipt for a paused queue and print it whenever: refuse.
            probe = self._probe_cups(self._endpoint)
            if probe.fault is not None:
                raise PrintSubmitError(probe.fault, probe.detail)
        with self._lock:
            try:
                link = self._open(job_name=f"receipt-{receipt.job_ref}")
            except PrinterUnreachableError as error:
                raise PrintSubmitError(error.missing or "offline", str(error)) from None
            try:
                if link.paper() == "out":
                    raise PrintSubmitError("media_empty", "the printer reports no paper")
                link.send(data)
            except PrintSubmitError:
                raise
            except Exception as error:
                raise PrintSubmitError("send_failed", _detail(error)) from None
            finally:
                link.close()

    # --- probing --------------------------------------------------------------------------

    def _probe(self) -> _Probe:
        if isinstance(self._endpoint, CupsQueue):
            return self._probe_cups(self._endpoint)
        with self._lock:
            try:
                link = self._open(job_name="status")
            except PrinterUnreachableError as error:
                if error.missing:  # no driver: nothing is known about the printer
                    return _Probe("unknown", False, (MISSING_HEALTH_REASON[error.missing],),
                                  "unknown", error.missing, str(error))  # fmt: skip
                return _Probe("offline", False, (), "unknown", "offline", str(error))
            try:
                paper = link.paper()
            finally:
                link.close()
        if paper == "out":
            return _Probe("idle", False, ("media-empty",), paper, "media_empty", "no paper")
        reasons = ("media-low",) if paper == "near_end" else ()
        return _Probe("unknown" if paper == "unknown" else "idle", True, reasons, paper, None)

    def _probe_cups(self, queue: CupsQueue) -> _Probe:
        wanted = ["printer-state", "printer-state-reasons", "printer-is-accepting-jobs"]
        try:
            import cups
        except ImportError as error:
            return _Probe("unknown", False, (MISSING_HEALTH_REASON[CUPS_MISSING],), "unknown",
                          CUPS_MISSING, _detail(error))  # fmt: skip
        try:
            attrs = dict(
                cups.Connection().getPrinterAttributes(queue.name, requested_attributes=wanted)
            )
        except Exception as error:  # RuntimeError (no cupsd), cups.IPPError (no such queue)
            return _Probe("offline", False, (), "unknown", "offline", _detail(error))
        state = _IPP_STATES.get(attrs.get("printer-state", 0), "unknown")
        accepting = attrs.get("printer-is-accepting-jobs") is True
        raw_reasons = attrs.get("printer-state-reasons", ())
        if isinstance(raw_reasons, str):
            raw_reasons = (raw_reasons,)
        reasons = tuple(str(r) for r in raw_reasons if str(r) != "none")
        paper: PaperStatus = "unknown"
        if any(r.startswith("media-empty") for r in reasons):
            paper = "out"
        elif any(r.startswith("media-low") for r in reasons):
            paper = "near_end"
        fault = None
        if state == "stopped":
            fault = "stopped"
        elif not accepting:
            fault = "not_accepting"
        elif paper == "out":
            fault = "media_empty"
        return _Probe(state, accepting, reasons, paper, fault, f"CUPS queue {queue.name}")

    # --- opening a connection -------------------------------------------------------------

    def _open(self, *, job_name: str) -> _Link:
        """Open the device. Raises :class:`PrinterUnreachableError`; never anything foreign."""
        endpoint = self._endpoint
        try:
            if isinstance(endpoint, TcpEndpoint):
                return self._open_tcp(endpoint)
            if isinstance(endpoint, UsbDevice):
                return self._open_usb(endpoint)
            if isinstance(endpoint, SerialDevice):
                return self._open_serial(endpoint)
            return self._open_cups(endpoint, job_name)
        except PrinterUnreachableError:
            raise
        except ImportError as error:  # the printers extra is not installed
            missing = CUPS_MISSING if error.name == "cups" else ESCPOS_MISSING
            raise PrinterUnreachableError(_detail(error), missing=missing) from None
        except Exception as error:
            raise PrinterUnreachableError(_detail(error)) from None

    def _open_tcp(self, endpoint: TcpEndpoint) -> _Link:
        from escpos.printer import Network

        # Network.open() creates an AF_INET socket only (no IPv6, no IPv6-only host name):
        # connect here, for every address family, and hand the socket to the driver.
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=self._timeout_s)
        try:
            driver = Network(host=endpoint.host, port=endpoint.port, timeout=self._timeout_s)
            driver.device = sock
        except BaseException:
            sock.close()
            raise
        return _StreamLink(
            driver, sock=sock, timeout_s=self._timeout_s, status_timeout_s=self._status_timeout_s
        )

    def _open_usb(self, endpoint: UsbDevice) -> _Link:
        from escpos.printer import Usb

        if not Usb.is_usable():  # checked first: Usb.close() (run by __del__) raises without it
            raise PrinterUnreachableError("USB printing needs pyusb, which is not installed",
                                          missing=ESCPOS_MISSING)  # fmt: skip
        driver = Usb(
            usb_args={"idVendor": endpoint.vendor_id, "idProduct": endpoint.product_id},
            timeout=int(self._timeout_s * 1000),  # milliseconds, for writes (0 = for ever)
        )
        driver.open()  # reads use pyusb's default timeout (1 s)
        return _StreamLink(
            driver, sock=None, timeout_s=self._timeout_s, status_timeout_s=self._status_timeout_s
        )

    def _open_serial(self, endpoint: SerialDevice) -> _Link:
        from escpos.printer import Serial

        if not Serial.is_usable():
            raise PrinterUnreachableError(
                "serial printing needs pyserial, which is not installed", missing=ESCPOS_MISSING
            )
        driver = Serial(
            devfile=endpoint.device, baudrate=endpoint.baud, timeout=self._status_timeout_s
        )
        driver.open()
        try:
            # python-escpos sets no write timeout: with DSR/DTR flow control a silent
            # printer would block write() for ever.
            driver.device.write_timeout = self._timeout_s
        except BaseException:
            driver.close()
            raise
        return _StreamLink(
            driver, sock=None, timeout_s=self._timeout_s, status_timeout_s=self._status_timeout_s
        )

    def _open_cups(self, queue: CupsQueue, job_name: str) -> _Link:
        import cups
        from escpos.printer import CupsPrinter

        # CupsPrinter defaults to the CUPS server of the moment python-escpos was imported,
        # and open() calls cups.setServer() with it: pass the current one explicitly.
        driver = CupsPrinter(printer_name=queue.name, host=cups.getServer(), port=cups.getPort())
        try:
            driver.open(job_name=job_name)
        except BaseException:
            driver._clear()
            raise
        return _CupsLink(driver)
