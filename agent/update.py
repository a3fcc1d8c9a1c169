"""Signed self-update (issue 19, ADR 0031): the agent's side of the district's TUF repository.

- **Trust.** TUF's root is signed by the district root key that this kiosk pinned at
  enrolment. The first check downloads ``/tuf/metadata/1.root.json`` (then 2, 3, … while
  the root role is another key: a kiosk enrolled after a root rotation, ADR 0033) and accepts
  it only when its root role is exactly that pinned key (threshold 1) and it verifies under
  it; from then
  on python-tuf's :class:`~tuf.ngclient.Updater` keeps the trusted root in
  ``<home>/update/metadata`` and follows root rotations itself. Every other check —
  rollback, freeze, mix-and-match, endless data, the archive's length and SHA-256 — is TUF's.
- **Roll-out.** Of the releases newer than this agent, the highest one whose stage admits
  this kiosk (:mod:`kiosk.rollout`: its office listed, or its bucket below the percentage).
- **Install.** The archive (``release.json`` + ``wheels/``) becomes a new release venv
  beside the current one, ``<prefix>/opt/cedoka/releases/<V>-<hash>/`` (ADR 0017's layout):
  ``python3 -m venv``, ``pip install --no-index`` from the archive's wheels only, then
  ``cedoka --version`` and ``cedoka selftest`` from the new release. One that fails never
  becomes current.
- **Switch.** Only while the spool is idle (no job released or printing, the printing lock
  free): ``current`` → the new release atomically, ``previous`` → the old one, every other
  release deleted; the service restarted; the new agent must write ``running.json`` with the
  new version within the health timeout, else ``current`` goes back to the old release and
  the service is restarted again (a rollback).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
from securesystemslib.signer import SSlibKey
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, Root, TargetFile, Targets
from tuf.ngclient import Updater, UpdaterConfig
from tuf.ngclient.fetcher import FetcherInterface

from agent.files import exclusive_lock, private_dir
from agent.home import HomeLayout
from agent.running import started_since
from agent.settings import load_config
from agent.spool import Spool
from agent.trust import load as load_trust
from agent.update_status import record
from cedoka_io.files import write_atomic
from kiosk.errors import OperatorError, TransportError
from kiosk.lifecycle import JobState
from kiosk.limits import MAX_ROOT_LINKS
from kiosk.rollout import Stage, newer, parse_stage, parse_version

OPT = Path("opt/cedoka")  # under the prefix: releases/, current, previous
RELEASE_MARKER = ".cedoka-release"  # the same marker as install.sh's
DEFAULT_PYTHON = Path("/usr/bin/python3")
DEFAULT_RESTART = ("systemctl", "restart", "cedoka-agent.service")
HEALTH_TIMEOUT_S = 120.0
CHUNK_BYTES = 64 * 1024
BUSY_STATES = (JobState.RELEASED, JobState.PRINTING)
MAX_ROOT_VERSIONS = 1 + MAX_ROOT_LINKS  # root.json versions a first check looks through


class UpdateWaitingError(OperatorError):
    """An update is ready but waits for the printer: a job is released or printing."""


class ReleaseFailedError(OperatorError):
    """A release could not be installed or failed its checks (``reason``: a reason code for
    the district, ``install_failed``, ``version_mismatch`` or ``selftest_failed``); it never
    became current."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class NoPreviousReleaseError(OperatorError):
    """``cedoka update --rollback`` with no ``previous`` release to go back to."""


class UpdateRefusedError(OperatorError):
    """TUF refused the district's release metadata or archive (rollback, freeze, a bad
    signature or hash, a root that is not the pinned one)."""


