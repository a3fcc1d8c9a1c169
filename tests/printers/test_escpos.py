"""The ESC/POS receipt printer (printers/escpos.py) through the real python-escpos ``Network``
class to a loopback "port 9100" printer, and the virtual receipt printer.

Nothing of python-escpos is mocked: the bytes checked are the bytes that crossed the socket,
decoded by the small decoder in ``escpos_listener``.
"""

from __future__ import annotations

import dataclasses
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.config import PrinterRole, PrinterTarget, TcpEndpoint, parse_printer_target
from printers.base import PrinterNotReadyError, PrintSubmitError
from printers.escpos import DLE_EOT_PAPER, EscposPrinter, decode_paper_status
from printers.receipt import Receipt, receipt_bytes, receipt_lines
from printers.virtual_receipt import VirtualReceiptPrinter
from tests.printers.cupslab import CupsLab
from tests.printers.escpos_listener import (
    STATUS_NEAR_END,
    STATUS_OK,
    STATUS_OUT,
    STATUS_OUT_AND_NEAR_END,
    EscposListener,
    Op,
    decode,
)
from tests.printers.test_receipt import SAMPLE

STATUS_TIMEOUT_S = 0.3  # how long the tests let a silent printer stay silent


def receipt_target(uri: str) -> PrinterTarget:
    return parse_printer_target(PrinterRole.RECEIPT, uri)


def escpos(uri: str, width: int = 32) -> EscposPrinter:
    return EscposPrinter(
        receipt_target(uri), width=width, timeout_s=2.0, status_timeout_s=STATUS_TIMEOUT_S
    )


@pytest.fixture
def printer9100() -> Iterator[EscposListener]:
    with EscposListener(status=STATUS_OK) as listener:
        yield listener


def texts(ops: list[Op]) -> list[str]:
    return [str(op.arg) for op in ops if op.name == "text"]


def check_receipt_ops(ops: list[Op], receipt: Receipt, width: int) -> None:
    """ESC @ first, the lines in order, one QR of job_ref (centred), the cut last."""
    assert ops[0] == Op("init")
    lines = texts(ops)
    assert lines[: len(lines) - 1] == receipt_lines(receipt, width=width)
    assert lines[-1] == ""  # a blank line before the QR code
    stores = [op for op in ops if op.name == "qr_store"]
    assert stores == [Op("qr_store", receipt.job_ref.encode("ascii"))]
    store_at = ops.index(stores[0])
    assert ops[store_at + 1] == Op("qr_print")
    assert Op("qr_model", 2) in ops[:store_at]
    last_align = [op for op in ops[:store_at] if op.name == "align"][-1]
    assert last_align == Op("align", 1)  # centred
    assert ops[-1] == Op("cut", 0)  # GS V 0: full cut, the very last command
    assert [op.name for op in ops].count("cut") == 1
    assert ops[-2] == Op("feed", 6)  # past the cutter before cutting


# --- the bytes (Dummy) ------------------------------------------------------------------


@pytest.mark.parametrize("width", [32, 48])
@pytest.mark.parametrize("language", ["id", "en"])
def test_receipt_bytes_decode_to_the_layout(width: int, language: str) -> None:
    receipt = dataclasses.replace(SAMPLE, language=language)
    data = receipt_bytes(receipt, width=width)
    check_receipt_ops(decode(data), receipt, width)
    assert data.startswith(b"\x1b@")
    assert data.endswith(b"\x1dV\x00")
    assert len(data) < 600


def test_the_title_alone_is_bold() -> None:
    ops = decode(receipt_bytes(SAMPLE))
    title_at = ops.index(Op("text", receipt_lines(SAMPLE)[0]))
    bold = [op for op in ops[:title_at] if op.name == "bold"]
    assert bold[-1] == Op("bold", 1)
    after = [op for op in ops[title_at:] if op.name == "bold"]
    assert after == [Op("bold", 0)]


