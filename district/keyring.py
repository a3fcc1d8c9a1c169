"""The district's trust data: root key, job-signing keys with overlap, the signed keyring.

``Keys`` ties the key files (``KeyStore``) to the store's ``signers`` table and the
``meta`` entries ``keyring_version`` / ``keyring_token`` / ``active_kid``. The home always
holds the key files; the store is the home's SQLite file, or the PostgreSQL database named
by a ``postgresql://`` URL (``--db``, ADR 0026). Rotation adds a
new signer and makes it active; the previous one stays in the keyring for
``ROTATION_OVERLAP_S`` (longer than any job's lifetime), after which the next keyring
(version + 1) drops it. Kiosks take keyrings from the feed.

Offline root (ADR 0033): when the home holds only ``root.pub.pem``, a new keyring cannot be
signed here. ``refresh_keyring`` then records it as a *request* (meta ``keyring_request``, the
keyring's claims as canonical JSON) and keeps serving the last signed keyring;
``cedoka-district keyring export`` writes the request, the offline machine signs it
(``cedoka-district root sign-keyring``) and ``keyring import`` stores the signed token.
"""

from __future__ import annotations

import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from district.keystore import KeyStore
from district.sqlite_store import SqliteStore
from district.store import DistrictStore, SignerRow
from kiosk.errors import OperatorError, RejectedError
from kiosk.issue import Signer, sign_keyring
from kiosk.limits import MAX_JOB_LIFETIME_S
from kiosk.model import KeyEntry, Keyring
from kiosk.strictjson import canonical_dumps
from kiosk.verify import verify_keyring
from kiosk.wire import keyring_claims

ROTATION_OVERLAP_S = MAX_JOB_LIFETIME_S + 86400
SIGNER_VALIDITY_S = 2 * 365 * 86400
CLOCK_SKEW_S = 300
DATABASE = "district.sqlite"


def check_db_url(db_url: str) -> None:
    """Raises OperatorError unless ``db_url`` names a PostgreSQL database."""
    if not db_url.startswith(("postgresql://", "postgres://")):
        raise OperatorError("--db: give a PostgreSQL URL, e.g. postgresql://cedoka@dbhost/cedoka")


def open_store(home: Path, db_url: str | None) -> DistrictStore:
    """The home's SQLite store, or the PostgreSQL store at ``db_url``.

    Raises:
        OperatorError: ``db_url`` is not a PostgreSQL URL, or psycopg is not installed.
        StoreError: the database cannot be reached or its schema is too new.
    """
    if db_url is None:
        return SqliteStore(home / DATABASE)
    check_db_url(db_url)
    try:
        from district.pg_store import PostgresStore
    except ImportError:
        raise OperatorError("--db postgresql://… needs psycopg: pip install "
                            "'cedoka[district]'") from None  # fmt: skip
    return PostgresStore(db_url)


