"""The job model: typed, frozen values the rest of Cedoka passes around.

These are what the wire format parses *into* (``kiosk.wire``) after the verification
recipe (``kiosk.verify``) has checked them; nothing here parses or checks signatures.
Times are Unix seconds (``*_s``); sizes are bytes; hashes are raw 32-byte SHA-256 digests.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.claim import ClaimVerifier


class ReleaseMode(enum.StrEnum):
    """How a held job may be released for printing."""

    CLAIM = "claim"  # the resident's claim code, checked offline against a slow hash
    STAFF = "staff"  # an operator's PIN and a reason (resident without a phone)
    AUTO = "auto"  # printed as soon as it is verified (e.g. office copies)


class Sides(enum.StrEnum):
    """IPP ``sides`` values (RFC 8011)."""

    ONE_SIDED = "one-sided"
    TWO_SIDED_LONG_EDGE = "two-sided-long-edge"
    TWO_SIDED_SHORT_EDGE = "two-sided-short-edge"


MEDIA_A4 = "iso_a4_210x297mm"  # PWG 5101.1 self-describing name
SCALING_NONE = "none"  # IPP print-scaling: never fit-to-page (would rescale a signed document)


@dataclass(frozen=True, slots=True)
class PrintTicket:
    """How every document of a job is printed. v1 allows only A4 at 100 %."""

    sides: Sides = Sides.ONE_SIDED
    media: str = MEDIA_A4
    scaling: str = SCALING_NONE


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """One document of a job, as signed: what its sealed blob must be."""

    doc_id: str
    doc_type: str  # a printable code from kiosk.doctypes, e.g. "KK"
    copies: int  # 1..MAX_COPIES
    sealed_size: int  # exact length of the sealed blob in bytes
    sealed_sha256: bytes  # SHA-256 of the sealed blob


@dataclass(frozen=True, slots=True)
class JobManifest:
    """A signed job for one device: a bundle of one or more documents."""

    job_id: str
    device_id: str
    issuer: str  # district code, e.g. "74.08"
    office_code: str  # e.g. "74.08.01.2002"
    seq: int  # per-device sequence number, from 1
    issued_at_s: int
    expires_at_s: int
    release: ReleaseMode
    ticket: PrintTicket
    documents: tuple[DocumentRef, ...]
    seal_kid: str  # thumbprint of the device sealing key the blobs are sealed to
    display_sealed: bytes  # HPKE-sealed DisplayData (JSON)


@dataclass(frozen=True, slots=True)
class DocumentTitle:
    """A document's human title (may name the resident's document type, never a NIK)."""

    doc_id: str
    title: str


@dataclass(frozen=True, slots=True)
class DisplayData:
    """What the kiosk may show about a job; arrives sealed to the device."""

    resident_masked: str  # e.g. "S*** N********"
    titles: tuple[DocumentTitle, ...]
    claim: ClaimVerifier | None  # present exactly when release is CLAIM


@dataclass(frozen=True, slots=True)
class VerifiedJob:
    """A manifest that passed every check of the recipe, with its opened display data."""

    manifest: JobManifest
    display: DisplayData
    signer_kid: str
    token: bytes  # the exact signed bytes, kept for audit and re-verification


@dataclass(frozen=True, slots=True)
class FeedHead:
    """The signed state of a device's feed at one moment."""

    device_id: str
    issuer: str
    seq: int  # highest job seq issued to this device (0 = none yet)
    issued_at_s: int
    expires_at_s: int
    cancelled: frozenset[str]  # job ids cancelled and not yet known to be purged
    keyring_version: int  # the keyring version the server currently serves
    # When district IT last asked the device to rotate its sealing key (protocol 6.3,
    # 14.2; optional claim ``seal_rotate``); None: never asked.
    seal_rotate_s: int | None = None
    operators_version: int = 0  # ``ov``: the office operator list's version (0: not said)


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """A job-signing key and the time window in which it may sign."""

    kid: str
    public_key: Ed25519PublicKey
    not_before_s: int
    not_after_s: int


@dataclass(frozen=True, slots=True)
class Keyring:
    """The district's job-signing keys, signed by the district root key."""

    issuer: str
    version: int
    issued_at_s: int
    keys: tuple[KeyEntry, ...]

    def key_for(self, kid: str) -> KeyEntry | None:
        """The entry for ``kid`` if it exists (its validity window is the caller's check)."""
        return next((entry for entry in self.keys if entry.kid == kid), None)


@dataclass(frozen=True, slots=True)
class OpenedDocument:
    """A document opened in memory just before printing. Never written to disk."""

    doc_id: str
    doc_type: str
    pdf: bytes
    page_count: int
    all_pages_a4: bool