class _Fetcher(FetcherInterface):
    """TUF's downloads over requests, with the kiosk's own CA for the district (``verify``)."""

    def __init__(self, verify: str | bool, timeout_s: float = 30.0) -> None:
        self._session = requests.Session()
        self._verify, self._timeout_s = verify, timeout_s

    def _fetch(self, url: str) -> Iterator[bytes]:
        response = self._session.get(url, stream=True, verify=self._verify,
                                     timeout=self._timeout_s, allow_redirects=False)  # fmt: skip
        if response.status_code != requests.codes.ok:
            response.close()
            raise tuf_errors.DownloadHTTPError(f"HTTP {response.status_code}",
                                               response.status_code)  # fmt: skip
        return self._chunks(response)

    @staticmethod
    def _chunks(response: requests.Response) -> Iterator[bytes]:
        try:
            yield from response.iter_content(CHUNK_BYTES)
        except requests.RequestException as error:
            raise tuf_errors.DownloadError(str(error)) from error
        finally:
            response.close()

    def close(self) -> None:
        self._session.close()


@dataclass(frozen=True)
class Offer:
    """A release this kiosk may take."""

    version: str
    stage: Stage
    target: TargetFile


@dataclass(frozen=True)
class Check:
    """What a check found: this agent's version, the newest release it may take (None:
    up to date), and the newest release published at all (maybe not for this kiosk yet)."""

    current: str
    offer: Offer | None
    newest_published: str | None


class ReleaseSource:
    """The district's TUF repository as this kiosk sees it."""

    def __init__(self, home: Path, *, base_url: str | None = None,
                 verify: str | bool | None = None) -> None:  # fmt: skip
        self.layout = HomeLayout(home)
        config = load_config(home)
        self.device_id, self.office = config.device_id, config.office_code
        base = (base_url or config.server_url).rstrip("/")
        ca = self.layout.server_ca
        self._verify = verify if verify is not None else (str(ca) if ca.exists() else True)
        self.metadata_url, self.targets_url = f"{base}/tuf/metadata/", f"{base}/tuf/targets/"
        with _spool(home) as spool:
            self._root_key = SSlibKey.from_crypto(load_trust(spool).root_key)
        self._metadata_dir = self.layout.update / "metadata"
        self._fetcher = _Fetcher(self._verify)
        self._updater: Updater | None = None

    def close(self) -> None:
        self._fetcher.close()

    def _bootstrap(self) -> bytes | None:
        """None when a trusted root is cached; else the district's first root version whose
        root role is the pinned root key, accepted only when it verifies under that key (no
        trust on first use). That is ``1.root.json``, or — for a kiosk that pinned a root
        introduced by a rotation (ADR 0033: enrolled after it) — the version that rotation
        added; python-tuf then follows the later versions itself."""
        if (self._metadata_dir / "root.json").exists():
            return None
        for version in range(1, MAX_ROOT_VERSIONS + 1):
            try:
                data = self._fetcher.download_bytes(f"{self.metadata_url}{version}.root.json",
                                                    512_000)  # fmt: skip
            except tuf_errors.DownloadHTTPError as error:
                if error.status_code != requests.codes.not_found:
                    raise
                if version == 1:
                    raise OperatorError("the district publishes no releases yet (no repository "
                                        f"at {self.metadata_url})") from None  # fmt: skip
                break
            try:
                root: Metadata[Root] = Metadata.from_bytes(data)
                role = root.signed.roles["root"]
                key = self._root_key
                if (role.threshold != 1 or role.keyids != [key.keyid]
                        or root.signed.keys.get(key.keyid) != key):  # fmt: skip
                    continue  # an older root (rotated since): look at the next version
                root.verify_delegate("root", root)
            except (tuf_errors.RepositoryError, ValueError, KeyError) as error:
                raise UpdateRefusedError(f"the district's TUF root does not verify "
                                         f"({error})") from None  # fmt: skip
            return data
        raise UpdateRefusedError("the district's TUF root is not the root key this kiosk "
                                 "pinned at enrolment")  # fmt: skip

    def updater(self) -> Updater:
        if self._updater is None:
            private_dir(self.layout.update)
            private_dir(self._metadata_dir)
            self._updater = Updater(
                str(self._metadata_dir), self.metadata_url,
                target_dir=str(private_dir(self.layout.update / "downloads")),
                target_base_url=self.targets_url, fetcher=self._fetcher,
                config=UpdaterConfig(app_user_agent="cedoka"), bootstrap=self._bootstrap(),
            )  # fmt: skip
        return self._updater

    def check(self, current: str) -> Check:
        """Refresh TUF's metadata and pick the release for this kiosk.

        Raises:
            UpdateRefusedError: TUF refused the metadata (rollback, freeze, signature …).
            TransportError: the district could not be reached.
        """
        with _tuf_errors():
            self._updater = None  # an Updater refreshes once: a new one for each check
            updater = self.updater()
            updater.refresh()
            give_back(self.layout.root)
            # the verified top-level targets, as the Updater stored them after its checks
            trusted: Metadata[Targets] = Metadata.from_bytes(
                (self._metadata_dir / "targets.json").read_bytes()
            )
            targets = trusted.signed.targets
        offers, published = [], []
        for target in targets.values():
            staged = parse_stage(target.path, target.custom)
            if staged is None:
                continue
            version, stage = staged
            published.append(version)
            if newer(version, current) and stage.admits(device_id=self.device_id,
                                                        office=self.office):  # fmt: skip
                offers.append(Offer(version, stage, target))
        offer = max(offers, key=lambda o: parse_version(o.version), default=None)
        newest = max(published, key=parse_version, default=None)
        return Check(current, offer, newest)

    def download(self, offer: Offer) -> Path:
        """The release archive, downloaded with TUF's length and hash checks (a cached copy
        that still matches is reused). An archive TUF refuses is recorded for the heartbeat
        (``refused``, :mod:`agent.update_status`)."""
        try:
            with _tuf_errors():
                updater = self.updater()
                cached = updater.find_cached_target(offer.target)
                path = Path(cached or updater.download_target(offer.target))
        except UpdateRefusedError:
            record(self.layout.root, "refused", offer.version, "tuf_refused")
            raise
        give_back(self.layout.root)
        return path


