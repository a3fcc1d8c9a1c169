"""The offline district root (ADR 0033): ``root init`` / ``root sign-keyring`` / ``root
sign-rotation`` on the signing machine, ``keyring export`` / ``keyring import`` and
``rotate-root`` on the server.

``root init --out DIR`` writes ``DIR/root.pem`` (the private key, 0600: it stays on the
signing machine or its USB stick) and ``DIR/root.pub.pem`` (the public key, given to the
server's ``init --root-pub``). ``root sign-keyring`` signs an exported keyring request with it;
neither command needs a district home.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cedoka_io.files import write_atomic
from district.keyring import Keys
from district.keystore import KeyStore, read_public_key
from district.releases import TARGETS_KEY, ReleaseRepo
from district.rootrotation import import_rotation, rotate_online, rotation_request, sign_rotation
from kiosk.errors import OperatorError, RejectedError
from kiosk.issue import sign_keyring
from kiosk.keys import fingerprint_code
from kiosk.limits import MAX_KEYRING_BYTES
from kiosk.strictjson import loads_strict
from kiosk.wire import parse_keyring


def add_commands(commands: Any) -> None:
    root = commands.add_parser("root", help="the offline district root key (signing machine)")
    actions = root.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser("init", help="create the root key in a folder (e.g. a USB stick)")
    init.add_argument("--out", required=True, type=Path, metavar="DIR")
    sign = actions.add_parser("sign-keyring", help="sign an exported keyring request")
    sign.add_argument("request", type=Path, metavar="REQUEST")
    sign.add_argument("--key", required=True, type=Path, metavar="DIR",
                      help="the folder holding root.pem")  # fmt: skip
    sign.add_argument("--out", required=True, type=Path, metavar="FILE")
    rot = actions.add_parser("sign-rotation", help="sign a root rotation request with the "
                             "current root and the new one")  # fmt: skip
    rot.add_argument("request", type=Path, metavar="REQUEST")
    rot.add_argument("--key", required=True, type=Path, metavar="DIR",
                     help="the folder holding the current root.pem")  # fmt: skip
    rot.add_argument("--new-key", required=True, type=Path, metavar="DIR",
                     help="the folder holding the new root.pem (from 'root init')")  # fmt: skip
    rot.add_argument("--out", required=True, type=Path, metavar="FILE")
    rotate = commands.add_parser("rotate-root", help="rotate the district root: kiosks follow "
                                 "it by a chain signed by the old root (ADR 0033)")  # fmt: skip
    rotate.add_argument("--new-pub", type=Path, metavar="FILE",
                        help="offline root: the new root's public key; writes a "
                        "request")  # fmt: skip
    rotate.add_argument("--out", type=Path, metavar="FILE", help="with --new-pub: the request")
    rotate.add_argument("--import", dest="signed", type=Path, metavar="FILE",
                        help="offline root: serve a rotation signed by 'root "
                        "sign-rotation'")  # fmt: skip
    keyring = commands.add_parser("keyring", help="export / import a keyring the offline root "
                                  "signs")  # fmt: skip
    kr_actions = keyring.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = kr_actions.add_parser("export", help="write the keyring waiting for the root")
    export.add_argument("--out", required=True, type=Path, metavar="FILE")
    imp = kr_actions.add_parser("import", help="serve a keyring signed offline")
    imp.add_argument("token", type=Path, metavar="FILE")


def run_root(args: argparse.Namespace) -> None:
    if args.action == "init":
        store = KeyStore(args.out)
        key = store.create("root")
        store.save_public("root", key.public_key())
        fingerprint = fingerprint_code(key.public_key())
        print(f"root key written to {args.out / 'root.pem'}; give the server "
              f"{args.out / 'root.pub.pem'}")  # fmt: skip
        print(f"root key fingerprint: {fingerprint[:5]}-{fingerprint[5:]}")
        return
    if args.action == "sign-rotation":
        request = _read_file(args.request)
        signed = sign_rotation(request, old=KeyStore(args.key).load("root"),
                               new=KeyStore(args.new_key).load("root"))  # fmt: skip
        write_atomic(args.out, signed)
        _copy_targets_key(args.key, args.new_key)
        print(f"root rotation signed by the current and the new root: {args.out}; import it "
              "on the server with 'cedoka-district rotate-root --import'")  # fmt: skip
        return
    try:
        claims = loads_strict(args.request.read_bytes(), max_bytes=MAX_KEYRING_BYTES)
        if not isinstance(claims, dict):
            raise OperatorError(f"{args.request} is not a keyring request")
        keyring = parse_keyring(claims)
    except OSError as error:
        raise OperatorError(f"cannot read {args.request}: {error}") from None
    except RejectedError as error:
        raise OperatorError(f"{args.request} is not a keyring request: {error}") from None
    token = sign_keyring(keyring, KeyStore(args.key).load("root"))
    write_atomic(args.out, token)
    print(f"keyring {keyring.issuer} version {keyring.version} "
          f"({len(keyring.keys)} signing keys) signed: {args.out}")  # fmt: skip


def run_keyring(args: argparse.Namespace, keys: Keys) -> None:
    if args.action == "export":
        request = keys.keyring_request()
        if request is None or not keys.root_offline:
            raise OperatorError("no keyring waits for the root's signature")
        write_atomic(args.out, request)
        print(f"keyring request written to {args.out}: sign it with 'cedoka-district root "
              "sign-keyring' on the signing machine")  # fmt: skip
        return
    try:
        token = args.token.read_bytes().strip()
    except OSError as error:
        raise OperatorError(f"cannot read {args.token}: {error}") from None
    version = keys.import_keyring(token)
    print(f"keyring version {version} imported; kiosks take it on their next poll")


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise OperatorError(f"cannot read {path}: {error}") from None


def _copy_targets_key(old: Path, new: Path) -> None:
    """The TUF targets key kept beside the old root (ADR 0031) moves with the root: the new
    root's folder is the one ``release --keys`` names from now on."""
    source, target = old / f"{TARGETS_KEY}.pem", new / f"{TARGETS_KEY}.pem"
    if source.exists() and not target.exists():
        write_atomic(target, source.read_bytes())
        print(f"copied {source.name} to {new} (give 'release --keys {new}' from now on)")


def run_rotate_root(args: argparse.Namespace, keys: Keys, home: Path, *, now_s: int) -> None:
    repo = ReleaseRepo.of_home(home)
    if args.signed is not None:
        if args.new_pub is not None or args.out is not None:
            raise OperatorError("--import takes no --new-pub or --out")
        version = import_rotation(keys, repo, _read_file(args.signed))
        _done(keys, version)
        return
    if args.new_pub is not None:
        if args.out is None:
            raise OperatorError("--new-pub needs --out FILE (the request to sign offline)")
        request = rotation_request(keys, repo, read_public_key(args.new_pub), now_s=now_s)
        write_atomic(args.out, request)
        print(f"root rotation request written to {args.out}: sign it with 'cedoka-district "
              "root sign-rotation' on the signing machine, then 'rotate-root "
              "--import'")  # fmt: skip
        return
    if args.out is not None:
        raise OperatorError("--out goes with --new-pub")
    version = rotate_online(keys, repo, home, now_s=now_s)
    _done(keys, version)


def _done(keys: Keys, version: int) -> None:
    fingerprint = fingerprint_code(keys.root_public())
    print(f"district root rotated to version {version}; kiosks follow on their next poll")
    print(f"new root key fingerprint: {fingerprint[:5]}-{fingerprint[5:]}  (new enrolment "
          "codes carry it)")  # fmt: skip
