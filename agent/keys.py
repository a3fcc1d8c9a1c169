"""The device's private keys, generated on the kiosk at enrolment and never sent anywhere:
``<home>/keys/auth.pem`` (Ed25519: request proofs and job events) and ``seal.pem`` (X25519:
the district seals documents to it). PKCS #8 PEM, mode 0600, in a 0700 directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agent.files import private_dir, write_atomic
from agent.home import HomeLayout
from kiosk.errors import OperatorError
from kiosk.keys import thumbprint


@dataclass(frozen=True)
class DeviceKeys:
    auth: Ed25519PrivateKey
    seal: X25519PrivateKey

    @property
    def seal_keys(self) -> dict[str, X25519PrivateKey]:
        """Sealing keys by thumbprint, as ``kiosk.verify`` wants them."""
        return {thumbprint(self.seal.public_key()): self.seal}

    @classmethod
    def generate(cls) -> DeviceKeys:
        return cls(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())

    def save(self, home: Path) -> None:
        layout = HomeLayout(home)
        private_dir(layout.keys)
        for path, key in ((layout.auth_key, self.auth), (layout.seal_key, self.seal)):
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )  # fmt: skip
            write_atomic(path, pem)

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
        return cls(auth, seal)
