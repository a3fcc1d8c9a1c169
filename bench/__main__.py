"""``python -m bench all [--quick] [--json FILE]`` or ``python -m bench NAME …``.

Each benchmark is a module of this package with ``run(quick: bool) -> list[Figure]``;
``--quick`` shrinks the sizes so the whole suite runs in a few minutes (the tests run it
as a smoke test); the full run's table is in docs/performance.md.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=["all", *BENCHMARKS], help="which benchmark")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write JSON here")
    args = parser.parse_args(argv)
    names = list(BENCHMARKS) if args.name == "all" else [args.name]
    figures: list[Figure] = []
    failed = []
    for name in names:
        started = time.monotonic()
        print(f"== {name}: {BENCHMARKS[name]}", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            got: list[Figure] = module.run(quick=args.quick)
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