@contextlib.contextmanager
def _tuf_errors() -> Iterator[None]:
    """TUF's and the network's failures as Cedoka errors (one line each for the CLI)."""
    try:
        yield
    except tuf_errors.DownloadLengthMismatchError as error:  # endless data: not the network's
        raise UpdateRefusedError(f"refused by TUF: {type(error).__name__}: {error}") from error
    except tuf_errors.DownloadError as error:
        raise TransportError(f"release download failed: {error}") from error
    except tuf_errors.RepositoryError as error:
        raise UpdateRefusedError(f"refused by TUF: {type(error).__name__}: {error}") from error
    except OSError as error:
        raise OperatorError(f"update files: {error}") from error


@contextlib.contextmanager
def _spool(home: Path) -> Iterator[Spool]:
    """The kiosk's spool, opened by whoever runs the update. Run as root (it writes
    ``/opt/cedoka`` and restarts the unit), what SQLite or TUF created in the home (the
    spool's ``-wal``/``-shm``, ``update/``) is given back to the home's owner, so the agent,
    which runs as that user, can still open them."""
    spool = Spool(HomeLayout(home).spool)
    try:
        yield spool
    finally:
        spool.close()
        give_back(home)


def give_back(home: Path) -> None:
    """As root: chown the spool's side files, the printing lock and ``update/`` to the owner
    of ``home``."""
    if os.geteuid() != 0:
        return
    owner = home.stat()
    layout = HomeLayout(home)
    paths = [layout.spool.with_name(layout.spool.name + s) for s in ("-wal", "-shm")]
    paths.append(layout.printing_lock)
    if layout.update.exists():
        paths += [layout.update, *layout.update.rglob("*")]
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.lchown(path, owner.st_uid, owner.st_gid)


# --- the release directories -----------------------------------------------------------


def _clean_env() -> dict[str, str]:
    """The environment for a release's own commands: nothing that would import another
    tree's code (``PYTHONPATH``) or use another interpreter's home."""
    return {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}


def _run(argv: Sequence[str], *, timeout_s: float = 600.0) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                              env=_clean_env(), check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        raise OperatorError(f"{argv[0]}: {error}") from None


