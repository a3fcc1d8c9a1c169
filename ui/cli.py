"""The ``cedoka`` entry point: the kiosk's top layer. ``run`` builds the agent *and* its
local API (the UI sits above the agent, so the agent cannot start it itself); every other
command is the agent's (:mod:`agent.cli`)."""

from __future__ import annotations

import logging
import signal
import sys
import threading

from agent import cli as agent_cli
from kiosk.errors import CedokaError


def _run(args: object) -> int:
    from agent.app import Agent
    from agent.commands import verify_of
    from ui.server import start_api

    home = args.home  # type: ignore[attr-defined]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        agent = Agent(home, verify=verify_of(home))
    except CedokaError as error:
        print(f"cedoka: error: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        del signum, frame
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    api = start_api(agent)
    try:
        agent.run(stop)
    finally:
        api.stop()
        agent.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = agent_cli.build_parser().parse_args(argv)
    if args.command == "run":
        return _run(args)
    return agent_cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
