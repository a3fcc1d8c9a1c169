"""Smoke runs of ``bench.district`` and ``bench.weaklink`` at tiny sizes: every figure exists,
is positive and carries the baseline measured in the same run. Never a timed assertion."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

import pytest

from bench import district, netns, weaklink
from bench.result import Figure, table


def _check(figures: Sequence[Figure], expected: Sequence[str]) -> None:
    names = [f.name for f in figures]
    for part in expected:
        assert any(part in name for name in names), (part, names)
    for figure in figures:
        assert figure.value > 0, figure
        assert figure.baseline is not None and figure.baseline > 0, figure
        assert figure.baseline_name and figure.limit, figure
    assert table(figures)


@pytest.mark.slow
@pytest.mark.loopback
def test_district_figures_with_baselines() -> None:
    plan = district.Plan(levels=(20,), pushes=3, wait_s=5, probes=5, cpu_probes=20)
    figures = district.measure(plan)
    _check(figures, ["N=20 wake p50", "N=20 wake p99", "N=20 server RSS", "N=20 server CPU",
                     "set-up: enrol one kiosk"])  # fmt: skip
    assert all(f.group == "district" for f in figures)
    assert not any("BROKE" in f.limit or "BROKE" in f.note for f in figures)


def _netns_names() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}


@pytest.mark.slow
@pytest.mark.system
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (CAP_NET_ADMIN): a network namespace")
def test_weaklink_figures_with_baselines_and_cleans_up() -> None:
    assert netns.missing() == ""  # root here: then iproute2 must be installed too
    before = _netns_names()
    plan = weaklink.Plan(netns.Shape(1_000_000, 0.02, 0.0), bundle_bytes=60_000, cuts=1,
                         cut_s=1, timeout_s=60)  # fmt: skip
    figures = weaklink.measure(plan)
    _check(figures, ["push -> 3 documents printed", "plain HTTPS download", "bytes down"])
    assert not any("NOT COMPLETE" in f.limit for f in figures)
    assert _netns_names() == before
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                           check=True).stdout  # fmt: skip
    assert f"{netns.PREFIX}{os.getpid()}" not in links


def test_weaklink_without_root_reports_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    figures = weaklink.run(quick=True)
    assert len(figures) == 3
    assert all(f.value == 0 and "skipped: needs root and iproute2" in f.note for f in figures)