@dataclass(frozen=True)
class Releases:
    """``<prefix>/opt/cedoka``: ``releases/<V>-<hash>/``, ``current``, ``previous``."""

    prefix: Path

    @property
    def opt(self) -> Path:
        return self.prefix / OPT

    def current(self) -> str | None:
        """The release ``current`` points at (its directory name), None before any."""
        return _link_name(self.opt / "current")

    def previous(self) -> str | None:
        return _link_name(self.opt / "previous")

    def _link(self, name: str, release: str) -> None:
        tmp = self.opt / f".{name}.tmp"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(f"releases/{release}")
        os.replace(tmp, self.opt / name)  # atomic, like install.sh's mv -T

    def switch(self, release: str) -> str | None:
        """``current`` → ``release``, ``previous`` → the old current; every other release
        deleted. Returns the old current."""
        old = self.current()
        self._link("current", release)
        if old is not None and old != release:
            self._link("previous", old)
        self.prune()
        return old

    def roll_back(self, to: str, failed: str) -> None:
        """``current`` → ``to`` again; ``previous`` → the failed release (kept for a look)."""
        self._link("current", to)
        self._link("previous", failed)

    def prune(self) -> None:
        keep = {self.current(), self.previous()}
        for path in (self.opt / "releases").iterdir():
            if path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)


def _link_name(link: Path) -> str | None:
    try:
        return Path(os.readlink(link)).name
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class Installer:
    """Builds a release venv from a release archive. ``python``: the interpreter the venv is
    made with (Debian's, never one under a home directory). ``seed``: directories written
    into the venv as a ``.pth`` before pip runs, so what they hold counts as installed
    (tests only: they install a small archive of one wheel; a real archive carries every
    wheel)."""

    releases: Releases
    python: Path = DEFAULT_PYTHON
    seed: tuple[Path, ...] = ()

    def install(self, archive: Path, version: str) -> str:
        """Install ``archive`` (release ``version``) as a new release, or reuse the one built
        from the same archive; returns its directory name. The release passes ``cedoka
        --version`` (showing ``version``) and ``cedoka selftest`` or is deleted.

        Raises OperatorError: the archive is not that release, pip or a check failed."""
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:12]
        name = f"{version}-{digest}"
        target = self.releases.opt / "releases" / name
        if (target / RELEASE_MARKER).exists():
            return name
        shutil.rmtree(target, ignore_errors=True)  # a build that did not finish
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="cedoka-update-") as tmp:
            extras = _unpack(archive, Path(tmp), version)
            try:
                self._build(target, Path(tmp) / "wheels", version, extras)
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
        return name

    def _build(self, target: Path, wheels: Path, version: str, extras: list[str]) -> None:
        made = _run([str(self.python), "-m", "venv", str(target)])
        if made.returncode != 0:
            raise ReleaseFailedError(f"could not create the venv {target}: {_last(made)}",
                                     "install_failed")  # fmt: skip
        if self.seed:
            site = next((target / "lib").glob("python3*/site-packages"))
            (site / "_cedoka_seed.pth").write_text("".join(f"{p}\n" for p in self.seed))
        spec = f"cedoka[{','.join(extras)}]=={version}" if extras else f"cedoka=={version}"
        pip = _run([str(target / "bin/python"), "-m", "pip", "install", "--no-index",
                    "--find-links", str(wheels), "--no-warn-script-location",
                    "--disable-pip-version-check", spec])  # fmt: skip
        if pip.returncode != 0:
            raise ReleaseFailedError(f"pip install of release {version} failed: {_last(pip)}",
                                     "install_failed")  # fmt: skip
        shown = _run([str(target / "bin/cedoka"), "--version"])
        if shown.returncode != 0 or shown.stdout.split()[-1:] != [version]:
            raise ReleaseFailedError(f"release {version} does not start: {_last(shown)}",
                                     "version_mismatch")  # fmt: skip
        selftest = _run([str(target / "bin/cedoka"), "selftest"])
        if selftest.returncode != 0:
            raise ReleaseFailedError(
                f"release {version} failed 'cedoka selftest': {_last(selftest)}", "selftest_failed"
            )
        write_atomic(target / RELEASE_MARKER, f"version={version}\n".encode(), mode=0o644)


