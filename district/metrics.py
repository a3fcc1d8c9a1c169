"""``/metrics`` in the Prometheus text format, and what ``/readyz`` checks (issue 17 item 6).

Through ``prometheus_client`` (the official client), on a registry of this server's own
(never the process-global one, so two servers in one test process do not mix). Numbers
only: no office, device or job id is a label, so nothing here names a village or a person.

- ``cedoka_jobs{state}``: jobs by their latest reported state (``pushed`` before the kiosk
  reported one, ``cancelled`` for a district cancel the kiosk has not answered yet);
- ``cedoka_kiosks{status}``: ``online`` (seen in the last 5 minutes), ``offline``,
  ``revoked``;
- ``cedoka_printers_needing_attention{problem}``: from the kiosks' last heartbeats —
  ``paper`` (media empty or low), ``ink`` (a marker at 10 % or less, or reported low),
  ``stopped`` (stopped or not accepting jobs);
- ``cedoka_webhook_backlog``: webhook messages neither delivered nor given up;
- ``cedoka_feed_held_polls``: long-polls waiting now;
- ``cedoka_feed_wake_seconds``: for each long-poll woken by news, from the moment this
  process saw the change to the moment its answer was ready (the notifier's own poll
  interval, 20 ms, comes before it).

The job and kiosk figures are read from the store when scraped (one query each), so every
server process reports the same totals.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from district.store import DistrictStore
from kiosk.errors import RejectedError
from kiosk.report import parse_heartbeat

ONLINE_S = 5 * 60
LOW_MARKER_PERCENT = 10
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_WAKE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _StoreCollector(Collector):
    def __init__(self, store: DistrictStore, held: Callable[[], int],
                 now_s: Callable[[], float]) -> None:  # fmt: skip
        self._store, self._held, self._now_s = store, held, now_s

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("cedoka_jobs", "Jobs by latest reported state", labels=["state"])
        states = Counter(
            row.state or ("cancelled" if row.cancelled_s is not None else "pushed")
            for row in self._store.jobs()
        )
        for state, count in sorted(states.items()):
            jobs.add_metric([state], count)
        yield jobs

        now = self._now_s()
        kiosks = Counter[str]()
        problems = Counter({"paper": 0, "ink": 0, "stopped": 0})
        for device in self._store.devices():
            if device.revoked_s is not None:
                kiosks["revoked"] += 1
                continue
            seen = device.last_seen_s is not None and now - device.last_seen_s <= ONLINE_S
            kiosks["online" if seen else "offline"] += 1
            problems.update(_printer_problems(device.heartbeat))
        family = GaugeMetricFamily("cedoka_kiosks", "Enrolled kiosks", labels=["status"])
        for status in ("online", "offline", "revoked"):
            family.add_metric([status], kiosks[status])
        yield family
        attention = GaugeMetricFamily("cedoka_printers_needing_attention",
                                      "Kiosk printers needing paper, ink or a restart",
                                      labels=["problem"])  # fmt: skip
        for problem, count in sorted(problems.items()):
            attention.add_metric([problem], count)
        yield attention
        yield GaugeMetricFamily("cedoka_webhook_backlog",
                                "Webhook messages neither delivered nor given up",
                                value=self._store.webhooks.backlog())  # fmt: skip
        yield GaugeMetricFamily("cedoka_feed_held_polls", "Long-polls waiting now",
                                value=self._held())  # fmt: skip


def _printer_problems(heartbeat: bytes | None) -> Counter[str]:
    """What the printers of one kiosk's last heartbeat need."""
    found = Counter[str]()
    try:
        printers = () if heartbeat is None else parse_heartbeat(heartbeat).printers
    except RejectedError:  # stored as received: a kiosk's bad heartbeat counts as none
        return found
    for printer in printers:
        reasons = printer.reasons
        if any(r.startswith(("media-empty", "media-low", "media-needed")) for r in reasons):
            found["paper"] += 1
        low = any(0 <= m.level <= LOW_MARKER_PERCENT for m in printer.markers)
        if low or any(r.startswith(("marker-supply-low", "marker-supply-empty", "toner-"))
                      for r in reasons):  # fmt: skip
            found["ink"] += 1
        if printer.state == "stopped" or not printer.accepting:
            found["stopped"] += 1
    return found


class DistrictMetrics:
    """The registry of one server process."""

    def __init__(self, store: DistrictStore, *, held: Callable[[], int],
                 now_s: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_StoreCollector(store, held, now_s))
        self.wake = Histogram(
            "cedoka_feed_wake_seconds", "From seeing a feed change to the woken poll's answer",
            buckets=_WAKE_BUCKETS, registry=self.registry,
        )  # fmt: skip

    def render(self) -> bytes:
        """The text exposition (reads the store: call it off the event loop)."""
        return generate_latest(self.registry)