def test_hostile_names_cannot_smuggle_commands() -> None:
    receipt = dataclasses.replace(SAMPLE, operator="Budi\x1b@\x1dV\x00\x10\x04\x04\x1bp\x00")
    ops = decode(receipt_bytes(receipt))  # the decoder fails on any stray control byte
    assert [op.name for op in ops].count("init") == 1
    assert [op.name for op in ops].count("cut") == 1
    assert "status_query" not in [op.name for op in ops]


# --- decoding DLE EOT 4 -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (b"", "unknown"),
        (bytes([STATUS_OK]), "ok"),
        (bytes([STATUS_NEAR_END]), "near_end"),
        (bytes([0x12 | 0x04]), "near_end"),  # one of the two near-end bits
        (bytes([STATUS_OUT]), "out"),
        (bytes([0x12 | 0x20]), "out"),  # one of the two paper-end bits
        (bytes([STATUS_OUT_AND_NEAR_END]), "out"),
        (b"\x00", "unknown"),  # fixed bits wrong: not an answer to DLE EOT 4
        (b"\xff", "unknown"),
        (b"\x13", "unknown"),
        (bytes([STATUS_OK, STATUS_OUT]), "ok"),  # the first byte counts
    ],
)
def test_decode_paper_status(reply: bytes, expected: str) -> None:
    assert decode_paper_status(reply) == expected


# --- through python-escpos Network to the loopback printer -------------------------------


@pytest.mark.parametrize("width", [32, 48])
def test_print_receipt_over_tcp(printer9100: EscposListener, width: int) -> None:
    escpos(printer9100.uri, width=width).print_receipt(SAMPLE)
    (data,) = printer9100.wait_connections(1)
    assert data.startswith(DLE_EOT_PAPER)  # the paper is asked about first ...
    assert data[len(DLE_EOT_PAPER) :] == receipt_bytes(SAMPLE, width=width)  # ... then all of it
    ops = decode(data)
    assert ops[0] == Op("status_query", 4)
    check_receipt_ops(ops[1:], SAMPLE, width)


def test_print_receipt_over_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this environment")
    try:
        listener = EscposListener(host="::1")
    except OSError:
        pytest.skip("::1 cannot be bound here")
    with listener:
        assert listener.uri.startswith("escpos:tcp://[::1]:")
        escpos(listener.uri).print_receipt(SAMPLE)
        (data,) = listener.wait_connections(1)
    assert data[len(DLE_EOT_PAPER) :] == receipt_bytes(SAMPLE)


def test_a_healthy_printer(printer9100: EscposListener) -> None:
    printer = escpos(printer9100.uri)
    printer.preflight()
    assert printer.paper_status() == "ok"
    health = printer.health()
    assert (health.role, health.backend, health.state) == ("receipt", "escpos", "idle")
    assert health.accepting is True
    assert (health.reasons, health.markers, health.media) == ((), (), None)
    assert printer.target.uri == printer9100.uri
    # Each check is one short connection that sent DLE EOT 4 and nothing else.
    assert printer9100.wait_connections(3) == [DLE_EOT_PAPER] * 3


@pytest.mark.parametrize("status", [STATUS_OUT, STATUS_OUT_AND_NEAR_END])
def test_paper_out(status: int) -> None:
    with EscposListener(status=status) as listener:
        printer = escpos(listener.uri)
        with pytest.raises(PrinterNotReadyError) as not_ready:
            printer.preflight()
        assert not_ready.value.reason == "media_empty"
        health = printer.health()
        assert "media-empty" in health.reasons
        assert health.accepting is False
        assert printer.paper_status() == "out"
        with pytest.raises(PrintSubmitError) as failed:
            printer.print_receipt(SAMPLE)
        assert failed.value.reason == "media_empty"
        # Nothing but status questions went to a printer without paper.
        assert listener.wait_connections(4) == [DLE_EOT_PAPER] * 4


