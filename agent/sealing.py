"""Rotating the device sealing key (protocol 14.2) and destroying former ones (crypto-shredding).

A rotation, in this order, each step durable before the next (ADR 0032):

1. generate the new X25519 key and write it to ``keys/seal-next.pem`` (fsynced) — from now
   on it opens documents too, since the district may take it before the kiosk hears back;
2. ``POST /v1/device/seal-key`` with its public JWK; the district makes it current;
3. on the answer naming its thumbprint: copy the current key to ``keys/seal-old-<kid>.pem``,
   then rename ``seal-next.pem`` over ``seal.pem`` (fsync of the directory).

A crash anywhere leaves ``seal-next.pem`` (or the switch half done): the next round sends the
same key again (the district answers the same, the request is idempotent) and finishes the
switch. Both keys are held until then, so no job is lost whichever key the district used.

A former key is destroyed — its file removed and the removal fsynced — once (a) the kiosk
has read the feed up to the ``seq`` of a head it received after the switch (every job the
district sealed to the old key has then arrived) and (b) no job in the spool still keeps a
manifest naming its ``seal_kid`` (they are all purged). From then on old copies of those
documents (backups, disk remnants) can no longer be opened.

When: on demand from the district (the feed head's ``seal_rotate`` claim is newer than the
current key's creation, both on the trusted clock) and on a schedule (``seal_rotate_days``
in agent.toml; 0: never). The state beside the key files is one spool meta entry ``seal``
(JSON): each key's creation time, each former key's barrier, the keys destroyed lately.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from agent import failpoints
from agent import trust as trust_store
from agent.client import LinkDownError, LinkKind
from agent.files import fsync_dir, remove_durably, write_atomic
from agent.home import SEAL_OLD_PREFIX, HomeLayout
from agent.keys import DeviceKeys, load_seal_key, private_pem, seal_kid
from agent.link import DistrictLink
from agent.recent import RecentErrors
from agent.spool import Spool
from kiosk.errors import CedokaError, RejectedError, TransportError

log = logging.getLogger("cedoka.agent.sealing")
META_KEY: Final = "seal"
DAY_S: Final = 86400
SHREDDED_KEPT: Final = 10  # the newest destroyed keys remembered (for doctor and status)


@dataclass(frozen=True, slots=True)
class SealStatus:
    """What ``cedoka doctor`` and ``status`` show of the sealing keys."""

    kid: str  # the current key's thumbprint
    created_s: int | None  # when it was made (trusted clock); None before the first round
    pending: bool  # a new key is stored, its rotation not yet confirmed
    retired: tuple[str, ...]  # former keys still held (a job still names them)
    shredded: tuple[tuple[str, int], ...]  # (kid, when) of keys destroyed lately, newest last


def load_state(spool: Spool) -> dict[str, Any]:
    raw = spool.get_meta(META_KEY)
    state: dict[str, Any] = {} if raw is None else json.loads(raw)
    state.setdefault("created", {})
    state.setdefault("retired", {})
    state.setdefault("shredded", [])
    return state


def status(layout: HomeLayout, keys: DeviceKeys, spool: Spool) -> SealStatus:
    state = load_state(spool)
    kid = seal_kid(keys.seal)
    created = state["created"].get(kid)
    return SealStatus(
        kid=kid, created_s=None if created is None else int(created),
        pending=layout.seal_next.exists(),
        retired=tuple(_kid_of(p.name) for p in layout.seal_olds()),
        shredded=tuple((str(k), int(at)) for k, at in state["shredded"]),
    )  # fmt: skip


def manifest_seal_kid(token: bytes) -> str | None:
    """The ``seal_kid`` claim of a stored (verified on arrival) manifest."""
    try:
        payload = token.split(b".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    kid = claims.get("seal_kid") if isinstance(claims, dict) else None
    return kid if isinstance(kid, str) else None


def _kid_of(name: str) -> str:
    return name[len(SEAL_OLD_PREFIX) : -len(".pem")]


class SealKeeper:
    """The kiosk's sealing keys over time: rotate, switch, destroy. Used by the sync thread
    only (after each feed round: :meth:`step`)."""

    def __init__(
        self, *, layout: HomeLayout, keys: DeviceKeys, spool: Spool, client: DistrictLink,
        rotate_days: Callable[[], int], now_s: Callable[[], int], errors: RecentErrors,
        local_now_s: Callable[[], int],
    ) -> None:  # fmt: skip
        """``rotate_days``: agent.toml's ``seal_rotate_days`` (read each time); ``now_s``:
        the trusted clock (protocol 9.2)."""
        self._layout, self._keys, self._spool, self._client = layout, keys, spool, client
        self._rotate_days, self._now_s, self._errors = rotate_days, now_s, errors
        self._local_now_s = local_now_s

    # --- the round's step -----------------------------------------------------------------

    def step(self) -> None:
        """After a feed round: note the barriers of former keys, destroy those no job needs,
        then rotate if it is due (or finish a rotation a crash or a failure interrupted). A
        failure to reach the district is noted and retried with the next round."""
        self.mark_barriers()
        self.shred()
        reason = self.due()
        if reason is None:
            return
        try:
            self.rotate(reason)
        except (TransportError, RejectedError) as error:
            code = error.reason.value if isinstance(error, RejectedError) else "link_down"
            self._errors.note(self._local_now_s(), "seal_rotate_failed")
            log.warning("event=seal_rotate_failed reason=%s error=%s", reason, code)

    def due(self) -> str | None:
        """Why the key should rotate now: ``resume`` (a new key is stored, not yet
        confirmed), ``district`` (the head's ``seal_rotate`` is newer than the current key),
        ``schedule`` (older than ``seal_rotate_days``); None: not due."""
        if self._layout.seal_next.exists():
            return "resume"
        created = self._created()
        asked = trust_store.seal_rotate_s(self._spool)
        if asked is not None and asked > created:
            return "district"
        days = self._rotate_days()
        if days > 0 and self._now_s() - created >= days * DAY_S:
            return "schedule"
        return None

    def _created(self) -> int:
        """The current key's creation time. A key made before rotation was known (the
        enrolment's, or a kiosk updated from an older agent) has none recorded: its file's
        time stands for it (never later than now), so a request the district made after the
        enrolment, before this agent first looked, is still newer and honoured."""
        state = load_state(self._spool)
        kid = seal_kid(self._keys.seal)
        if kid not in state["created"]:
            # whole seconds, rounded down, less one: a request in the enrolment's second wins
            written = int(self._layout.seal_key.stat().st_mtime) - 1
            state["created"][kid] = min(written, self._now_s())
            self._save(state)
        return int(state["created"][kid])

    # --- rotation -----------------------------------------------------------------------

    def rotate(self, reason: str = "manual") -> str:
        """Rotate the sealing key (or finish an interrupted rotation); returns the new kid.

        Raises:
            TransportError / RejectedError: the district was not reached or refused; the
            new key stays stored (``seal-next.pem``) and is sent again next time.
        """
        layout = self._layout
        try:
            new = load_seal_key(layout.seal_next)
        except FileNotFoundError:
            new = X25519PrivateKey.generate()
            write_atomic(layout.seal_next, private_pem(new))
        kid = seal_kid(new)
        if kid == seal_kid(self._keys.seal):  # switched already, the file left behind
            remove_durably(layout.seal_next)
            return kid
        self._keys.others[kid] = new  # the district may seal to it before we hear back
        state = load_state(self._spool)
        if kid not in state["created"]:
            asked = trust_store.seal_rotate_s(self._spool) or 0
            state["created"][kid] = max(self._now_s(), asked)
            self._save(state)
        failpoints.reach("seal.after_store")
        answered = self._client.post_seal_key(new)
        failpoints.reach("seal.after_send")
        if answered != kid:
            raise LinkDownError(LinkKind.BAD_ANSWER, "seal-key answer names another key")
        self._switch(new, reason)
        return kid

    def _switch(self, new: X25519PrivateKey, reason: str) -> None:
        layout = self._layout
        old = self._keys.seal
        old_kid, kid = seal_kid(old), seal_kid(new)
        write_atomic(layout.seal_old(old_kid), private_pem(old))
        os.replace(layout.seal_next, layout.seal_key)
        fsync_dir(layout.keys)
        state = load_state(self._spool)
        state["retired"][old_kid] = {"after_iat": self._head_iat(), "seq": None}
        self._save(state)
        self._keys.others[old_kid] = old
        self._keys.seal = new
        self._keys.others.pop(kid, None)
        log.info("event=seal_key_rotated kid=%s old=%s reason=%s", kid, old_kid, reason)

    # --- destroying former keys ---------------------------------------------------------

    def mark_barriers(self) -> None:
        """For each former key: the first head verified after the switch gives the ``seq``
        up to which the feed must be read before the key may go (every job sealed to it
        was issued before the switch, so at or below that head's ``seq``)."""
        olds = self._layout.seal_olds()
        if not olds:
            return
        state = load_state(self._spool)
        head = trust_store.load(self._spool).head
        changed = False
        for path in olds:
            kid = _kid_of(path.name)
            entry = state["retired"].get(kid)
            if entry is None:  # a crash between the switch and its note
                entry = state["retired"][kid] = {"after_iat": self._head_iat(), "seq": None}
                changed = True
            if entry["seq"] is None and head is not None and head.issued_at_s > entry["after_iat"]:
                entry["seq"] = head.seq
                changed = True
        if changed:
            self._save(state)

    def shred(self) -> list[str]:
        """Destroy every former key whose barrier the feed has passed and that no job in the
        spool names any more; returns their kids."""
        olds = self._layout.seal_olds()
        if not olds:
            return []
        state = load_state(self._spool)
        after = trust_store.feed_after(self._spool)
        named = {
            manifest_seal_kid(row.manifest)
            for row in self._spool.jobs()
            if row.manifest is not None
        }  # fmt: skip
        current = seal_kid(self._keys.seal)  # a copy of it: a switch a crash cut short
        gone = []
        for path in olds:
            kid = _kid_of(path.name)
            entry = state["retired"].get(kid)
            if kid == current or entry is None or entry["seq"] is None:
                continue
            if after < entry["seq"] or kid in named:
                continue
            remove_durably(path)
            self._keys.others.pop(kid, None)
            state["retired"].pop(kid, None)
            state["created"].pop(kid, None)
            state["shredded"] = [*state["shredded"], [kid, self._now_s()]][-SHREDDED_KEPT:]
            gone.append(kid)
            log.info("event=seal_key_shredded kid=%s", kid)
        if gone:
            self._save(state)
        return gone

    # --- internals ----------------------------------------------------------------------

    def _head_iat(self) -> int:
        head = trust_store.load(self._spool).head
        return 0 if head is None else head.issued_at_s

    def _save(self, state: dict[str, Any]) -> None:
        self._spool.set_meta({META_KEY: json.dumps(state, sort_keys=True).encode()})


def step_safely(keeper: SealKeeper | None) -> None:
    """``keeper.step()`` for the sync round. Whatever else goes wrong in it (a key file
    that does not load, a disk error, a bug) is logged and tried again next round: the
    sealing keys must never hold back the feed, which has been processed by then."""
    if keeper is None:
        return
    try:
        keeper.step()
    except CedokaError as error:
        log.warning("event=seal_step_failed error=%s", type(error).__name__)
    except Exception:
        log.exception("event=seal_step_failed")
