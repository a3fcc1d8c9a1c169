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

import json
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from district.keystore import KeyStore
from district.sqlite_store import SqliteStore
from district.store import DistrictStore, SignerRow
from kiosk.b64 import b64u_decode
from kiosk.errors import OperatorError, RejectedError
from kiosk.issue import Signer, sign_keyring
from kiosk.keys import thumbprint
from kiosk.limits import MAX_JOB_LIFETIME_S, MAX_ROOT_BYTES, MAX_ROOT_LINKS
from kiosk.model import KeyEntry, Keyring
from kiosk.rootchain import RootLink, RootStatement, parse_root, verify_root_link
from kiosk.strictjson import canonical_dumps, loads_object
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
        # (version, token, valid until, root chain): the keyring as last read, while its
        # version stands
        self._keyring: tuple[int, bytes, float, tuple[RootLink, ...]] | None = None
        self._finish_rotation()  # a root rotation a crash interrupted (ADR 0033)

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
        """The current root: the newest of the root chain after a rotation (the chain in the
        store is what kiosks follow, so it decides), else the key file of ``init``."""
        self._finish_rotation()  # an import a crash interrupted: finish it before answering
        chain = self.root_chain()
        if chain:  # verified when it was accepted: read the newest link's claims
            return _statement_of(chain[-1]).key
        return self._keystore.load_public("root")

    def root_chain(self) -> tuple[RootLink, ...]:
        """The root chain (protocol §6.5): one link per rotation, oldest first."""
        raw = self.store.get_meta("root_chain")
        if not raw:
            return ()
        return tuple((a.encode("ascii"), b.encode("ascii")) for a, b in json.loads(raw))

    @property
    def root_version(self) -> int:
        """1 for the root of ``init``, + 1 with every rotation."""
        return int(self.store.get_meta("root_version") or 1)

    def check_rotation(self, link: RootLink, keyring_token: bytes) -> tuple[RootStatement, Keyring]:
        """The checks of :meth:`accept_rotation`, changing nothing."""
        if len(self.root_chain()) >= MAX_ROOT_LINKS:
            raise OperatorError(f"the root was rotated {MAX_ROOT_LINKS} times: protocol v1 "
                                "chains no more; re-enrol the kiosks with a new "
                                "district")  # fmt: skip
        try:
            statement = verify_root_link(link, district_code=self.district_code,
                                         root_key=self.root_public())  # fmt: skip
        except RejectedError as error:
            raise OperatorError(f"root rotation refused ({error.reason.value}): {error}") from None
        if statement.version != self.root_version + 1:
            raise OperatorError(f"root rotation refused: it introduces root version "
                                f"{statement.version}, the next is "
                                f"{self.root_version + 1}")  # fmt: skip
        return statement, self._check_keyring(keyring_token, statement.key)

    def accept_rotation(self, link: RootLink, keyring_token: bytes) -> int:
        """Take a root rotation (ADR 0033): ``link`` introduces the next root and must verify
        from the current one; ``keyring_token`` is the next keyring, signed by the new root.
        Both are stored and served from now on (every feed bumped). Returns the new root's
        version.

        Raises:
            OperatorError: the link does not follow from the current root (or is not the
                next version), the keyring is not signed by the new root, not newer than the
                one served, or names a signer the store does not know.
        """
        statement, _ = self.check_rotation(link, keyring_token)
        # one write says what is to be done; the steps after it are idempotent, and a crash
        # among them is finished by the next Keys (any command, the server's start)
        self.store.set_meta("root_rotation", json.dumps({
            "link": [t.decode("ascii") for t in link], "keyring": keyring_token.decode("ascii"),
        }))  # fmt: skip
        self._finish_rotation()
        return statement.version

    def _finish_rotation(self) -> None:
        """Apply a root rotation whose import was recorded (meta ``root_rotation``): the
        link appended to the chain, the root version, the new keyring served, the home's
        public copy of the root. Each step only if not done yet."""
        raw = self.store.get_meta("root_rotation")
        if not raw:
            return
        pending = json.loads(raw)
        link: RootLink = (pending["link"][0].encode("ascii"), pending["link"][1].encode("ascii"))
        token = str(pending["keyring"]).encode("ascii")
        chain = self.root_chain()
        if link not in chain:
            links = [[a.decode("ascii"), b.decode("ascii")] for a, b in (*chain, link)]
            self.store.set_meta("root_chain", json.dumps(links))
        statement = _statement_of(link)
        self.store.set_meta("root_version", str(statement.version))
        keyring = verify_keyring(token, district_code=self.district_code, root_key=statement.key,
                                 current=None)  # fmt: skip
        if int(self.store.get_meta("keyring_version") or 0) < keyring.version:
            self._serve_keyring(token, keyring)
        if self.root_offline:  # the home's public copy follows (the chain decides anyway)
            self._keystore.replace_public("root", statement.key)
        self.store.set_meta("root_rotation", "")

    def root_private(self) -> Ed25519PrivateKey:
        """The online root's private key (``root.pem``), the current root's.

        An online rotation writes the new root as ``root-next.pem``, stores the chain, then
        renames it to ``root.pem``; a crash in between is finished here.

        Raises:
            OperatorError: the home holds no root key, or not the current root's.
        """
        current = thumbprint(self.root_public())
        key = self._keystore.load("root")
        if thumbprint(key.public_key()) == current:
            return key
        store = self._keystore
        if store.has("root-next") and thumbprint(store.load("root-next").public_key()) == current:
            self._keystore.rename("root-next", "root")
            return self._keystore.load("root")
        raise OperatorError("the root key in this home is not the district's current root")

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
        keyring = self._check_keyring(token, self.root_public())
        self._serve_keyring(token, keyring)
        return keyring.version

    def _check_keyring(self, token: bytes, root: Ed25519PublicKey) -> Keyring:
        try:
            keyring = verify_keyring(token, district_code=self.district_code, root_key=root,
                                     current=None)  # fmt: skip
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
        return keyring

    def _serve_keyring(self, token: bytes, keyring: Keyring) -> None:
        self.store.set_meta("keyring_token", token.decode("ascii"))
        self.store.set_meta("keyring_kids", ",".join(e.kid for e in keyring.keys))
        self.store.set_meta("keyring_version", str(keyring.version))  # last: what feeds compare
        self.store.bump_all_feeds()
        self._keyring = None

    def next_keyring(self, *, now_s: int) -> Keyring:
        """The keyring a rotation of the root publishes: the live signers, the next version."""
        version = int(self.store.get_meta("keyring_version") or 0) + 1
        return self._keyring_of(self._live(now_s), version, now_s)

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
        version, token, _ = self.keyring_and_chain(now_s=now_s)
        return version, token

    def keyring_and_chain(self, *, now_s: int) -> tuple[int, bytes, tuple[RootLink, ...]]:
        """:meth:`keyring` and the root chain a feed sends with it (read together)."""
        version_text = self.store.get_meta("keyring_version")
        cached = self._keyring
        if cached is not None and str(cached[0]) == version_text and now_s < cached[2]:
            return cached[0], cached[1], cached[3]
        self.refresh_keyring(now_s=now_s)
        version = self.store.get_meta("keyring_version")
        token = self.store.get_meta("keyring_token")
        if version is None or token is None:
            raise OperatorError("no keyring signed by the district root yet: run "
                                "'cedoka-district keyring export', sign it offline, "
                                "import it")  # fmt: skip
        ends = [s.retired_s for s in self.store.signers() if s.retired_s is not None
                and s.retired_s > now_s]  # fmt: skip
        chain = self.root_chain()
        self._keyring = (int(version), token.encode("ascii"), min(ends, default=float("inf")),
                         chain)  # fmt: skip
        return int(version), token.encode("ascii"), chain

    def refresh_keyring(self, *, now_s: int) -> None:
        """Sign a new keyring version when the set of live signers differs from the last."""
        live = self._live(now_s)
        listed = self.store.get_meta("keyring_kids")
        kids = ",".join(s.kid for s in live)
        if listed == kids:
            return
        version = int(self.store.get_meta("keyring_version") or 0) + 1
        keyring = self._keyring_of(live, version, now_s)
        if self.root_offline:
            if self.store.get_meta("keyring_request_kids") != kids:
                self.store.set_meta("keyring_request", canonical_dumps(keyring_claims(keyring))
                                    .decode("utf-8"))  # fmt: skip
                self.store.set_meta("keyring_request_kids", kids)
                self.store.set_meta("keyring_request_version", str(version))
            return
        token = sign_keyring(keyring, self.root_private()).decode("ascii")
        self.store.set_meta("keyring_token", token)
        self.store.set_meta("keyring_version", str(version))
        self.store.set_meta("keyring_kids", kids)
        self.store.bump_all_feeds()

    def _live(self, now_s: int) -> list[SignerRow]:
        return [s for s in self.store.signers() if s.retired_s is None or s.retired_s > now_s]

    def _keyring_of(self, live: list[SignerRow], version: int, now_s: int) -> Keyring:
        return Keyring(
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


def _statement_of(link: RootLink) -> RootStatement:
    """The claims of a link this store accepted after verifying it (not verified again)."""
    payload = b64u_decode(link[1].split(b".")[1].decode("ascii"))
    return parse_root(loads_object(payload, max_bytes=MAX_ROOT_BYTES))