def test_paper_near_end_still_prints() -> None:
    with EscposListener(status=STATUS_NEAR_END) as listener:
        printer = escpos(listener.uri)
        printer.preflight()
        health = printer.health()
        assert (health.state, health.accepting, health.reasons) == ("idle", True, ("media-low",))
        assert printer.paper_status() == "near_end"
        printer.print_receipt(SAMPLE)
        data = listener.wait_connections(4)[3]
    assert data == DLE_EOT_PAPER + receipt_bytes(SAMPLE)


def test_a_silent_printer_is_unknown_but_still_prints() -> None:
    with EscposListener(status=None) as listener:
        printer = escpos(listener.uri)
        started = time.monotonic()
        assert printer.paper_status() == "unknown"
        assert time.monotonic() - started < STATUS_TIMEOUT_S * 2 + 1
        health = printer.health()
        assert (health.state, health.accepting, health.reasons) == ("unknown", True, ())
        printer.preflight()  # no answer is not a fault
        printer.print_receipt(SAMPLE)
        data = listener.wait_connections(4)[3]
        assert listener.status_queries == 4
    assert data == DLE_EOT_PAPER + receipt_bytes(SAMPLE)


def test_a_garbled_answer_is_unknown() -> None:
    with EscposListener(status=0xFF) as listener:
        assert escpos(listener.uri).paper_status() == "unknown"


def test_a_refused_port_is_offline_at_once() -> None:
    with EscposListener(refuse=True) as listener:
        printer = escpos(listener.uri)
        started = time.monotonic()
        with pytest.raises(PrinterNotReadyError) as not_ready:
            printer.preflight()
        assert not_ready.value.reason == "offline"
        health = printer.health()
        assert (health.state, health.accepting) == ("offline", False)
        assert printer.paper_status() == "unknown"
        with pytest.raises(PrintSubmitError) as failed:
            printer.print_receipt(SAMPLE)
        assert failed.value.reason == "offline"
        assert time.monotonic() - started < 3


def test_the_printer_going_away_between_checks(printer9100: EscposListener) -> None:
    printer = escpos(printer9100.uri)
    printer.preflight()
    printer9100.close()
    with pytest.raises(PrinterNotReadyError) as not_ready:
        printer.preflight()
    assert not_ready.value.reason == "offline"


# --- other endpoints: whatever fails, nothing foreign escapes -----------------------------


@pytest.fixture
def no_cupsd(tmp_path: Path) -> Iterator[None]:
    cups = pytest.importorskip("cups")
    before = cups.getServer()
    cups.setServer(str(tmp_path / "no-cupsd.sock"))
    try:
        yield
    finally:
        cups.setServer(before)


@pytest.mark.parametrize(
    "uri",
    [
        "escpos:usb:0416:5011",  # no such device here (or no pyusb)
        "escpos:serial:/dev/ttyCEDOKA0",  # no such port here (or no pyserial)
        "escpos:cups:Struk_Kantor",  # no cupsd at that socket
    ],
)
def test_unreachable_devices_are_offline(uri: str, no_cupsd: None) -> None:
    printer = escpos(uri)
    started = time.monotonic()
    with pytest.raises(PrinterNotReadyError) as not_ready:
        printer.preflight()
    assert not_ready.value.reason == "offline"
    assert printer.health().state == "offline"
    assert printer.paper_status() == "unknown"
    with pytest.raises(PrintSubmitError) as failed:
        printer.print_receipt(SAMPLE)
    assert failed.value.reason == "offline"
    assert time.monotonic() - started < 3


