"""``cedoka doctor``: check a kiosk's installation and say, in Indonesian and English, what is
wrong and how to fix it.

This module gathers the facts — the state folder, the agent's settings, device keys and trust
state, one authenticated feed request to the district (the one the service makes, with the
shortest wait the protocol allows), the server's TLS certificate, the free disk space, the
spool, the printers (through the adapters the agent builds for its heartbeat) and CUPS's
settings — and hands them to the pure judgements of :mod:`kiosk.doctor`, which hold every
word shown. Each check is isolated: an exception becomes that check's failure with its reason
and the others still run; a check that needs what an earlier one could not provide says
``skip`` and why. Nothing in the home is changed (SQLite may add the ``-wal``/``-shm`` files
of an open database; as root it gives them the database's owner).

Exit status: 0 when no check failed (warnings allowed), 1 when one did.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import pwd
import shlex
import shutil
import socket
import ssl
import stat
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from agent import trust as trust_store
from agent.client import DistrictClient, LinkDownError
from agent.commands import PROG
from agent.home import DEFAULT_HOME, HomeLayout
from agent.keys import DeviceKeys
from agent.settings import load_config
from agent.spool import Spool, SpoolError
from cedoka_io.sqlite import quick_check
from cedoka_io.version import package_version
from kiosk.config import AgentConfig, CupsQueue, PrinterTarget, is_loopback_host
from kiosk.config import office_utc_offset_s as utc_offset_of
from kiosk.doctor import (
    NO_ANSWER,
    NO_CUPS,
    NO_DATE,
    NOT_ASKED,
    NOT_ENROLLED,
    Check,
    EnrolmentFacts,
    EnrolmentProblem,
    PrinterFacts,
    ServerFacts,
    SpoolFacts,
    StateDirFacts,
    TlsFacts,
    TrustFacts,
    clock_offset_s,
    crashed,
    exit_code,
    floor_ahead,
    judge_clock,
    judge_cups_preserve,
    judge_disk,
    judge_enrolment,
    judge_printer,
    judge_server,
    judge_spool,
    judge_state_dir,
    judge_tls,
    judge_trust,
    outbox_event_time_s,
    preserve_job_files,
    render_text,
    skipped,
    to_json,
)
from kiosk.errors import CedokaError, ConfigError, OperatorError, RejectedError
from kiosk.feed import parse_feed
from kiosk.rootchain import verify_keyring_with_chain
from kiosk.verify import TrustState, verify_head

SERVER_TIMEOUT_S = 10  # connect and read timeout of the one request to the district
FEED_WAIT_S = 1  # the feed's long-poll: 1 is the protocol's shortest (docs/protocol.md 6.1)
TLS_TIMEOUT_S = 10
_MAX_ERROR_CHARS = 200


def run_doctor(args: argparse.Namespace) -> int:
    """Run every check on ``args.home``, print the verdicts (``--json``: as JSON) and return
    the exit status: 1 when a check failed, else 0."""
    if not logging.getLogger().handlers:  # no log lines between the verdicts
        logging.getLogger("cedoka").addHandler(logging.NullHandler())
    home: Path = args.home
    checks = Doctor(home, cupsd_conf=args.cupsd_conf).run()
    if args.json:
        print(json.dumps(to_json(checks), indent=2, ensure_ascii=False))
    else:
        print(render_text(checks, home=str(home), version=package_version()))
    return exit_code(checks)


def command_prefix(home: Path) -> str:
    """How to call ``cedoka`` for this home in a suggested fix."""
    if home == DEFAULT_HOME:
        return PROG
    return f"{PROG} --home {shlex.quote(str(home))}"


def _error_text(error: BaseException) -> str:
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text[:_MAX_ERROR_CHARS]


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class Doctor:
    """The checks of one kiosk home, in order; later checks use what earlier ones loaded."""

    def __init__(self, home: Path, *, cupsd_conf: Path) -> None:
        self.home = home
        self.cupsd_conf = cupsd_conf
        self.command = command_prefix(home)
        self.config: AgentConfig | None = None
        self.keys: DeviceKeys | None = None
        self.spool: Spool | None = None
        self.trust: TrustState | None = None
        # The district's answer, for the clock check: its Date and when it was sent/received.
        self.date_s: float | None = None
        # For the trust check: the iat of the head in that answer, signature-verified.
        self.district_time_s: int | None = None
        self.asked = self.answered = False
        self.sent_s = self.received_s = 0.0

    def run(self) -> list[Check]:
        try:
            state_dir = self._guarded("state_dir", self._state_dir)
            enrolment = self._guarded("enrolment", self._enrolment)
            # The district is asked before the trust state is judged (and shown after it):
            # the time it signs now tells whether the time floor is far ahead of it.
            server = self._guarded("server", self._server)
            checks = [
                state_dir,
                enrolment,
                self._guarded("trust", self._trust),
                server,
                self._guarded("tls", self._tls),
                self._guarded("clock", self._clock),
                self._guarded("disk", self._disk),
                self._guarded("spool", self._spool),
            ]
            checks += self._printers()
            checks.append(self._guarded("cups_preserve", self._cups_preserve))
        finally:
            if self.spool is not None:
                self.spool.close()
        return checks

    @staticmethod
    def _guarded(check_id: str, gather: Callable[[], Check]) -> Check:
        try:
            return gather()
        except Exception as error:  # one check's failure must not stop the others
            return crashed(check_id, _error_text(error))

    def _utc_offset_s(self) -> int:
        return utc_offset_of(self.config) if self.config is not None else 0

    # --- 1. the state folder ----------------------------------------------------------

    def _state_dir(self) -> Check:
        home = self.home
        try:
            info = home.stat()
        except FileNotFoundError:
            return judge_state_dir(StateDirFacts(str(home), exists=False), command=self.command)
        runner_uid = os.geteuid()
        facts = StateDirFacts(
            str(home), exists=True, is_dir=stat.S_ISDIR(info.st_mode),
            mode=stat.S_IMODE(info.st_mode), owner=_user(info.st_uid), owner_uid=info.st_uid,
            runner=_user(runner_uid), runner_uid=runner_uid,
        )  # fmt: skip
        if facts.is_dir:
            exposed, foreign = self._inside(home, owner_uid=info.st_uid)
            facts = replace(facts, exposed=tuple(exposed), foreign=tuple(foreign))
        return judge_state_dir(facts, command=self.command)

    @staticmethod
    def _inside(
        home: Path, *, owner_uid: int
    ) -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
        """Entries (names only) that other users may open, and entries of another owner.
        Symbolic links are not followed (their own mode means nothing)."""
        exposed: list[tuple[str, int]] = []
        foreign: list[tuple[str, str]] = []
        for root, dirs, files in os.walk(home):
            for name in sorted(dirs) + sorted(files):
                path = Path(root, name)
                try:
                    info = path.lstat()
                except FileNotFoundError:  # gone meanwhile (a temporary file of the service)
                    continue
                if stat.S_ISLNK(info.st_mode):
                    continue
                shown = str(path.relative_to(home)) + ("/" if stat.S_ISDIR(info.st_mode) else "")
                if info.st_mode & 0o077:
                    exposed.append((shown, stat.S_IMODE(info.st_mode)))
                if info.st_uid != owner_uid:
                    foreign.append((shown, _user(info.st_uid)))
        return exposed, foreign

    # --- 2. enrolment: settings, keys, trust state --------------------------------------

    def _enrolment(self) -> Check:
        problem = EnrolmentProblem

        def judge(facts: EnrolmentFacts) -> Check:
            return judge_enrolment(facts, command=self.command, home=str(self.home))

        if not HomeLayout(self.home).config.exists():
            return judge(EnrolmentFacts(problem.NOT_ENROLLED))
        try:
            config = load_config(self.home)
        except (ConfigError, OperatorError, OSError, UnicodeDecodeError) as error:
            detail = str(error) if isinstance(error, CedokaError) else _error_text(error)
            return judge(EnrolmentFacts(problem.SETTINGS, detail))
        self.config = config
        try:
            self.keys = DeviceKeys.load(self.home)
        except OperatorError as error:
            return judge(EnrolmentFacts(problem.KEYS, str(error)))
        except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as error:  # not a PEM key
            return judge(EnrolmentFacts(problem.KEYS, _error_text(error)))
        path = HomeLayout(self.home).spool
        if not path.is_file():
            return judge(EnrolmentFacts(problem.SPOOL, f"{path} missing"))
        try:
            self.spool = Spool(path)
        except (OSError, SpoolError) as error:
            return judge(EnrolmentFacts(problem.SPOOL, _error_text(error)))
        try:
            trust = trust_store.load(self.spool)
        except OperatorError as error:
            return judge(EnrolmentFacts(problem.TRUST, str(error)))
        except (CedokaError, ValueError, KeyError) as error:
            return judge(EnrolmentFacts(problem.TRUST, _error_text(error)))
        if trust.device_id != config.device_id:
            return judge(EnrolmentFacts(problem.MISMATCH))
        self.trust = trust
        return judge(EnrolmentFacts(
            None, device_id=config.device_id, district_code=config.district_code,
            office_code=config.office_code, office_name=config.office_name,
        ))  # fmt: skip

    # --- 3. trust state -------------------------------------------------------------------

    def _trust(self) -> Check:
        if self.trust is None or self.spool is None:
            return skipped("trust", NOT_ENROLLED)
        trust, head = self.trust, self.trust.head
        now = int(time.time())
        seen = trust_store.freshness(self.spool, trust, local_now_s=now)
        facts = TrustFacts(
            keyring_version=trust.keyring.version, head_seq=head.seq if head else None,
            head_issued_s=head.issued_at_s if head else None,
            head_expires_s=head.expires_at_s if head else None,
            time_floor_s=trust.time_floor_s, local_now_s=now,
            link_error=(self.spool.get_meta("link_error") or b"").decode("ascii", "replace"),
            utc_offset_s=self._utc_offset_s(), head_refused=seen.refused or "",
            district_time_s=self.district_time_s,
        )  # fmt: skip
        return judge_trust(facts, command=self.command, home=str(self.home))

    # --- 4. one request to the district -----------------------------------------------

    def _server(self) -> Check:
        if self.config is None or self.keys is None:
            return skipped("server", NOT_ENROLLED)
        config = self.config
        host = urlsplit(config.server_url).netloc
        facts = ServerFacts(host=host, outcome="ok", timeout_s=SERVER_TIMEOUT_S, wait_s=FEED_WAIT_S)
        ca = HomeLayout(self.home).server_ca
        client = DistrictClient(
            base_url=config.server_url, device_id=config.device_id, auth_key=self.keys.auth,
            request_timeout_s=SERVER_TIMEOUT_S, verify=str(ca) if ca.exists() else True,
        )  # fmt: skip
        after, keyring_version = 0, 1
        if self.trust is not None and self.spool is not None:
            after, keyring_version = trust_store.feed_after(self.spool), self.trust.keyring.version
        started = time.monotonic()
        self.sent_s, self.asked = time.time(), True
        try:
            body = client.feed(after=after, keyring_version=keyring_version, wait_s=FEED_WAIT_S)
        except LinkDownError as error:
            return judge_server(replace(facts, outcome=error.kind.value, status=error.status),
                                command=self.command, home=str(self.home))  # fmt: skip
        except RejectedError as error:  # the district itself refused: its Date counts
            self._answered(client)
            facts = replace(facts, outcome="rejected", reason=error.reason.value)
            return judge_server(facts, command=self.command, home=str(self.home))
        finally:
            self.received_s = time.time()
            elapsed_ms = round((time.monotonic() - started) * 1000)
            client.close()
        self._answered(client)
        facts = replace(facts, elapsed_ms=elapsed_ms)
        if self.trust is not None:
            self.district_time_s = self._signed_time(body, self.trust)
            try:
                self._verify_answer(body, self.trust)
            except RejectedError as error:
                ahead = floor_ahead(self.trust.time_floor_s, self.district_time_s)
                facts = replace(facts, outcome="head_rejected", reason=error.reason.value,
                                floor_ahead=ahead)  # fmt: skip
        return judge_server(facts, command=self.command, home=str(self.home))

    @staticmethod
    def _signed_time(body: bytes, trust: TrustState) -> int | None:
        """The time the district signs now: the ``iat`` of the answer's head, verified
        (signature by a key of the stored or the answer's keyring, key window at that
        ``iat``, issuer, audience, lifetime) but judged against no clock, floor or stored
        head — judging the floor is what it is for. None if it does not verify."""
        try:
            feed = parse_feed(body)
            keyring = trust.keyring
            if feed.keyring is not None:  # after a root rotation: via its chain (§9.10)
                keyring, _ = verify_keyring_with_chain(
                    feed.keyring, feed.root, district_code=trust.district_code,
                    root_key=trust.root_key, current=trust.keyring,
                )  # fmt: skip
            unjudged = replace(trust, keyring=keyring, head=None, time_floor_s=0)
            return verify_head(feed.head, trust=unjudged, local_now_s=0).issued_at_s
        except CedokaError:
            return None

    def _answered(self, client: DistrictClient) -> None:
        self.answered, self.date_s = True, client.last_date_s

    @staticmethod
    def _verify_answer(body: bytes, trust: TrustState) -> None:
        """Would the service accept this answer? Its keyring (when newer) and its signed
        head, verified as the sync does (nothing is stored)."""
        feed = parse_feed(body)
        if feed.keyring is not None:  # after a root rotation: via its chain (§9.10)
            keyring, _ = verify_keyring_with_chain(
                feed.keyring, feed.root, district_code=trust.district_code,
                root_key=trust.root_key, current=trust.keyring,
            )  # fmt: skip
            trust = replace(trust, keyring=keyring)
        verify_head(feed.head, trust=trust, local_now_s=int(time.time()))

    # --- 5. the server's certificate --------------------------------------------------

    def _tls(self) -> Check:
        if self.config is None:
            return skipped("tls", NOT_ENROLLED)
        parts = urlsplit(self.config.server_url)
        host = parts.hostname or ""
        if parts.scheme == "http":
            return judge_tls(TlsFacts("http", host, loopback=is_loopback_host(host)))
        port = parts.port or 443
        ca = HomeLayout(self.home).server_ca  # written by 'cedoka enroll --ca'
        own_ca = ca.exists()
        facts = TlsFacts("https", host, own_ca=own_ca, now_s=int(time.time()),
                         utc_offset_s=self._utc_offset_s())  # fmt: skip
        # First the certificate as sent (read, not trusted), for its dates ...
        loose = ssl.create_default_context()
        loose.check_hostname, loose.verify_mode = False, ssl.CERT_NONE
        try:
            der = self._handshake(loose, host, port)
        except ssl.SSLError as error:
            return judge_tls(replace(facts, error=_error_text(error)))
        except OSError:
            return judge_tls(replace(facts, connected=False))
        if der:
            cert = x509.load_der_x509_certificate(der)
            facts = replace(facts, not_before_s=int(cert.not_valid_before_utc.timestamp()),
                            not_after_s=int(cert.not_valid_after_utc.timestamp()))  # fmt: skip
        # ... then verified as the agent's client does: the CA file, else requests' bundle.
        from requests.utils import DEFAULT_CA_BUNDLE_PATH

        strict = ssl.create_default_context(cafile=str(ca) if own_ca else DEFAULT_CA_BUNDLE_PATH)
        try:
            self._handshake(strict, host, port)
        except ssl.SSLCertVerificationError as error:
            return judge_tls(replace(facts, error=error.verify_message or _error_text(error)))
        except ssl.SSLError as error:
            return judge_tls(replace(facts, error=_error_text(error)))
        except OSError:
            return judge_tls(replace(facts, connected=False))
        return judge_tls(replace(facts, verified=True))

    @staticmethod
    def _handshake(context: ssl.SSLContext, host: str, port: int) -> bytes | None:
        """One TLS handshake; the server's certificate (DER) as sent."""
        with (
            socket.create_connection((host, port), timeout=TLS_TIMEOUT_S) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            return tls.getpeercert(binary_form=True)

    # --- 6. the clock against the district's -----------------------------------------

    def _clock(self) -> Check:
        if not self.answered:
            return skipped("clock", NO_ANSWER if self.asked else NOT_ASKED)
        if self.date_s is None:
            return skipped("clock", NO_DATE)
        offset = clock_offset_s(date_s=self.date_s, sent_s=self.sent_s, received_s=self.received_s)
        return judge_clock(offset)

    # --- 7. disk ------------------------------------------------------------------------

    def _disk(self) -> Check:
        where = self.home
        while not where.exists() and where != where.parent:
            where = where.parent
        return judge_disk(shutil.disk_usage(where).free)

    # --- 8. the spool ---------------------------------------------------------------------

    def _spool(self) -> Check:
        path = HomeLayout(self.home).spool
        if not path.is_file():
            if self.config is None:
                return skipped("spool", NOT_ENROLLED)
            return judge_spool(SpoolFacts(exists=False))
        # Read-only, and before the spool is trusted: a damaged file is never written to.
        integrity = quick_check(path)
        facts = SpoolFacts(exists=True, integrity=integrity)
        if integrity == ("ok",) and self.spool is not None:
            pending = self.spool.outbox_depth()
            oldest = None
            if pending:
                first = self.spool.pending_events(1)
                made_s = outbox_event_time_s(first[0][1]) if first else None
                oldest = None if made_s is None else max(0, int(time.time()) - made_s)
            facts = replace(facts, pending=pending, oldest_pending_age_s=oldest)
        return judge_spool(facts)

    # --- 9. printers ------------------------------------------------------------------------

    def _printers(self) -> list[Check]:
        if self.config is None:
            return [skipped("printers", NOT_ENROLLED)]
        return [
            self._guarded(f"printer_{target.role.value}", functools.partial(self._printer, target))
            for target in self.config.printers
        ]

    def _printer(self, target: PrinterTarget) -> Check:
        from printers.base import PrinterNotReadyError
        from printers.factory import open_any

        queue = target.endpoint.name if isinstance(target.endpoint, CupsQueue) else ""
        facts = PrinterFacts(role=target.role.value, uri=target.uri, backend=target.backend,
                             queue=queue)  # fmt: skip
        try:
            printer = open_any(target)
        except CedokaError as error:
            return judge_printer(replace(facts, unusable=str(error)), command=self.command)
        reason = None
        try:
            printer.preflight()
        except PrinterNotReadyError as error:
            reason = error.reason
        facts = replace(facts, health=printer.health(), preflight=reason)
        return judge_printer(facts, command=self.command)

    # --- 10. CUPS keeps no documents ----------------------------------------------------

    def _cups_preserve(self) -> Check:
        if self.config is None:
            return skipped("cups_preserve", NOT_ENROLLED)
        if not any(isinstance(t.endpoint, CupsQueue) for t in self.config.printers):
            return skipped("cups_preserve", NO_CUPS)
        path = str(self.cupsd_conf)
        try:
            text = self.cupsd_conf.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            reason = error.strerror or type(error).__name__
            return judge_cups_preserve(None, path=path, readable=False, error=reason)
        return judge_cups_preserve(preserve_job_files(text), path=path)
