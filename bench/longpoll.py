"""Moved to :mod:`bench.district` (``python -m bench district``); kept so that

    python -m bench.longpoll --devices 1000 --pushes 30

still runs one level of it: N long-polling kiosks on one server, wake latency, memory, CPU.
"""

from __future__ import annotations

import argparse

from bench.district import Plan, measure
from bench.result import table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--pushes", type=int, default=30)
    parser.add_argument("--wait", type=int, default=55, help="the kiosks' long-poll wait, s")
    args = parser.parse_args(argv)
    plan = Plan(levels=(args.devices,), pushes=args.pushes, wait_s=args.wait)
    print(table(measure(plan)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
