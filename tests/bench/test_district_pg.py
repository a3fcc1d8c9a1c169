"""Smoke run of ``bench.district``'s multi-process variant at a tiny size: a private
PostgreSQL cluster, 2 server processes on 2 ports, the kiosks split over 2 load-generator
processes; every figure exists, is positive and carries its same-run baseline, and the
paper estimate is there. Never a timed assertion. Skipped without the PostgreSQL binaries."""

from __future__ import annotations

import pytest

from bench import district, pgcluster
from bench.result import table

pytestmark = [pytest.mark.slow, pytest.mark.loopback]


def test_postgresql_two_processes_figures_with_baselines() -> None:
    if (reason := pgcluster.missing()) is not None:
        pytest.skip(reason)
    plan = district.Plan(levels=(20,), pushes=3, wait_s=5, probes=5, cpu_probes=20,
                         db="postgresql", processes=2, per_generator=10)  # fmt: skip
    figures = district.measure(plan)
    names = [f.name for f in figures]
    for part in ("N=20 wake p50", "N=20 wake p99", "N=20 server RSS", "N=20 server CPU",
                 "N=20 PostgreSQL CPU", "set-up: enrol one kiosk",
                 "national 83,762 kiosks: server cores",
                 "national 83,762 kiosks: server processes",
                 "national 83,762 kiosks: application machines",
                 "national 83,762 kiosks: PostgreSQL cores",
                 "national 83,762 kiosks: server memory"):  # fmt: skip
        assert any(part in name for name in names), (part, names)
    for figure in figures:
        assert figure.group == "district, PostgreSQL, 2 processes", figure
        assert figure.value > 0, figure
        assert figure.baseline is not None and figure.baseline > 0, figure
        assert figure.baseline_name and figure.limit, figure
    assert not any("BROKE" in f.limit or "BROKE" in f.note for f in figures)
    rss = next(f for f in figures if f.name == "N=20 server RSS")
    assert "summed over 2 processes" in rss.limit
    cpu = next(f for f in figures if f.name == "N=20 server CPU")
    assert "2 generator processes" in cpu.limit
    assert table(figures)


def test_several_processes_need_postgresql() -> None:
    with pytest.raises(ValueError, match="need --db postgresql"):
        district.run(quick=True, db="sqlite", processes=2)
    with pytest.raises(ValueError, match="--workers needs"):
        district.run(quick=True, db="postgresql", processes=1, workers=True)
