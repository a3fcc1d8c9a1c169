"""The layout of a kiosk's home directory: the one place that names its files.

``<home>`` is ``--home``, else $CEDOKA_HOME, else ``/var/lib/cedoka`` (mode 0700)::

    agent.toml      the settings; written last by enrolment: its presence means "enrolled"
    spool.db        the SQLite spool (with its -wal and -shm files): jobs, events, trust
    keys/           the device keys auth.pem and seal.pem (0700; the files 0600), and while
                    the sealing key rotates: seal-next.pem (the new key, sent or about to
                    be, not yet confirmed) and seal-old-<kid>.pem (a former key, kept until
                    no job in the spool names it, then destroyed: :mod:`agent.sealing`)
    blobs/          the sealed documents as fetched, one file per blob
    printing.lock   held by the print round running (one at a time; never waited for)
    server-ca.pem   the district's own CA, when 'cedoka enroll --ca' gave one
    kiosk-url       the kiosk window's URL with its secret (0600), unless
                    $CEDOKA_KIOSK_URL_FILE names another file (:mod:`ui.window`)
    update/         the self-update's TUF metadata (trusted root, …) and downloads
    running.json    written by ``cedoka run`` once started: version, pid, start time (the
                    update's health check, :mod:`agent.update`)

Every module that opens one of these asks :class:`HomeLayout` for its path; none spells a
file name itself. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "CEDOKA_HOME"
DEFAULT_HOME = Path("/var/lib/cedoka")

CONFIG_NAME = "agent.toml"
SPOOL_NAME = "spool.db"
KEYS_DIR = "keys"
AUTH_KEY_NAME = "auth.pem"
SEAL_KEY_NAME = "seal.pem"
SEAL_NEXT_NAME = "seal-next.pem"
SEAL_OLD_PREFIX = "seal-old-"
BLOBS_DIR = "blobs"
PRINTING_LOCK_NAME = "printing.lock"
SERVER_CA_NAME = "server-ca.pem"
KIOSK_URL_NAME = "kiosk-url"
UPDATE_DIR = "update"
RUNNING_NAME = "running.json"


@dataclass(frozen=True)
class HomeLayout:
    """The paths of the files in one home directory (``root``)."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def spool(self) -> Path:
        return self.root / SPOOL_NAME

    @property
    def keys(self) -> Path:
        return self.root / KEYS_DIR

    @property
    def auth_key(self) -> Path:
        return self.keys / AUTH_KEY_NAME

    @property
    def seal_key(self) -> Path:
        return self.keys / SEAL_KEY_NAME

    @property
    def seal_next(self) -> Path:
        return self.keys / SEAL_NEXT_NAME

    def seal_old(self, kid: str) -> Path:
        """A former sealing key's file, by its thumbprint (``[A-Za-z0-9_-]{43}``)."""
        return self.keys / f"{SEAL_OLD_PREFIX}{kid}.pem"

    def seal_olds(self) -> list[Path]:
        return sorted(self.keys.glob(f"{SEAL_OLD_PREFIX}*.pem"))

    @property
    def blobs(self) -> Path:
        return self.root / BLOBS_DIR

    @property
    def printing_lock(self) -> Path:
        return self.root / PRINTING_LOCK_NAME

    @property
    def server_ca(self) -> Path:
        return self.root / SERVER_CA_NAME

    @property
    def kiosk_url(self) -> Path:
        return self.root / KIOSK_URL_NAME

    @property
    def update(self) -> Path:
        return self.root / UPDATE_DIR

    @property
    def running(self) -> Path:
        return self.root / RUNNING_NAME
