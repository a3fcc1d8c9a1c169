"""``cedoka-district user …`` and ``token …``: district IT's users and API tokens (ADR 0022).

Run on the server host, these act as ``cli`` (the host's shell can read the keys and the
database anyway); every change lands in the district's audit log. A password is never a
command-line argument (other users of the host could read it in the process list): it is
asked for twice on a terminal, or read as one line from standard input with
``--password-stdin``. A token or TOTP secret is printed once; only its digest is kept.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from district.identity import CLI, Identity, UserView
from district.store import TokenRow
from kiosk.access import Role, Scope
from kiosk.errors import OperatorError

_SCOPES = ", ".join(s.value for s in Scope)


def add_commands(commands: Any, parse_duration: Callable[[str], int]) -> None:
    """Add ``user`` and ``token`` to the ``cedoka-district`` subcommands."""
    user = commands.add_parser("user", help="district IT's users: add, list, disable, …")
    actions = user.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="add a user (the password is asked for, never typed "
                             "as an argument)")  # fmt: skip
    add.add_argument("user_id", help="e.g. andi.s (a-z 0-9 . _ -)")
    add.add_argument("--name", required=True, help='the person\'s name, e.g. "Andi S."')
    add.add_argument("--role", required=True, choices=[r.value for r in Role],
                     help="viewer: reads; operator: + push, cancel, enrol; admin: + users, "
                     "keys, revoke")  # fmt: skip
    _password_options(add)
    actions.add_parser("list", help="list the users").add_argument(
        "--json", action="store_true", help="print JSON on stdout"
    )
    actions.add_parser("disable", help="disable a user and their tokens").add_argument("user_id")
    password = actions.add_parser("password", help="set a user's password (clears a lock)")
    password.add_argument("user_id")
    _password_options(password)
    actions.add_parser(
        "totp", help="give a user a new second factor (prints the otpauth URI once)"
    ).add_argument("user_id")

    token = commands.add_parser("token", help="API tokens for systems and the remote CLI")
    token_actions = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = token_actions.add_parser("create", help="create a token (printed once)")
    create.add_argument("--user", required=True, help="the user the token acts for")
    create.add_argument("--label", required=True, help='what uses it, e.g. "Si Laku O2T"')
    create.add_argument(
        "--scope", action="append", default=[], metavar="SCOPE",
        help=f"repeat; default: all of the user's role. Scopes: {_SCOPES}",
    )  # fmt: skip
    create.add_argument("--expires", required=True, type=parse_duration, metavar="DURATION",
                        help="its lifetime, 1h to 366d, e.g. 90d")  # fmt: skip
    create.add_argument("--json", action="store_true", help="print JSON on stdout")
    listing = token_actions.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--user", help="only this user's tokens")
    listing.add_argument("--json", action="store_true", help="print JSON on stdout")
    token_actions.add_parser("revoke", help="revoke a token").add_argument("token_id")


def _password_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password as one line from standard input")  # fmt: skip


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        if not line:
            raise OperatorError("no password on standard input")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise OperatorError("no terminal to ask the password on: give --password-stdin")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise OperatorError("the two passwords differ")
    return first


def run_user(args: argparse.Namespace, identity: Identity) -> None:
    action: str = args.action
    if action == "add":
        view = identity.add_user(CLI, user_id=args.user_id, name=args.name, role=args.role,
                                 password=_password(args))  # fmt: skip
        print(f"user {view.user_id} added ({view.role.value})")
    elif action == "list":
        users = identity.users(CLI)
        if args.json:
            print(json.dumps([_user_json(u) for u in users], indent=2, ensure_ascii=False))
            return
        for u in users:
            state = "disabled" if u.disabled_s is not None else "active"
            totp = "totp" if u.totp else "no totp"
            print(f"{u.user_id:<20} {u.role.value:<8} {state:<8} {totp:<8} {u.name}")
        if not users:
            print("(none)")
    elif action == "disable":
        identity.disable_user(CLI, args.user_id)
        print(f"user {args.user_id} disabled: their sessions and tokens stop working")
    elif action == "password":
        identity.set_password(CLI, args.user_id, _password(args))
        print(f"password of {args.user_id} set")
    elif action == "totp":
        new = identity.enable_totp(CLI, args.user_id)
        print(new.uri)
        print(f"(secret {new.secret}: add it to the user's authenticator app now; it is not "
              "shown again)", file=sys.stderr)  # fmt: skip


def run_token(args: argparse.Namespace, identity: Identity) -> None:
    action: str = args.action
    if action == "create":
        new = identity.create_token(CLI, user_id=args.user, label=args.label,
                                    scopes=args.scope, lifetime_s=args.expires)  # fmt: skip
        if args.json:
            print(json.dumps({"token": new.text, **_token_json(new.row)}, indent=2))
        else:
            print(new.text)
            print(f"(token {new.row.token_id} for {new.row.user_id}, expires "
                  f"{_iso(new.row.expires_s)}: copy it now, it is not shown again)",
                  file=sys.stderr)  # fmt: skip
    elif action == "list":
        tokens = identity.tokens(CLI, user_id=args.user)
        if args.json:
            print(json.dumps([_token_json(t) for t in tokens], indent=2, ensure_ascii=False))
            return
        for t in tokens:
            state = "revoked" if t.revoked_s is not None else f"expires {_iso(t.expires_s)}"
            print(f"{t.token_id}  {t.user_id:<16} {state:<28} {t.label}")
        if not tokens:
            print("(none)")
    elif action == "revoke":
        identity.revoke_token(CLI, args.token_id)
        print(f"token {args.token_id} revoked")


def _user_json(u: UserView) -> dict[str, object]:
    return {"user_id": u.user_id, "name": u.name, "role": u.role.value, "totp": u.totp,
            "created_s": u.created_s, "disabled_s": u.disabled_s,
            "locked_until_s": u.locked_until_s}  # fmt: skip


def _token_json(t: TokenRow) -> dict[str, object]:
    return {"token_id": t.token_id, "user_id": t.user_id, "label": t.label,
            "scopes": list(t.scopes), "created_s": t.created_s, "expires_s": t.expires_s,
            "revoked_s": t.revoked_s, "last_used_s": t.last_used_s}  # fmt: skip


def _iso(at_s: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at_s))