class Keys:
    """Root, signers and keyring of one district home."""

    def __init__(self, store: DistrictStore, keystore: KeyStore) -> None:
        self.store = store
        self._keystore = keystore
        code, name = store.get_meta("district_code"), store.get_meta("district_name")
        if code is None or name is None:
            raise OperatorError("this home holds no district: run 'init' first")
        self.district_code = code
        self.district_name = name
        self._signers: dict[str, Signer] = {}  # kid -> loaded signer (key files never change)
        # (version, token, valid until): the keyring as last read, while its version stands
        self._keyring: tuple[int, bytes, float] | None = None

    @classmethod
    def open(cls, home: Path, db_url: str | None = None) -> Keys:
        """Open an existing district home (its store on PostgreSQL when ``db_url``).

        Raises:
            OperatorError: no district there.
            StoreError: the database cannot be reached or is too new.
        """
        if db_url is None and not (home / DATABASE).exists():
            if (home / "keys").is_dir():
                raise OperatorError(f"{home} holds keys but no district database: its "
                                    "store is on PostgreSQL? give --db postgresql://…")  # fmt: skip
            raise OperatorError(f"{home} holds no district: run 'cedoka-district init' first")
        if db_url is not None:
            check_db_url(db_url)
        if db_url is not None and not (home / "keys").is_dir():
            raise OperatorError(f"{home} holds no district keys: run 'cedoka-district init' "
                                "with this --db first")  # fmt: skip
        return cls(open_store(home, db_url), KeyStore(home / "keys"))

    @classmethod
    def create(cls, home: Path, *, district_code: str, district_name: str, now_s: int,
               db_url: str | None = None,
               root_public: Ed25519PublicKey | None = None) -> Keys:  # fmt: skip
        """Set up a new district home: root key, first signer, keyring version 1 (the
        store on PostgreSQL when ``db_url``: the database must hold no district yet).

        With ``root_public`` the root stays offline: only its public key is stored and
        keyring version 1 waits as a request to be signed offline and imported."""
        if (home / DATABASE).exists() or (db_url is not None and (home / "keys").exists()):
            raise OperatorError(f"{home} holds a district already")
        store = open_store(home, db_url) if db_url is not None else None
        if store is not None and store.get_meta("district_code") is not None:
            store.close()
            raise OperatorError("the database given with --db holds a district already")
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        keystore = KeyStore(home / "keys")
        if root_public is None:
            keystore.create("root")
        else:
            keystore.save_public("root", root_public)
        store = store or SqliteStore(home / DATABASE)
        store.set_meta("district_code", district_code)
        store.set_meta("district_name", district_name)
        keys = cls(store, keystore)
        keys._add_signer(now_s)
        keys.refresh_keyring(now_s=now_s)
        return keys

    def root_public(self) -> Ed25519PublicKey:
        return self._keystore.load_public("root")

    @property
    def root_offline(self) -> bool:
        """True when the home holds no root private key (ADR 0033)."""
        return not self._keystore.has("root")

    def keyring_request(self) -> bytes | None:
        """The keyring waiting for the offline root's signature (canonical JSON claims)."""
        request = self.store.get_meta("keyring_request")
        served = int(self.store.get_meta("keyring_version") or 0)
        if request is None or int(self.store.get_meta("keyring_request_version") or 0) <= served:
            return None
        return request.encode("utf-8")

    def import_keyring(self, token: bytes) -> int:
        """Store a keyring signed by the offline root; returns its version.

        Raises:
            OperatorError: not signed by this district's root, another district's, or not
                newer than the keyring served now.
        """
        try:
            keyring = verify_keyring(token, district_code=self.district_code,
                                     root_key=self.root_public(), current=None)  # fmt: skip
        except RejectedError as error:
            raise OperatorError(f"keyring refused ({error.reason.value}): {error}") from None
        current = int(self.store.get_meta("keyring_version") or 0)
        if keyring.version <= current:
            raise OperatorError(f"keyring version {keyring.version} is not newer than the "
                                f"served version {current}")  # fmt: skip
        known = {s.kid for s in self.store.signers()}
        unknown = [e.kid for e in keyring.keys if e.kid not in known]
        if unknown:
            raise OperatorError(f"keyring lists unknown signing keys: {', '.join(unknown)}")
        self.store.set_meta("keyring_token", token.decode("ascii"))
        self.store.set_meta("keyring_version", str(keyring.version))
        self.store.set_meta("keyring_kids", ",".join(e.kid for e in keyring.keys))
        self.store.bump_all_feeds()
        self._keyring = None
        return keyring.version

    def active_signer(self, *, now_s: int, reload: bool = False) -> Signer:
        """The active job signer. Which one is active is read from the store each time (a
        rotation by another process holds at once); its key file is loaded once per kid
        (``reload``: from the file again, as the readiness check does)."""
        kid = self.store.get_meta("active_kid")
        if kid is None:
            raise OperatorError("no active signing key")
        del now_s
        signer = self._signers.get(kid)
        if signer is None or reload:
            signer = self._signers[kid] = Signer(kid, self._keystore.load(f"signer-{kid}"))
        return signer

    def rotate(self, *, now_s: int) -> str:
        """Add a new active signer; keep the old one for the overlap. Returns the new kid."""
        old = self.store.get_meta("active_kid")
        kid = self._add_signer(now_s)
        if old is not None:
            self.store.retire_signer(old, at_s=now_s + ROTATION_OVERLAP_S)
        self.refresh_keyring(now_s=now_s)
        return kid

    def keyring(self, *, now_s: int) -> tuple[int, bytes]:
        """The current keyring (version, token), re-signed when an overlap has ended.

        One read while nothing changed: the version is read from the store each time (a
        rotation by any process raises it), the token is reused while the version stands
        and no listed signer's overlap has ended."""
        version_text = self.store.get_meta("keyring_version")
        cached = self._keyring
        if cached is not None and str(cached[0]) == version_text and now_s < cached[2]:
            return cached[0], cached[1]
        self.refresh_keyring(now_s=now_s)
        version = self.store.get_meta("keyring_version")
        token = self.store.get_meta("keyring_token")
        if version is None or token is None:
            raise OperatorError("no keyring signed by the district root yet: run "
                                "'cedoka-district keyring export', sign it offline, "
                                "import it")  # fmt: skip
        ends = [s.retired_s for s in self.store.signers() if s.retired_s is not None
                and s.retired_s > now_s]  # fmt: skip
        self._keyring = (int(version), token.encode("ascii"), min(ends, default=float("inf")))
        return int(version), token.encode("ascii")

    def refresh_keyring(self, *, now_s: int) -> None:
        """Sign a new keyring version when the set of live signers differs from the last."""
        live = [s for s in self.store.signers() if s.retired_s is None or s.retired_s > now_s]
        listed = self.store.get_meta("keyring_kids")
        kids = ",".join(s.kid for s in live)
        if listed == kids:
            return
        version = int(self.store.get_meta("keyring_version") or 0) + 1
        keyring = Keyring(
            issuer=self.district_code,
            version=version,
            issued_at_s=now_s,
            keys=tuple(
                KeyEntry(
                    kid=s.kid,
                    public_key=self._keystore.load(f"signer-{s.kid}").public_key(),
                    not_before_s=s.not_before_s,
                    not_after_s=s.not_after_s
                    if s.retired_s is None
                    else min(s.not_after_s, s.retired_s),
                )
                for s in live
            ),
        )
        if self.root_offline:
            if self.store.get_meta("keyring_request_kids") != kids:
                self.store.set_meta("keyring_request", canonical_dumps(keyring_claims(keyring))
                                    .decode("utf-8"))  # fmt: skip
                self.store.set_meta("keyring_request_kids", kids)
                self.store.set_meta("keyring_request_version", str(version))
            return
        token = sign_keyring(keyring, self._keystore.load("root")).decode("ascii")
        self.store.set_meta("keyring_token", token)
        self.store.set_meta("keyring_version", str(version))
        self.store.set_meta("keyring_kids", kids)
        self.store.bump_all_feeds()

    def _add_signer(self, now_s: int) -> str:
        kid = "job-" + time.strftime("%Y%m%d%H%M%S", time.gmtime(now_s))
        existing = {s.kid for s in self.store.signers()}
        suffix = 0
        while (kid if not suffix else f"{kid}-{suffix}") in existing:
            suffix += 1
        kid = kid if not suffix else f"{kid}-{suffix}"
        self._keystore.create(f"signer-{kid}")
        self.store.add_signer(SignerRow(kid, now_s - CLOCK_SKEW_S, now_s + SIGNER_VALIDITY_S, None))
        self.store.set_meta("active_kid", kid)
        return kid
