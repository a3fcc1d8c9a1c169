"""The district's private keys, as PEM files (PKCS #8) in ``<home>/keys/``, mode 0600.

``root.pem`` signs keyrings only (in production it belongs offline: see docs/operations
once written); ``signer-<kid>.pem`` are the online job-signing keys. Files are written
atomically and durably (:func:`cedoka_io.files.write_atomic`) and never logged.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from cedoka_io.files import write_atomic
from kiosk.errors import OperatorError


class KeyStore:
    """Private Ed25519 keys in one directory."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory

    def _path(self, name: str) -> Path:
        return self._dir / f"{name}.pem"

    def create(self, name: str) -> Ed25519PrivateKey:
        """Generate and store a new key; refuses to overwrite an existing one."""
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._path(name)
        if path.exists():
            raise OperatorError(f"key {path} exists already: refusing to overwrite it")
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        write_atomic(path, pem)  # 0600, durable
        return key

    def load(self, name: str) -> Ed25519PrivateKey:
        """Load a key.

        Raises:
            OperatorError: the file is missing or not an Ed25519 private key.
        """
        path = self._path(name)
        try:
            key = load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as error:
            raise OperatorError(f"cannot read key {path}: {error}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise OperatorError(f"{path} is not an Ed25519 key")
        return key
