"""The agent's composition root: the one place that builds the real parts — the SQLite
spool, the sealed-file store, the device keys, the HTTP client, the printers, the clock —
and wires them into the sync, dispatch, release and report services. Also the service's
loops (``cedoka run``): they never give up on a failure, they back off and try again."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agent import trust as trust_store
from agent.audit import AuditLog
from agent.blobs import BlobStore
from agent.client import DistrictClient
from agent.desk import Desk
from agent.dispatch import Dispatcher
from agent.files import private_dir, sweep_temporaries
from agent.home import HomeLayout
from agent.jobs import JobBook
from agent.keys import DeviceKeys
from agent.link import DistrictLink
from agent.linkwatch import NETWORK_BACKOFF_MAX_S, LinkProbe, is_network_failure
from agent.operators import OperatorBook
from agent.recent import RecentErrors
from agent.release import Releaser
from agent.reporter import Reporter
from agent.sealing import SealKeeper
from agent.settings import load_config, save_config
from agent.spool import Spool
from agent.stored import StoredJobs
from agent.sync import Syncer
from agent.update_status import read_status
from kiosk.backoff import Backoff
from kiosk.clock import trusted_now
from kiosk.config import (
    AgentConfig,
    PrinterRole,
    agent_config_to_raw,
    check_printer_change,
    validate_agent_config,
)
from kiosk.errors import CedokaError, Reason, RejectedError, TransportError
from kiosk.report import MAX_SEAL_KEYS_HELD
from kiosk.selftest import require_selftest
from printers.base import Printer
from printers.factory import open_printer, open_receipt_printer
from printers.receipt import ReceiptPrinter

log = logging.getLogger("cedoka.agent")
# A successful round stores the time in the spool's ``link_ok_s`` after a failure, else at
# most this often (the in-memory link state, which the screen reads, is always current).
LINK_OK_STORE_S = 60


def agent_version() -> str:
    from cedoka_io.version import package_version

    return f"cedoka/{package_version()}"


def local_now_s() -> int:
    return int(time.time())


@dataclass
class LinkState:
    """What the screen and ``status`` say about the link (in memory and in the spool)."""

    last_ok_s: int = 0
    error: str | None = None
    revoked: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class Agent:
    """Everything of one kiosk, built over its home directory."""

    def __init__(
        self, home: Path, *, verify: str | bool = True, link: DistrictLink | None = None,
        printers: Mapping[PrinterRole, Printer] | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:  # fmt: skip
        """The real parts over ``home``, or these overrides (for tests and tools):

        ``link``: the district link for both sync and reports (one thread at a time:
        :meth:`run_once`), instead of two HTTP clients; ``printers``: the A4 adapters by
        role, instead of those of agent.toml; ``clock``: the local clock (Unix
        seconds), instead of ``time.time``.

        Raises:
            SelfTestError: the crypto self-test failed; ConfigError / OSError: the home's
            agent.toml, keys or spool.
        """
        require_selftest()
        self.local_now_s: Callable[[], int] = clock or local_now_s
        self.home = private_dir(home)
        self.config: AgentConfig = load_config(home)
        self.keys = DeviceKeys.load(home)
        layout = HomeLayout(self.home)
        self.spool = Spool(layout.spool)
        self.blobs = BlobStore(layout.blobs)
        sweep_temporaries(self.home)
        sweep_temporaries(self.blobs.directory)
        self.errors = RecentErrors()
        self.link = LinkState()
        self._link_ok_stored_s = 0  # when this process last stored link_ok_s
        trust = trust_store.load(self.spool)
        cfg = self.config
        self.book = JobBook(
            self.spool, device_id=cfg.device_id, district_code=trust.district_code,
            auth_key=self.keys.auth, now_s=self.trusted_now_s, max_reprints=cfg.max_reprints,
        )  # fmt: skip
        self.stored = StoredJobs(spool=self.spool, book=self.book, blobs=self.blobs,
                                 keys=self.keys, device_id=cfg.device_id)  # fmt: skip
        # One dict shared with the dispatcher and the reporter: a settings change swaps the
        # adapter in place (update_settings).
        self.printers: dict[PrinterRole, Printer] = (
            dict(printers) if printers is not None else
            {t.role: open_printer(t) for t in cfg.printers if t.role is PrinterRole.A4}
        )  # fmt: skip
        self.receipt: ReceiptPrinter | None = next(
            (open_receipt_printer(t) for t in cfg.printers if t.role is PrinterRole.RECEIPT), None
        )
        self.operators = OperatorBook(self.spool, now_s=self.trusted_now_s)
        self.audit = AuditLog(self.spool, device_id=cfg.device_id,
                              district_code=trust.district_code, key=self.keys.auth,
                              now_s=self.trusted_now_s)  # fmt: skip
        # One client per thread that talks to the district (a client is for one thread at a
        # time): the sync loop's, and the reporter's; or the one link given.
        self.client: DistrictLink
        self.report_client: DistrictLink
        if link is not None:
            self.client = self.report_client = link
        else:
            self.client, self.report_client = (DistrictClient(
                base_url=cfg.server_url, device_id=cfg.device_id, auth_key=self.keys.auth,
                request_timeout_s=cfg.request_timeout_s, verify=verify,
            ) for _ in range(2))  # fmt: skip
        self.probe = LinkProbe(cfg.server_url)  # after a network failure: is it back?
        self.ready = threading.Event()
        self.sealing = SealKeeper(
            layout=layout, keys=self.keys, spool=self.spool, client=self.client,
            rotate_days=lambda: self.config.seal_rotate_days, now_s=self.trusted_now_s,
            errors=self.errors, local_now_s=self.local_now_s,
        )  # fmt: skip
        self.syncer = Syncer(
            spool=self.spool, book=self.book, blobs=self.blobs, client=self.client,
            keys=self.keys, config=cfg, errors=self.errors, local_now_s=self.local_now_s,
            on_ready=self.ready.set, sealing=self.sealing,
        )  # fmt: skip
        self.dispatcher = Dispatcher(
            spool=self.spool, book=self.book, stored=self.stored, printers=self.printers,
            config=cfg, errors=self.errors, local_now_s=self.local_now_s,
            lock_path=layout.printing_lock,
        )  # fmt: skip
        self.releaser = Releaser(
            spool=self.spool, book=self.book, stored=self.stored, device_id=cfg.device_id,
            policy=cfg.lockout, local_now_s=self.local_now_s,
        )  # fmt: skip
        self.reporter = Reporter(
            spool=self.spool, client=self.report_client, printers=self.printers, errors=self.errors,
            agent=agent_version(), local_now_s=self.local_now_s, journal_head=self.audit.head_hash,
            receipt=lambda: self.receipt, update=lambda: read_status(self.home),
            seal_keys=lambda: min(len(self.keys.seal_keys), MAX_SEAL_KEYS_HELD),
        )  # fmt: skip
        self.desk = Desk(  # the staff's actions, for the kiosk screen (ui.api)
            spool=self.spool, book=self.book, stored=self.stored, dispatcher=self.dispatcher,
            releaser=self.releaser, operators=self.operators, audit=self.audit,
            syncer=self.syncer, reporter=self.reporter, link=self.link,
            config=lambda: self.config, printers=self.printers, receipt=lambda: self.receipt,
            now_s=self.trusted_now_s, update_settings=self.update_settings,
        )  # fmt: skip

    def update_settings(
        self, *, language: str | None = None,
        printers: Mapping[PrinterRole, str | None] | None = None,
    ) -> AgentConfig:  # fmt: skip
        """Change the language and printer roles (a URI, or None to remove a receipt
        printer): validated, written to agent.toml atomically, then the adapters swapped.
        A folder (``virtual:``) printer is refused unless agent.toml allows it (a demo or
        test home; :func:`kiosk.config.check_printer_change`).

        Raises:
            PrinterNotAllowedError: a virtual printer here; nothing changed.
            ConfigError: naming the setting that is wrong; nothing changed.
        """
        raw = agent_config_to_raw(self.config)
        if language is not None:
            raw["language"] = language
        targets = dict(raw["printers"])  # type: ignore[call-overload]
        for role, uri in (printers or {}).items():
            if uri is None:
                targets.pop(role.value, None)
            else:
                targets[role.value] = uri
        raw["printers"] = targets
        config = validate_agent_config(raw)
        check_printer_change(self.config, config)
        a4: dict[PrinterRole, Printer] = {
            t.role: open_printer(t) for t in config.printers if t.role is PrinterRole.A4
        }
        receipt = next((open_receipt_printer(t) for t in config.printers
                        if t.role is PrinterRole.RECEIPT), None)  # fmt: skip
        save_config(self.home, config)
        self.config = config
        self.printers.clear()
        self.printers.update(a4)
        self.receipt = receipt
        return config

    def trusted_now_s(self) -> int:
        floor = trust_store.time_floor_s(self.spool)
        return trusted_now(local_now_s=self.local_now_s(), floor_s=floor)

    def close(self) -> None:
        self.client.close()
        if self.report_client is not self.client:
            self.report_client.close()
        self.spool.close()

    def run_once(self) -> None:
        """One pass of the service in the calling thread, for tests and tools: one sync
        round that does not wait for news (``wait_s`` 1, the protocol's least), one
        dispatch pass (expire what is due, print every released job) and one report
        delivery (the pending events, then a heartbeat). No start-up sweep (``run`` does
        it) and no backoff: a failure propagates at once and the next call resumes (every
        step is durable and safe to repeat).

        The link state (``self.link``, the spool's ``link_ok_s`` / ``link_error``: what the
        screen, the doctor and the heartbeat show) records the sync round's outcome, as in
        ``run``.

        Raises:
            TransportError / RejectedError from the sync round (nothing
            printed or reported then); TransportError / RejectedError from the report.
        """
        self._synced(1)
        self.dispatcher.expire_due()
        self.dispatcher.print_released()
        self.reporter.deliver()
        self.reporter.heartbeat()

    # --- the service ----------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """``cedoka run``: recover, then sync, print and report until ``stop`` is set."""
        self.dispatcher.recover()
        self.stored.sweep()
        loops = [
            threading.Thread(target=self._sync_loop, args=(stop,), name="sync", daemon=True),
            threading.Thread(target=self._print_loop, args=(stop,), name="print", daemon=True),
            threading.Thread(target=self._report_loop, args=(stop,), name="report", daemon=True),
        ]
        self.ready.set()  # print what was released before a restart at once
        for loop in loops:
            loop.start()
        log.info("event=agent_started device=%s", self.config.device_id)
        stop.wait()
        self.ready.set()
        # Printing and reporting finish their step; a long-poll in flight is not waited
        # for: every sync step is durable and safe to cut (as a power cut would).
        for loop in loops[1:]:
            loop.join(timeout=self.config.request_timeout_s)
        loops[0].join(timeout=1)
        log.info("event=agent_stopped")

    def _wait(self, stop: threading.Event, backoff: Backoff, retry_after: float | None,
              error: Exception | None = None) -> None:  # fmt: skip
        """Back off after a failure (protocol §15.3): a network failure waits at most 60 s
        and ends its wait as soon as the district's port accepts a connection again
        (:mod:`agent.linkwatch`); any other failure waits as configured."""
        if not is_network_failure(error):
            stop.wait(backoff.delay_s(random.uniform, retry_after))
            return
        delay = backoff.delay_s(random.uniform, retry_after, cap_s=NETWORK_BACKOFF_MAX_S)
        log.info("event=backoff kind=%s wait_s=%.1f", getattr(error, "kind", "-"), delay)
        self.probe.wait(stop, delay)

    def _link_failed(self, error: Exception) -> str:
        if isinstance(error, RejectedError):
            return error.reason.value
        return str(getattr(error, "kind", None) or type(error).__name__.lower())

    def _sync_loop(self, stop: threading.Event) -> None:
        backoff = Backoff(self.config.backoff_initial_s, self.config.backoff_max_s)
        fresh = True  # after a start or a failure: a fresh head at once (cancellations)
        while not stop.is_set():
            retry_after: float | None = None
            failure: Exception | None = None
            try:
                self._synced(1 if fresh else self.config.long_poll_wait_s)
                fresh = False
            except TransportError as error:
                retry_after = getattr(error, "retry_after_s", None)
                backoff, fresh, failure = backoff.failed(), True, error
            except RejectedError:
                backoff = backoff.failed()
            except Exception:  # a bug must not stop the kiosk for good: log, back off
                log.exception("event=sync_error")
                self.errors.note(self.local_now_s(), "internal_error")
                backoff = backoff.failed()
            else:
                if not self.syncer.keyring_refused:
                    backoff = backoff.succeeded()
                    continue
                # a refused keyring is served again at once: back off (jobs still arrive)
                backoff = backoff.failed()
            self._wait(stop, backoff, retry_after, failure)

    def _synced(self, wait_s: int) -> None:
        """One sync round; the link state records how it went. Raises what the round
        raised (TransportError, RejectedError, a bug) after noting it."""
        try:
            self.syncer.round(wait_s)
        except TransportError as error:
            kind = self._link_failed(error)
            self._note_link(kind)
            log.warning("event=link_down kind=%s", kind)
            raise
        except RejectedError as error:
            self._note_link(error.reason.value)
            if error.reason in {Reason.DEVICE_REVOKED, Reason.UNKNOWN_DEVICE}:
                with self.link.lock:
                    self.link.revoked = True
                log.error("event=device_revoked: re-enrol needed")
            else:
                log.warning("event=sync_refused reason=%s", error.reason.value)
            raise
        now = self.local_now_s()
        with self.link.lock:
            was_failing = self.link.error is not None or self.link.revoked
            self.link.last_ok_s, self.link.error, self.link.revoked = now, None, False
        # Durably (for status, doctor, the heartbeat) after a failure, else at most once a
        # minute: not one more fsync for every round while jobs flow.
        if (
            was_failing
            or now - self._link_ok_stored_s >= LINK_OK_STORE_S
            or now < (self._link_ok_stored_s)
        ):
            self.spool.set_meta({"link_ok_s": str(now).encode(), "link_error": b""})
            self._link_ok_stored_s = now

    def _note_link(self, kind: str) -> None:
        with self.link.lock:
            self.link.error = kind
        self.errors.note(self.local_now_s(), kind if kind.isidentifier() else "link_down")
        self.spool.set_meta({"link_error": kind.encode()})

    def _print_loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.ready.wait(timeout=5)
            self.ready.clear()
            if stop.is_set():
                return
            try:
                self.dispatcher.expire_due()
                self.dispatcher.print_released()
            except Exception:
                log.exception("event=print_error")
                self.errors.note(self.local_now_s(), "internal_error")
                stop.wait(5)

    def _report_loop(self, stop: threading.Event) -> None:
        backoff = Backoff(self.config.backoff_initial_s, self.config.backoff_max_s)
        next_beat = 0.0
        while not stop.is_set():
            retry_after: float | None = None
            failure: Exception | None = None
            try:
                self.reporter.deliver()
                if time.monotonic() >= next_beat:
                    self.reporter.heartbeat()
                    next_beat = time.monotonic() + self.config.heartbeat_interval_s
            except TransportError as error:
                retry_after = getattr(error, "retry_after_s", None)
                backoff, failure = backoff.failed(), error
            except CedokaError as error:
                log.warning("event=report_refused error=%s", type(error).__name__)
                backoff = backoff.failed()
            except Exception:
                log.exception("event=report_error")
                backoff = backoff.failed()
            else:
                backoff = backoff.succeeded()
                stop.wait(0.5)
                continue
            self._wait(stop, backoff, retry_after, failure)
