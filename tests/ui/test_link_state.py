"""``GET /api/state``'s link over the live agent (real district, real HTTP): a feed whose
signed head has expired is frozen (protocol 9.8), and the state says since when and why,
instead of a fresh-looking link with no error (issue 14 item 7)."""

from __future__ import annotations

import time

from tests.agent.harness import wait_for
from tests.agent.stale import district_head, feed_answer
from tests.district.conftest import Server
from tests.ui.conftest import Api


def test_a_frozen_feed_shows_in_the_state_and_a_fresh_head_thaws_it(
    api: Api, server: Server
) -> None:
    api.sync()
    fresh = api.call("GET", "/api/state").json()
    link = fresh["link"]
    assert fresh["frozen"] is False and link["frozen"] is False and link["error"] is None
    confirmed = link["confirmed_s"]
    assert isinstance(confirmed, int) and link["confirmed_until_s"] > confirmed

    wait_for("a second after that head", lambda: time.time() >= confirmed + 1)
    stale = district_head(server, api.agent.config.device_id, iat=confirmed, exp=confirmed + 1)
    api.agent.syncer.process(feed_answer(stale))
    frozen = api.call("GET", "/api/state").json()
    link = frozen["link"]
    assert frozen["frozen"] is True and link["frozen"] is True
    assert link["error"] == link["head_refused"] == "head_expired"
    assert link["confirmed_s"] == confirmed and link["revoked"] is False

    api.sync()
    thawed = api.call("GET", "/api/state").json()["link"]
    assert thawed["frozen"] is False and thawed["error"] is None and thawed["head_refused"] is None
