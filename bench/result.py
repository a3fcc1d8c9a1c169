"""What every benchmark returns: figures, each with the baseline measured in the same run,
so the ratio holds on a noisy machine; and the table and JSON they are reported as."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    """One measured figure.

    ``ratio`` is ``value / baseline`` (for a time: how many times slower than the baseline;
    for a rate: what fraction of the baseline's rate). ``limit`` says what bounds the figure
    (the physical bound or the peer it is compared to); ``note`` anything a reader needs.
    """

    group: str
    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline: float | None = None
    limit: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank on the sorted values; 50 = median)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _number(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(figures: Sequence[Figure]) -> str:
    """A plain-text table, one row per figure, grouped."""
    rows = [("figure", "ours", "baseline", "", "ratio")]
    group = None
    for f in figures:
        if f.group != group:
            group = f.group
            rows.append((f"[{group}]", "", "", "", ""))
        base = "-" if f.baseline is None else f"{_number(f.baseline)} {f.unit}"
        ratio = "-" if f.ratio is None else f"{f.ratio:.2f}x"
        rows.append((f"  {f.name}", f"{_number(f.value)} {f.unit}", base, f.baseline_name, ratio))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    notes = [f"  {f.group} / {f.name}: {f.limit}" for f in figures if f.limit]
    return "\n".join([*lines, "", "what limits each figure:", *notes] if notes else lines)


def machine() -> dict[str, object]:
    return {
        "cpus": os.cpu_count(), "python": sys.version.split()[0],
        "platform": platform.platform(), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }  # fmt: skip


def write_json(path: Path, figures: Sequence[Figure], *, quick: bool) -> None:
    body = {
        "machine": machine(), "quick": quick,
        "figures": [{**asdict(f), "ratio": f.ratio} for f in figures],
    }  # fmt: skip
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
