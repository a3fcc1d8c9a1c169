"""The district's TUF repository of agent releases (issue 19, ADR 0031), on python-tuf.

Layout in ``<home>/tuf/`` (served read-only at ``/tuf/…`` by :mod:`district.releases_http`)::

    metadata/N.root.json       root, version N (consistent snapshots: every version kept)
    metadata/N.targets.json    the releases: one target per version, with its roll-out stage
    metadata/N.snapshot.json
    metadata/timestamp.json    the only unversioned file
    targets/<sha256>.cedoka-<V>.tar.gz   a release archive, named by its hash

Keys (Ed25519, PEM in a key directory, :class:`district.keystore.KeyStore`):

- **root** is the district root key (``root.pem``), the key every kiosk pinned at enrolment
  through the fingerprint in its enrolment code: TUF's trust starts where the kiosk's already
  is, with no new trust on first use. Root metadata is signed only where that key is.
- **targets** (``tuf-targets.pem``) signs which releases exist and who may take them. Like
  root it can live off the server (``--keys DIR``: a USB stick on a signing machine).
- **snapshot** and **timestamp** (``tuf-snapshot.pem``, ``tuf-timestamp.pem``) stay online in
  ``<home>/keys``: the server re-signs them before they expire (:meth:`ReleaseRepo.refresh`,
  called when a kiosk asks for ``timestamp.json``), and picks up a targets version signed
  elsewhere and copied into ``metadata/``.

Staged roll-out: a target's ``custom`` holds ``{"cedoka": {"version": V, "percent": P,
"offices": [CODE, …]}}``; a kiosk takes a release when its office is listed or when its
bucket (:func:`rollout_bucket`) is below ``P``. A release is published at 0 % with no office:
nobody takes it until ``promote``.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import io
import json
import os
import re
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from securesystemslib.signer import CryptoSigner, SSlibKey
from tuf.api.exceptions import RepositoryError
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

from cedoka_io.files import write_atomic
from district.keystore import KeyStore
from kiosk.errors import OperatorError
from kiosk.rollout import Stage, custom_of, parse_stage, parse_version, target_name

TUF_DIR = "tuf"
ROOT_KEY, TARGETS_KEY, SNAPSHOT_KEY, TIMESTAMP_KEY = (
    "root", "tuf-targets", "tuf-snapshot", "tuf-timestamp",
)  # fmt: skip
KEY_OF_ROLE = {"root": ROOT_KEY, "targets": TARGETS_KEY, "snapshot": SNAPSHOT_KEY,
               "timestamp": TIMESTAMP_KEY}  # fmt: skip
DAY_S = 86400
LIFETIME_S = {"root": 3 * 365 * DAY_S, "targets": 365 * DAY_S, "snapshot": 7 * DAY_S,
              "timestamp": DAY_S}  # fmt: skip
# re-signed by the server when less than this is left
REFRESH_MARGIN_S = {"snapshot": 3 * DAY_S, "timestamp": DAY_S // 2}
ARCHIVE_FORMAT = "cedoka-release/1"
RELEASE_JSON = "release.json"
MAX_RELEASE_JSON_BYTES = 65536
MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024  # a kiosk wheelhouse is a few hundred MB at most


@dataclass(frozen=True)
class Release:
    """One published release as ``release list`` shows it."""

    version: str
    stage: Stage
    length: int
    sha256: str


def read_release_json(archive: Path) -> dict[str, Any]:
    """The ``release.json`` of a release archive (a gzip tar: ``release.json`` and
    ``wheels/*.whl``). Raises OperatorError when it is not one."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.getmember(RELEASE_JSON)
            extracted = tar.extractfile(member) if member.isfile() else None
            if extracted is None or member.size > MAX_RELEASE_JSON_BYTES:
                raise OperatorError(f"{archive}: {RELEASE_JSON} is not a small regular file")
            data = json.loads(extracted.read())
    except (OSError, tarfile.TarError, KeyError, ValueError) as error:
        raise OperatorError(f"{archive} is not a Cedoka release archive ({error})") from None
    if not isinstance(data, dict) or data.get("format") != ARCHIVE_FORMAT:
        raise OperatorError(f"{archive}: {RELEASE_JSON} is not of format {ARCHIVE_FORMAT}")
    return data


def _expiry(now_s: int, role: str) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(now_s + LIFETIME_S[role], datetime.UTC).replace(
        microsecond=0
    )


class KeyFinder:
    """The TUF role keys: looked for in each directory in turn (``--keys DIR`` first, then
    ``<home>/keys``); a missing key is None (that role is signed elsewhere)."""

    def __init__(self, *directories: Path) -> None:
        self._stores = [KeyStore(d) for d in directories]
        self.directories = directories

    def find(self, name: str) -> Ed25519PrivateKey | None:
        for store, directory in zip(self._stores, self.directories, strict=True):
            if (directory / f"{name}.pem").exists():
                return store.load(name)
        return None

    def need(self, name: str) -> Ed25519PrivateKey:
        key = self.find(name)
        if key is None:
            where = " or ".join(str(d) for d in self.directories)
            raise OperatorError(f"the key {name}.pem is not in {where}: sign where it is "
                                "(--keys DIR)")  # fmt: skip
        return key

    def create(self, name: str) -> Ed25519PrivateKey:
        return self._stores[0].create(name)


def public_key(key: Ed25519PrivateKey) -> SSlibKey:
    return SSlibKey.from_crypto(key.public_key())


class ReleaseRepo:
    """The TUF repository in one directory (``<home>/tuf``)."""

    def __init__(self, directory: Path, keys: KeyFinder) -> None:
        self.dir = directory
        self.metadata = directory / "metadata"
        self.targets = directory / "targets"
        self.keys = keys

    @classmethod
    def of_home(cls, home: Path, offline_keys: Path | None = None) -> ReleaseRepo:
        dirs = [home / "keys"] if offline_keys is None else [offline_keys, home / "keys"]
        return cls(home / TUF_DIR, KeyFinder(*dirs))

    # --- reading -------------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.metadata / "1.root.json").exists()

    def can_sign_targets(self) -> bool:
        """Whether the targets key is in one of this repository's key directories (else
        ``publish``/``promote`` are signed on another machine: ``--keys DIR``)."""
        return self.keys.find(TARGETS_KEY) is not None

    def _latest(self, role: str) -> tuple[int, Path] | None:
        pattern = re.compile(rf"([1-9][0-9]{{0,9}})\.{role}\.json")
        found = [(int(m.group(1)), p) for p in self.metadata.glob(f"*.{role}.json")
                 if (m := pattern.fullmatch(p.name))]  # fmt: skip
        return max(found) if found else None

    def _load(self, role: str) -> Metadata[Any]:
        if role == "timestamp":
            path = self.metadata / "timestamp.json"
        else:
            latest = self._latest(role)
            if latest is None:
                raise OperatorError(f"{self.dir} holds no release repository: "
                                    "run 'cedoka-district release init'")  # fmt: skip
            path = latest[1]
        return Metadata.from_bytes(path.read_bytes())

    def root(self) -> Metadata[Root]:
        return self._load("root")

    def releases(self) -> list[Release]:
        targets: Metadata[Targets] = self._load("targets")
        found = []
        for target in targets.signed.targets.values():
            staged = parse_stage(target.path, target.custom)
            if staged is not None:
                version, stage = staged
                found.append(Release(version, stage, target.length, target.hashes["sha256"]))
        return sorted(found, key=lambda r: parse_version(r.version))

    # --- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time: the CLI and every ``serve`` process share the directory."""
        self.metadata.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.targets.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, md: Metadata[Any], name: str) -> None:
        write_atomic(self.metadata / name, md.to_bytes(), mode=0o644)

    def _sign(self, md: Metadata[Any], role: str) -> None:
        key = self.keys.need(KEY_OF_ROLE[role])
        md.signatures.clear()
        md.sign(CryptoSigner(key, public_key(key)))

    def init(self, *, now_s: int) -> str:
        """Create root v1 (signed by the district root key), an empty targets list, snapshot
        and timestamp; creates the targets key beside the first key directory's root key
        when missing and the online keys in the last one. Returns the root's key id."""
        with self._locked():
            if self.exists():
                raise OperatorError(f"{self.dir} holds a release repository already")
            root_key = self.keys.need(ROOT_KEY)
            made = {}
            for role, name in (("targets", TARGETS_KEY), ("snapshot", SNAPSHOT_KEY),
                               ("timestamp", TIMESTAMP_KEY)):  # fmt: skip
                key = self.keys.find(name)
                if key is None:
                    store = self.keys if role == "targets" else KeyFinder(self.keys.directories[-1])
                    key = store.create(name)
                made[role] = key
            root = Root(expires=_expiry(now_s, "root"), consistent_snapshot=True)
            root.add_key(public_key(root_key), "root")
            for role, key in made.items():
                root.add_key(public_key(key), role)
            root_md = Metadata(root)
            self._sign(root_md, "root")
            self._write(root_md, "1.root.json")
            targets_md = Metadata(Targets(expires=_expiry(now_s, "targets")))
            self._sign(targets_md, "targets")
            self._write(targets_md, "1.targets.json")
            self._snapshot_and_timestamp(now_s, force=True)
            return public_key(root_key).keyid

    def next_root(self, new_root: Ed25519PublicKey, *, now_s: int) -> Metadata[Root] | None:
        """The next root version for a rotation of the district root (ADR 0033), unsigned:
        the current root with the root role's key replaced by ``new_root``, the version + 1,
        a fresh expiry. None when there is no repository (``release init`` later signs
        ``1.root.json`` with the new root)."""
        if not self.exists():
            return None
        root: Metadata[Root] = self.root()
        for keyid in list(root.signed.roles["root"].keyids):
            root.signed.revoke_key(keyid, "root")
        root.signed.add_key(SSlibKey.from_crypto(new_root), "root")
        root.signed.version += 1
        root.signed.expires = _expiry(now_s, "root")
        root.signatures.clear()
        return root

    def add_root(self, data: bytes, *, new_root: Ed25519PublicKey) -> int:
        """Write the next root version, signed (offline) by the current and the new root:
        python-tuf's own check, as a kiosk runs it (signed by the trusted root's threshold
        and by its own, version + 1), and its root role is exactly ``new_root``. Returns
        the version; the same file again is a no-op.

        Raises:
            OperatorError: it does not verify, or is not the next version.
        """
        with self._locked():
            latest = self._latest("root")
            if latest is not None and latest[1].read_bytes() == data:
                return latest[0]  # imported before (an import stopped after this step)
            trusted = self.root()
            key = SSlibKey.from_crypto(new_root)
            try:
                new: Metadata[Root] = Metadata.from_bytes(data)
                role = new.signed.roles["root"]
                if (role.threshold != 1 or role.keyids != [key.keyid]
                        or new.signed.keys.get(key.keyid) != key):  # fmt: skip
                    raise OperatorError("the new TUF root's root role is not the new root key")
                trusted.verify_delegate("root", new)
                new.verify_delegate("root", new)
            except (RepositoryError, ValueError, KeyError, TypeError) as error:
                raise OperatorError(f"the new TUF root does not verify ({error})") from None
            version = new.signed.version
            if version != trusted.signed.version + 1:
                raise OperatorError(f"the new TUF root is version {version}, not "
                                    f"{trusted.signed.version + 1}")  # fmt: skip
            write_atomic(self.metadata / f"{version}.root.json", data, mode=0o644)
            return version

    def publish(self, archive: Path, version: str, *, now_s: int) -> Release:
        """Add a release archive as a new target at stage 0 % (nobody takes it yet)."""
        parse_version(version)
        info = read_release_json(archive)
        if info.get("version") != version:
            raise OperatorError(f"{archive} holds release {info.get('version')!r}, not {version}")
        size = archive.stat().st_size
        if size > MAX_ARCHIVE_BYTES:
            raise OperatorError(f"{archive}: {size} bytes, over the {MAX_ARCHIVE_BYTES} cap")
        name = target_name(version)
        with self._locked():
            targets: Metadata[Targets] = self._load("targets")
            if name in targets.signed.targets:
                raise OperatorError(f"release {version} is published already")
            with archive.open("rb") as data:
                target = TargetFile.from_data(name, data, ["sha256"])
            target.unrecognized_fields["custom"] = custom_of(version, Stage(0, ()))
            stored = self.targets / f"{target.hashes['sha256']}.{name}"
            tmp = stored.with_name(stored.name + ".tmp")
            shutil.copyfile(archive, tmp)
            os.chmod(tmp, 0o644)
            with tmp.open("rb") as written:
                os.fsync(written.fileno())
            os.replace(tmp, stored)
            targets.signed.targets[name] = target
            self._new_targets(targets, now_s)
        return self._release(version)

    def promote(self, version: str, *, now_s: int, percent: int | None = None,
                offices: tuple[str, ...] = ()) -> Release:  # fmt: skip
        """Widen a release's stage: a higher percentage and/or more offices (never narrower:
        to stop a roll-out, publish a newer release)."""
        name = target_name(version)
        with self._locked():
            targets: Metadata[Targets] = self._load("targets")
            target = targets.signed.targets.get(name)
            staged = None if target is None else parse_stage(target.path, target.custom)
            if target is None or staged is None:
                raise OperatorError(f"release {version} is not published")
            stage = staged[1]
            new_percent = stage.percent if percent is None else percent
            if new_percent < stage.percent:
                raise OperatorError(f"release {version} is at {stage.percent}% already: a "
                                    "roll-out only widens")  # fmt: skip
            merged = list(stage.offices) + [o for o in offices if o not in stage.offices]
            target.unrecognized_fields["custom"] = custom_of(
                version, Stage(new_percent, tuple(merged))
            )
            self._new_targets(targets, now_s)
        return self._release(version)

    def _release(self, version: str) -> Release:
        return next(r for r in self.releases() if r.version == version)

    def _new_targets(self, targets: Metadata[Targets], now_s: int) -> None:
        """Sign and write the next targets version; then snapshot and timestamp when their
        keys are here (else the server picks it up: :meth:`refresh`)."""
        targets.signed.version += 1
        targets.signed.expires = _expiry(now_s, "targets")
        self._sign(targets, "targets")
        self._write(targets, f"{targets.signed.version}.targets.json")
        if self.keys.find(SNAPSHOT_KEY) is not None and self.keys.find(TIMESTAMP_KEY) is not None:
            self._snapshot_and_timestamp(now_s, force=True)

    def refresh(self, *, now_s: int) -> bool:
        """The server's part: a new snapshot when a newer targets version is in ``metadata/``
        or the snapshot expires within its margin; a new timestamp when the snapshot changed
        or the timestamp expires within its margin. True when something was signed."""
        if not self.exists():
            return False
        with self._locked():
            return self._snapshot_and_timestamp(now_s, force=False)

    def _snapshot_and_timestamp(self, now_s: int, *, force: bool) -> bool:
        latest_targets = self._latest("targets")
        assert latest_targets is not None
        snap_latest = self._latest("snapshot")
        snapshot: Metadata[Snapshot] | None = (
            None if snap_latest is None else Metadata.from_bytes(snap_latest[1].read_bytes())
        )
        now = datetime.datetime.fromtimestamp(now_s, datetime.UTC)
        margin = datetime.timedelta(seconds=REFRESH_MARGIN_S["snapshot"])
        signed = False
        if (snapshot is None or force
                or snapshot.signed.meta["targets.json"].version != latest_targets[0]
                or snapshot.signed.expires - margin <= now):  # fmt: skip
            version = 1 if snapshot is None else snapshot.signed.version + 1
            meta = {"targets.json": MetaFile(latest_targets[0])}
            snapshot = Metadata(
                Snapshot(version=version, expires=_expiry(now_s, "snapshot"), meta=meta)
            )
            self._sign(snapshot, "snapshot")
            self._write(snapshot, f"{version}.snapshot.json")
            signed = True
        ts_path = self.metadata / "timestamp.json"
        timestamp: Metadata[Timestamp] | None = (
            Metadata.from_bytes(ts_path.read_bytes()) if ts_path.exists() else None
        )
        margin = datetime.timedelta(seconds=REFRESH_MARGIN_S["timestamp"])
        if (timestamp is None or signed
                or timestamp.signed.snapshot_meta.version != snapshot.signed.version
                or timestamp.signed.expires - margin <= now):  # fmt: skip
            version = 1 if timestamp is None else timestamp.signed.version + 1
            snapshot_meta = MetaFile(snapshot.signed.version)
            timestamp = Metadata(
                Timestamp(version=version, expires=_expiry(now_s, "timestamp"),
                          snapshot_meta=snapshot_meta)
            )  # fmt: skip
            self._sign(timestamp, "timestamp")
            self._write(timestamp, "timestamp.json")
            signed = True
        return signed


def release_json(version: str, extras: list[str]) -> bytes:
    """The ``release.json`` of an archive (for the tests and the release builder)."""
    return json.dumps({"format": ARCHIVE_FORMAT, "version": version, "extras": extras},
                      sort_keys=True).encode()  # fmt: skip


def write_archive(path: Path, version: str, wheels: list[Path], extras: list[str]) -> None:
    """Write a release archive: ``release.json`` and ``wheels/<name>`` for each wheel."""
    with tarfile.open(path, "w:gz") as tar:
        data = release_json(version, extras)
        info = tarfile.TarInfo(RELEASE_JSON)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
        for wheel in wheels:
            tar.add(wheel, arcname=f"wheels/{wheel.name}")