def _last(done: subprocess.CompletedProcess[str]) -> str:
    lines = (done.stderr.strip() or done.stdout.strip()).splitlines()
    return lines[-1] if lines else f"exit status {done.returncode}"


def _unpack(archive: Path, into: Path, version: str) -> list[str]:
    """Extract the archive (tar's ``data`` filter: no links out, no devices, no absolute
    paths); return its extras after checking it is release ``version``."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(into, filter="data")
        info = json.loads((into / "release.json").read_bytes())
    except (OSError, tarfile.TarError, ValueError) as error:
        raise ReleaseFailedError(f"the release archive does not unpack: {error}",
                                 "install_failed") from None  # fmt: skip
    if not isinstance(info, dict):
        raise ReleaseFailedError(f"the release archive is not release {version}", "install_failed")
    extras = info.get("extras")
    if (info.get("format") != "cedoka-release/1" or info.get("version") != version
            or not isinstance(extras, list)
            or not all(isinstance(e, str) for e in extras)):  # fmt: skip
        raise ReleaseFailedError(f"the release archive is not release {version}", "install_failed")
    return extras


# --- idle spool, health ----------------------------------------------------------------


def _busy_jobs(home: Path) -> str | None:
    with _spool(home) as spool:
        counts = spool.counts()
    busy = sum(counts.get(state.value, 0) for state in BUSY_STATES)
    return f"{busy} job(s) released or printing" if busy else None


@contextlib.contextmanager
def idle_spool(home: Path) -> Iterator[str | None]:
    """Yields why an update must wait (a print round running, a job released or printing),
    or None: then the printing lock is held here until the block ends, so no print round can
    start meanwhile (one that tries answers "printer busy" and its job prints after, ADR
    0024)."""
    layout = HomeLayout(home)
    with exclusive_lock(layout.printing_lock, wait=False) as free:
        give_back(home)
        if not free:
            yield "a print round is running"
            return
        yield _busy_jobs(home)


def busy_reason(home: Path) -> str | None:
    """Why an update must wait now, or None when the spool is idle (:func:`idle_spool`)."""
    with idle_spool(home) as reason:
        return reason


@dataclass(frozen=True)
class Outcome:
    """What :func:`apply` did: ``updated`` (the restarted agent runs ``version``),
    ``switched`` (not restarted), ``rolled_back``, ``unhealthy`` (nothing to roll back to)."""

    result: str
    version: str
    release: str
    detail: str = ""


def apply(home: Path, archive: Path, version: str, *, installer: Installer,
          restart: Callable[[], None] | None, health_timeout_s: float = HEALTH_TIMEOUT_S,
          poll_s: float = 0.5) -> Outcome:  # fmt: skip
    """Install ``archive`` and switch to it while the spool is idle; roll back when the
    restarted agent does not report ``version`` within ``health_timeout_s``.

    Raises:
        UpdateWaitingError: the spool is busy (nothing was switched; a release built
            already stays for the next try).
        ReleaseFailedError: the release could not be built or failed its checks.

    Every outcome but an error of this machine (``OSError``) is recorded in
    ``update/last.json`` for the heartbeat (:mod:`agent.update_status`).
    """
    try:
        outcome = _apply(home, archive, version, installer=installer, restart=restart,
                         health_timeout_s=health_timeout_s, poll_s=poll_s)  # fmt: skip
    except UpdateWaitingError:
        record(home, "waiting", version, "printer_busy")
        raise
    except ReleaseFailedError as error:
        record(home, "failed", version, error.reason)
        raise
    if outcome.result in {"updated", "switched"}:
        record(home, "updated", version)
    elif outcome.result == "rolled_back":
        record(home, "rolled_back", version, "unhealthy")
    else:  # unhealthy, with nothing to roll back to
        record(home, "failed", version, "unhealthy")
    return outcome


def _apply(home: Path, archive: Path, version: str, *, installer: Installer,
           restart: Callable[[], None] | None, health_timeout_s: float,
           poll_s: float) -> Outcome:  # fmt: skip
    reason = busy_reason(home)
    if reason is not None:
        raise UpdateWaitingError(f"update to {version} waits: {reason}")
    release = installer.install(archive, version)
    releases = installer.releases
    started = time.time()
    with idle_spool(home) as reason:  # asked again after the build; no print starts now
        if reason is not None:
            raise UpdateWaitingError(f"update to {version} waits: {reason}")
        old = releases.switch(release)
        if restart is None:
            return Outcome("switched", version, release)
        restart()  # the old agent stops, the new one starts; its first print round waits
    deadline = time.monotonic() + health_timeout_s
    while time.monotonic() < deadline:
        if started_since(home, version, started):
            return Outcome("updated", version, release)
        time.sleep(poll_s)
    if old is None:
        return Outcome("unhealthy", version, release, "no earlier release to roll back to")
    releases.roll_back(old, release)
    restart()
    return Outcome("rolled_back", version, release,
                   f"{version} did not report healthy within {health_timeout_s:.0f} s")  # fmt: skip


def release_version(releases: Releases, release: str) -> str:
    """The version of the release directory ``<V>-<hash>``: as its marker's ``version=``
    line says (``install.sh`` and :class:`Installer` write it), else the name before the
    first ``-``."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        marker = (releases.opt / "releases" / release / RELEASE_MARKER).read_text()
        for line in marker.splitlines():
            if line.startswith("version="):
                return line.removeprefix("version=").strip()
    return release.split("-", 1)[0]