def test_only_escpos_receipt_targets(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        EscposPrinter(receipt_target(f"virtual:{tmp_path}"))
    a4 = PrinterTarget(
        role=PrinterRole.A4, uri="escpos:tcp://127.0.0.1:9", backend="escpos",
        endpoint=TcpEndpoint("127.0.0.1", 9),
    )  # fmt: skip
    with pytest.raises(TypeError):
        EscposPrinter(a4)
    with pytest.raises(ValueError, match="width"):
        EscposPrinter(receipt_target("escpos:tcp://127.0.0.1:9"), width=12)


# --- the virtual receipt printer ---------------------------------------------------------


def virtual(folder: Path, width: int = 32) -> VirtualReceiptPrinter:
    return VirtualReceiptPrinter(receipt_target(f"virtual:{folder}"), width=width)


@pytest.mark.parametrize("width", [32, 48])
def test_virtual_writes_each_receipt_as_text(tmp_path: Path, width: int) -> None:
    printer = virtual(tmp_path, width)
    printer.preflight()
    printer.print_receipt(SAMPLE)
    printer.print_receipt(SAMPLE)  # a reprint: a second file
    first = tmp_path / "receipt-9F3K2M7Q-1.txt"
    assert printer.receipts("9F3K2M7Q") == [first, tmp_path / "receipt-9F3K2M7Q-2.txt"]
    text = first.read_bytes().decode("utf-8")
    qr_line = "[QR: 9F3K2M7Q]".center(width).rstrip()
    assert text == "\n".join([*receipt_lines(SAMPLE, width=width), qr_line]) + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "receipt-9F3K2M7Q-1.txt",
        "receipt-9F3K2M7Q-2.txt",
    ]  # no temporary files left behind
    health = printer.health()
    assert (health.role, health.backend, health.state, health.accepting) == (
        "receipt", "virtual", "idle", True,
    )  # fmt: skip
    assert printer.paper_status() == "ok"


@pytest.mark.parametrize(
    ("marker", "reason", "expected"),
    [
        ("OFFLINE", "offline", ("offline", (), "unknown")),
        ("MEDIA_EMPTY", "media_empty", ("idle", ("media-empty",), "out")),
    ],
)
def test_virtual_fault_markers(
    tmp_path: Path, marker: str, reason: str, expected: tuple[str, tuple[str, ...], str]
) -> None:
    state, reasons, paper = expected
    printer = virtual(tmp_path)
    (tmp_path / marker).touch()
    with pytest.raises(PrinterNotReadyError) as not_ready:
        printer.preflight()
    assert not_ready.value.reason == reason
    with pytest.raises(PrintSubmitError) as failed:
        printer.print_receipt(SAMPLE)
    assert failed.value.reason == reason
    health = printer.health()
    assert (health.state, health.accepting, health.reasons) == (state, False, reasons)
    assert printer.paper_status() == paper
    assert printer.receipts(SAMPLE.job_ref) == []
    (tmp_path / marker).unlink()
    printer.print_receipt(SAMPLE)
    assert len(printer.receipts(SAMPLE.job_ref)) == 1


def test_virtual_media_low_still_prints(tmp_path: Path) -> None:
    printer = virtual(tmp_path)
    (tmp_path / "MEDIA_LOW").touch()
    printer.preflight()
    assert printer.health().reasons == ("media-low",)
    assert printer.paper_status() == "near_end"
    printer.print_receipt(SAMPLE)
    assert len(printer.receipts(SAMPLE.job_ref)) == 1


def test_virtual_fail_marker_fails_one_receipt(tmp_path: Path) -> None:
    printer = virtual(tmp_path)
    (tmp_path / "FAIL").touch()
    with pytest.raises(PrintSubmitError) as failed:
        printer.print_receipt(SAMPLE)
    assert failed.value.reason == "send_failed"
    assert not (tmp_path / "FAIL").exists()
    printer.print_receipt(SAMPLE)
    assert printer.receipts(SAMPLE.job_ref) == [tmp_path / "receipt-9F3K2M7Q-1.txt"]


def test_virtual_missing_folder_is_offline(tmp_path: Path) -> None:
    printer = virtual(tmp_path / "gone")
    with pytest.raises(PrinterNotReadyError) as not_ready:
        printer.preflight()
    assert not_ready.value.reason == "offline"
    assert printer.health().state == "offline"
    with pytest.raises(PrintSubmitError):
        printer.print_receipt(SAMPLE)


