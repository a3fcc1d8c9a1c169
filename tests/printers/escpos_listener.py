"""Test helpers: a loopback "port 9100" receipt printer, and a decoder for the ESC/POS
subset Cedoka emits.

:class:`EscposListener` listens on 127.0.0.1 (or ::1), port 0, in a thread. It records every
byte of every connection and answers ``DLE EOT 4`` (paper sensor status) with a status byte
of the test's choosing, or says nothing (``status=None``). With ``refuse=True`` the port
is bound but never listened on, so a connection is refused at once.

:func:`decode` turns bytes into a list of :class:`Op` and fails on any byte outside the
subset (so an unexpected command, or a control character in the text, fails the test).
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from types import TracebackType

DLE_EOT_PAPER = b"\x10\x04\x04"
STATUS_OK = 0x12  # fixed bits only: paper present
STATUS_NEAR_END = 0x12 | 0x0C
STATUS_OUT = 0x12 | 0x60
STATUS_OUT_AND_NEAR_END = 0x12 | 0x0C | 0x60


class EscposListener:
    """A fake network receipt printer on a loopback address."""

    def __init__(
        self, *, status: int | None = STATUS_OK, refuse: bool = False, host: str = "127.0.0.1"
    ) -> None:
        self.status = status  # answer to DLE EOT 4; None: never answer
        self.refuse = refuse
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._server = socket.socket(family, socket.SOCK_STREAM)
        self._server.bind((host, 0))
        self.host = host
        self.port: int = self._server.getsockname()[1]
        self._connections: list[bytes] = []  # finished connections, in order
        self._queries = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if not refuse:
            self._server.listen(8)
            self._server.settimeout(0.05)
            self._thread = threading.Thread(target=self._serve, daemon=True)
            self._thread.start()

    # --- what the test reads --------------------------------------------------------------

    @property
    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"escpos:tcp://{host}:{self.port}"

    @property
    def status_queries(self) -> int:
        with self._cond:
            return self._queries

    def connections(self) -> list[bytes]:
        with self._cond:
            return list(self._connections)

    def wait_connections(self, count: int, timeout_s: float = 5.0) -> list[bytes]:
        """The bytes of the first ``count`` finished connections (waits for them)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._connections) >= count, timeout_s):
                raise AssertionError(f"expected {count} connections, saw {self._connections!r}")
            return list(self._connections)

    # --- the printer ----------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(0.05)
        data = bytearray()
        scanned = 0
        while not self._stop.is_set():
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            data += chunk
            # Answer each complete DLE EOT 4 once, as a printer does (real-time command).
            while (found := data.find(DLE_EOT_PAPER, scanned)) >= 0:
                scanned = found + len(DLE_EOT_PAPER)
                with self._cond:
                    self._queries += 1
                if self.status is not None:
                    conn.sendall(bytes([self.status]))
            scanned = max(scanned, len(data) - len(DLE_EOT_PAPER) + 1)
        with self._cond:
            self._connections.append(bytes(data))
            self._cond.notify_all()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._server.close()

    def __enter__(self) -> EscposListener:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- decoding ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One decoded command: ``name`` and its argument (an int, text or bytes)."""

    name: str
    arg: int | str | bytes | None = None


LF = 0x0A


def decode(data: bytes) -> list[Op]:
    """Decode ESC @, ESC a, ESC E, ESC !, ESC t, ESC d, GS !, GS V, DLE EOT, GS ( k (QR:
    model, size, error correction, store, print), text and LF. Text is collected up to
    its LF as one ``Op("text", line)``. Anything else raises AssertionError."""
    ops: list[Op] = []
    i = 0
    text = bytearray()
    while i < len(data):
        b = data[i]
        if 0x20 <= b <= 0x7E:
            text.append(b)
            i += 1
        elif b == LF:
            ops.append(Op("text", text.decode("ascii")))
            text.clear()
            i += 1
        elif text:
            raise AssertionError(f"text {text!r} not ended by LF before byte {i} ({b:#04x})")
        else:
            op, size = _command(data, i)
            ops.append(op)
            i += size
    if text:
        raise AssertionError(f"text {text!r} at the end without LF")
    return ops


_ESC_ONE_ARG = {b"a": "align", b"E": "bold", b"!": "mode", b"t": "codepage", b"d": "feed"}


def _command(data: bytes, i: int) -> tuple[Op, int]:
    """The command starting at ``data[i]`` and its length in bytes."""

    def need(n: int) -> bytes:
        if i + n > len(data):
            raise AssertionError(f"truncated command at byte {i}: {data[i:]!r}")
        return data[i : i + n]

    head = need(2)
    if head == b"\x1b@":
        return Op("init"), 2
    if head[:1] == b"\x1b" and head[1:] in _ESC_ONE_ARG:
        return Op(_ESC_ONE_ARG[head[1:]], need(3)[2]), 3
    if head == b"\x1d!":
        return Op("size", need(3)[2]), 3
    if head == b"\x1dV":
        size = 4 if need(3)[2] in (65, 66) else 3  # feed-and-cut modes: one more byte
        return Op("cut", need(size)[2]), size
    if head == b"\x1d(" and need(3)[2:] == b"k":
        length = need(5)[3] | need(5)[4] << 8
        return _qr_op(need(5 + length)[5:]), 5 + length
    if head == b"\x10\x04":
        return Op("status_query", need(3)[2]), 3
    raise AssertionError(f"unknown command {head!r} at byte {i}")


def _qr_op(body: bytes) -> Op:
    """A ``GS ( k`` body: cn (``1`` = QR), fn, parameters."""
    if len(body) < 2 or body[0:1] != b"1":
        raise AssertionError(f"GS ( k for a symbol other than QR: {body!r}")
    fn = body[1]
    if fn == 65:  # 165: select the model
        return Op("qr_model", body[2] - 48)
    if fn == 67:  # 167: module size
        return Op("qr_size", body[2])
    if fn == 69:  # 169: error correction level
        return Op("qr_ec", body[2] - 48)
    if fn == 80:  # 180: store the data
        if body[2:3] != b"0":
            raise AssertionError(f"QR store with m != '0': {body!r}")
        return Op("qr_store", bytes(body[3:]))
    if fn == 81:  # 181: print the stored symbol
        return Op("qr_print")
    raise AssertionError(f"unknown QR function {fn} in {body!r}")
