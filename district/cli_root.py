"""The offline district root (ADR 0033): ``root init`` / ``root sign-keyring`` on the signing
machine, ``keyring export`` / ``keyring import`` on the server.

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
from district.keystore import KeyStore
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
