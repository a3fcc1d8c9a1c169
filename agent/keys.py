"""The device's private keys, generated on the kiosk at enrolment and never sent anywhere:
``<home>/keys/auth.pem`` (Ed25519: request proofs and job events) and ``seal.pem`` (X25519:
the district seals documents to it). PKCS #8 PEM, mode 0600, in a 0700 directory.

While the sealing key rotates (:mod:`agent.sealing`, protocol 14.2) the directory also holds
``seal-next.pem`` (the new key, stored before it is sent) and ``seal-old-<kid>.pem`` (former
keys, kept while a job in the spool is sealed to them): every one of them opens documents,
so a job sealed to any key the kiosk still holds prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agent.files import private_dir, write_atomic
from agent.home import HomeLayout
from kiosk.errors import OperatorError
from kiosk.keys import thumbprint


def private_pem(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip


def seal_kid(key: X25519PrivateKey) -> str:
    """The sealing key's id on the wire: the thumbprint of its public JWK."""
    return thumbprint(key.public_key())


def load_seal_key(path: Path) -> X25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    if not isinstance(key, X25519PrivateKey):
        raise OperatorError(f"{path}: not an X25519 key")
    return key


@dataclass(eq=False)
class DeviceKeys:
    """The device's keys. ``seal`` is the current sealing key (the district's); ``others``
    the other sealing keys still held, by thumbprint: a new one not yet confirmed and former
    ones not yet destroyed. One object is shared by every part of a running agent, so a
    rotation is seen by all of them at once (:mod:`agent.sealing` changes it)."""

    auth: Ed25519PrivateKey
    seal: X25519PrivateKey
    others: dict[str, X25519PrivateKey] = field(default_factory=dict)

    @property
    def seal_keys(self) -> dict[str, X25519PrivateKey]:
        """Every sealing key held, by thumbprint, as ``kiosk.verify`` wants them."""
        return {**self.others, seal_kid(self.seal): self.seal}

    @classmethod
    def generate(cls) -> DeviceKeys:
        return cls(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())

    def save(self, home: Path) -> None:
        """Write the enrolment's two keys (auth.pem, seal.pem)."""
        layout = HomeLayout(home)
        private_dir(layout.keys)
        for path, key in ((layout.auth_key, self.auth), (layout.seal_key, self.seal)):
            write_atomic(path, private_pem(key))

    @classmethod
    def load(cls, home: Path) -> DeviceKeys:
        layout = HomeLayout(home)
        try:
            auth = serialization.load_pem_private_key(layout.auth_key.read_bytes(), None)
            seal = serialization.load_pem_private_key(layout.seal_key.read_bytes(), None)
        except FileNotFoundError as error:
            raise OperatorError(f"{error.filename} missing: enrol this kiosk first") from None
        if not isinstance(auth, Ed25519PrivateKey) or not isinstance(seal, X25519PrivateKey):
            raise OperatorError(f"{layout.keys}: unexpected key types")
        others: dict[str, X25519PrivateKey] = {}
        paths = [*layout.seal_olds(), layout.seal_next]
        for path in paths:
            try:
                key = load_seal_key(path)
            except FileNotFoundError:
                continue
            others[seal_kid(key)] = key
        others.pop(seal_kid(seal), None)
        return cls(auth, seal, others)