def roll_back_to_previous(home: Path, releases: Releases, *,
                          restart: Callable[[], None] | None,
                          health_timeout_s: float = HEALTH_TIMEOUT_S,
                          poll_s: float = 0.5) -> Outcome:  # fmt: skip
    """``cedoka update --rollback``: the operator switches ``current`` back to ``previous``
    (and ``previous`` to the release left), on an idle spool, with the printing lock held
    through the switch and the restart as for an update. When the previous release does not
    report healthy in time, ``current`` goes back to the release it left (result
    ``unhealthy``).

    Raises:
        NoPreviousReleaseError: there is no ``previous`` (or no ``current``).
        UpdateWaitingError: the spool is busy (nothing was switched).
    """
    current, previous = releases.current(), releases.previous()
    if previous is None or current is None or previous == current:
        raise NoPreviousReleaseError("there is no previous release to roll back to")
    if not (releases.opt / "releases" / previous / RELEASE_MARKER).exists():
        raise NoPreviousReleaseError(f"the previous release {previous} is not a complete "
                                     "release")  # fmt: skip
    version = release_version(releases, previous)
    started = time.time()
    with idle_spool(home) as reason:
        if reason is not None:
            raise UpdateWaitingError(f"rollback to {version} waits: {reason}")
        releases.roll_back(previous, current)
        if restart is None:
            record(home, "rolled_back", release_version(releases, current), "operator")
            return Outcome("switched", version, previous)
        restart()
    left = release_version(releases, current)
    deadline = time.monotonic() + health_timeout_s
    while time.monotonic() < deadline:
        if started_since(home, version, started):
            record(home, "rolled_back", left, "operator")
            return Outcome("rolled_back", version, previous)
        time.sleep(poll_s)
    releases.roll_back(current, previous)  # the way it was
    restart()
    return Outcome("unhealthy", version, previous,
                   f"{version} did not report healthy within {health_timeout_s:.0f} s; "
                   f"back on {release_version(releases, current)}")  # fmt: skip


def restart_command(argv: Sequence[str]) -> Callable[[], None]:
    """A restart that runs ``argv`` (default: ``systemctl restart cedoka-agent.service``)."""

    def restart() -> None:
        done = _run(argv, timeout_s=120)
        if done.returncode != 0:
            print(f"cedoka update: restart failed: {_last(done)}", file=sys.stderr)

    return restart
