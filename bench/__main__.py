"""``python -m bench all [--quick] [--json FILE]`` or ``python -m bench NAME …``.

Each benchmark is a module of this package with ``run(quick: bool) -> list[Figure]``;
``--quick`` shrinks the sizes so the whole suite runs in a few minutes (the tests run it
as a smoke test); the full run's table is in docs/performance.md.

``district`` has a variant: ``--db postgresql --processes P [--workers]`` (see
:mod:`bench.district`); those options apply to ``district`` alone.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from bench.result import Figure, table, write_json

# In the order they run and are reported.
BENCHMARKS: dict[str, str] = {
    "delivery": "push -> printed latency, split; virtual and real CUPS vs plain lp",
    "ingest": "jobs/s for 1 MB documents vs the raw primitives (SHA-256, HPKE, fsync)",
    "footprint": "idle and busy memory, CPU and bytes on the wire of cedoka run",
    "district": "N long-polling kiosks on one server: wake latency, memory, CPU",
    "weaklink": "a 2 MB bundle over a shaped, cut link (netns + tc netem)",
    "kiosk": "release tap -> submitted; window start-up to interactive",
}


def _levels(text: str) -> tuple[int, ...]:
    """``1000,5000``: kiosk counts, each 1 to 200,000."""
    try:
        levels = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: numbers separated by commas") from None
    if not levels or not all(1 <= n <= 200_000 for n in levels):
        raise argparse.ArgumentTypeError(f"{text!r}: each level 1 to 200000")
    return levels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=["all", *BENCHMARKS], help="which benchmark")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write JSON here")
    district = parser.add_argument_group("district only: several processes on PostgreSQL")
    district.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite",
                          help="the store: SQLite (default) or a private PostgreSQL cluster "
                          "for the run")  # fmt: skip
    district.add_argument("--processes", type=int, default=1, metavar="P",
                          help="server processes (> 1 needs --db postgresql); kiosks are "
                          "spread over P ports")  # fmt: skip
    district.add_argument("--workers", action="store_true",
                          help="one 'serve --workers P' on one port, not P ports")  # fmt: skip
    district.add_argument("--levels", type=_levels, metavar="N,N,…",
                          help="only these numbers of kiosks, in this order (default: the "
                          "plan's levels, doubling until one breaks)")  # fmt: skip
    args = parser.parse_args(argv)
    variant: dict[str, object] = {"db": args.db, "processes": args.processes,
                                  "workers": args.workers}  # fmt: skip
    if args.levels:
        if args.name != "district":
            parser.error("--levels applies to the district benchmark only")
        variant["levels"] = args.levels
    if {k: variant[k] for k in ("db", "processes", "workers")} != {
        "db": "sqlite",
        "processes": 1,
        "workers": False,
    }:
        if args.name != "district":
            parser.error("--db, --processes and --workers apply to the district benchmark only")
        if args.processes < 1 or (args.processes > 1 and args.db != "postgresql"):
            parser.error("--processes must be 1, or more with --db postgresql")
        if args.workers and args.processes < 2:
            parser.error("--workers needs --processes 2 or more")
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    figures: list[Figure] = []
    failed = []
    for name in names:
        started = time.monotonic()
        print(f"== {name}: {BENCHMARKS[name]}", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            extra = variant if name == "district" else {}
            got: list[Figure] = module.run(quick=args.quick, **extra)
        except Exception as error:  # one broken benchmark must not hide the others
            failed.append(name)
            print(f"   {name} failed: {type(error).__name__}: {error}", file=sys.stderr)
            continue
        figures += got
        print(f"   {len(got)} figures in {time.monotonic() - started:.0f} s", file=sys.stderr)
    print(table(figures))
    if args.json is not None:
        write_json(args.json, figures, quick=args.quick)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
