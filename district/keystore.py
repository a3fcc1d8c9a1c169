"""The district's private keys, as PEM files (PKCS #8) in ``<home>/keys/``, mode 0600.

``root.pem`` signs keyrings only; with the root kept offline (ADR 0033) the home holds only
its public half, ``root.pub.pem`` (SubjectPublicKeyInfo); ``signer-<kid>.pem`` are the
online job-signing keys. Files are written atomically and durably
(:func:`cedoka_io.files.write_atomic`) and never logged.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
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

    def has(self, name: str) -> bool:
        """Whether the private key ``name`` is in this directory."""
        return self._path(name).exists()

    def save_public(self, name: str, key: Ed25519PublicKey) -> None:
        """Store only the public half of a key (``<name>.pub.pem``); refuses to overwrite."""
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._dir / f"{name}.pub.pem"
        if path.exists():
            raise OperatorError(f"key {path} exists already: refusing to overwrite it")
        write_atomic(path, key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))

    def replace_public(self, name: str, key: Ed25519PublicKey) -> None:
        """Store the public half of a key as ``<name>.pub.pem``, replacing the file there."""
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(self._dir / f"{name}.pub.pem",
                     key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))  # fmt: skip

    def rename(self, name: str, to: str) -> None:
        """Make the private key ``name`` the key ``to`` (atomically, replacing ``to``)."""
        os.replace(self._path(name), self._path(to))
        fd = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def remove(self, name: str) -> None:
        """Delete the private key ``name`` if it is here."""
        self._path(name).unlink(missing_ok=True)

    def load_public(self, name: str) -> Ed25519PublicKey:
        """The public key ``name``: from its private key if here, else from ``<name>.pub.pem``.

        Raises:
            OperatorError: neither file is readable as an Ed25519 key.
        """
        if self.has(name):
            return self.load(name).public_key()
        return read_public_key(self._dir / f"{name}.pub.pem")


def read_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (SubjectPublicKeyInfo).

    Raises:
        OperatorError: the file is missing or holds no Ed25519 public key.
    """
    try:
        key = load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as error:
        raise OperatorError(f"cannot read public key {path}: {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise OperatorError(f"{path} is not an Ed25519 public key")
    return key
