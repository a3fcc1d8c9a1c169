"""HPKE sealing of documents and display data to one device (RFC 9180, base mode).

Suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305 — a sealed blob is
``enc (32 bytes) || ciphertext || tag (16 bytes)``. Base mode authenticates nobody: the
sender is authenticated by the SHA-256 of the sealed bytes inside the signed manifest.
The HPKE ``info`` binds protocol version, purpose, device, job and document, so a
ciphertext cannot be moved to another job, document or device (it fails to open).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from kiosk.errors import Reason, RejectedError

SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
SEAL_OVERHEAD_BYTES = 48


def document_info(device_id: str, job_id: str, doc_id: str) -> bytes:
    """HPKE info for a document blob: ``cedoka/1|doc|<device>|<job>|<doc>`` (ASCII)."""
    return f"cedoka/1|doc|{device_id}|{job_id}|{doc_id}".encode("ascii")


def display_info(device_id: str, job_id: str) -> bytes:
    """HPKE info for a job's display data: ``cedoka/1|display|<device>|<job>`` (ASCII)."""
    return f"cedoka/1|display|{device_id}|{job_id}".encode("ascii")


def seal(plaintext: bytes, recipient: X25519PublicKey, *, info: bytes) -> bytes:
    """Seal ``plaintext`` to ``recipient``; returns ``enc || ct``."""
    return SUITE.encrypt(plaintext, recipient, info=info)


def open_sealed(sealed: bytes, key: X25519PrivateKey, *, info: bytes) -> bytes:
    """Open a sealed blob.

    Raises:
        RejectedError: OPEN_FAILED for a wrong key, wrong info, a flipped bit or truncation.
    """
    if len(sealed) < SEAL_OVERHEAD_BYTES:
        raise RejectedError(Reason.OPEN_FAILED, "sealed blob shorter than its overhead")
    try:
        return SUITE.decrypt(sealed, key, info=info)
    except (InvalidTag, ValueError):
        raise RejectedError(Reason.OPEN_FAILED, "sealed blob does not open") from None