def test_virtual_only_virtual_receipt_targets() -> None:
    with pytest.raises(TypeError):
        VirtualReceiptPrinter(receipt_target("escpos:tcp://127.0.0.1:9100"))


# --- escpos:cups: through the suite's private cupsd, a raw queue, to the loopback printer ---


@pytest.fixture
def receipt_queue(lab: CupsLab, printer9100: EscposListener) -> Iterator[str]:
    """A raw CUPS queue whose device is the loopback receipt printer."""
    name = "cedoka-receipt"
    lab.lpadmin("-p", name, "-E", "-v", f"socket://127.0.0.1:{printer9100.port}", "-m", "raw")
    try:
        yield name
    finally:
        lab.command("cancel", "-a", "-x", name)
        lab.lpadmin("-x", name)


def test_print_receipt_through_a_raw_cups_queue(
    receipt_queue: str, printer9100: EscposListener
) -> None:
    printer = escpos(f"escpos:cups:{receipt_queue}")
    printer.preflight()
    health = printer.health()
    assert (health.backend, health.state, health.accepting) == ("escpos", "idle", True)
    assert printer.paper_status() == "unknown"  # no back channel through the queue
    printer.print_receipt(SAMPLE)
    (data,) = printer9100.wait_connections(1, timeout_s=20)
    assert data == receipt_bytes(SAMPLE)  # byte for byte through CUPS (no DLE EOT 4)


@pytest.mark.parametrize(
    ("command", "reason"), [("cupsdisable", "stopped"), ("cupsreject", "not_accepting")]
)
def test_a_cups_queue_that_would_hold_the_receipt(
    lab: CupsLab, receipt_queue: str, printer9100: EscposListener, command: str, reason: str
) -> None:
    lab.command(command, receipt_queue)
    printer = escpos(f"escpos:cups:{receipt_queue}")
    with pytest.raises(PrinterNotReadyError) as not_ready:
        printer.preflight()
    assert not_ready.value.reason == reason
    with pytest.raises(PrintSubmitError) as failed:
        printer.print_receipt(SAMPLE)
    assert failed.value.reason == reason
    assert printer.health().accepting is (command != "cupsreject")
    assert printer9100.connections() == []


def test_a_missing_cups_queue_is_offline(lab: CupsLab) -> None:
    printer = escpos("escpos:cups:no-such-queue")
    with pytest.raises(PrinterNotReadyError) as not_ready:
        printer.preflight()
    assert not_ready.value.reason == "offline"
    with pytest.raises(PrintSubmitError) as failed:
        printer.print_receipt(SAMPLE)
    assert failed.value.reason == "offline"


@pytest.mark.parametrize(
    "data",
    [
        b"abc",  # text without LF
        b"abc\x1bp\x00\x19\xfa\n",  # ESC p (cash drawer): not in the subset
        b"\x1b@ab\x07c\n",  # a control byte inside text
        b"\x1d(k\x05\x001P0A",  # truncated QR store
        b"\x1dVA",  # truncated feed-and-cut
    ],
)
def test_the_decoder_refuses_what_we_never_emit(data: bytes) -> None:
    with pytest.raises(AssertionError):
        decode(data)


def test_without_python_escpos_nothing_foreign_escapes(
    monkeypatch: pytest.MonkeyPatch, printer9100: EscposListener
) -> None:
    for name in ("escpos", "escpos.printer", "escpos.constants"):
        monkeypatch.setitem(sys.modules, name, None)  # as if it were not installed
    printer = escpos(printer9100.uri)
    with pytest.raises(PrinterNotReadyError) as not_ready:
        printer.preflight()
    assert not_ready.value.reason == "escpos_missing"  # not "offline": a missing driver
    assert printer.health().reasons == ("escpos-not-installed",)
    with pytest.raises(PrintSubmitError) as failed:
        printer.print_receipt(SAMPLE)
    assert failed.value.reason == "escpos_missing"
