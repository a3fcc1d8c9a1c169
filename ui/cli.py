"""The ``cedoka`` entry point: the kiosk's top layer. ``run`` builds the agent *and* its
local API (the UI sits above the agent, so the agent cannot start it itself); ``kiosk`` opens
the window on the screens that ``run`` serves (:mod:`ui.window`); ``demo`` runs the whole
product on one machine (:mod:`ui.demo`); every other command is the agent's
(:mod:`agent.cli`)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from agent import cli as agent_cli
from agent.logs import configure_logging
from agent.running import write_running
from kiosk.errors import CedokaError, OperatorError


def _run(args: object) -> int:
    from agent.app import Agent
    from agent.commands import verify_of
    from ui.server import start_api

    home = args.home  # type: ignore[attr-defined]
    logs = configure_logging()
    try:
        agent = Agent(home, verify=verify_of(home))
    except CedokaError as error:
        print(f"cedoka: error: {error}", file=sys.stderr)
        return 1
    logs.context["device"] = agent.config.device_id
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        del signum, frame
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    api = start_api(agent)
    write_running(home, agent_cli.package_version())  # the self-update's health signal
    try:
        agent.run(stop)
    finally:
        api.stop()
        agent.close()
    return 0


def _kiosk(args: argparse.Namespace) -> int:
    from ui import window

    home: Path = args.home
    configure_logging()
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        del signum, frame
        stop.set()

    def signals_off() -> None:  # then setting stop here cannot race a handler setting it
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    url_file = window.window_url_file(home)
    try:
        url = window.wait_for_window_url(url_file, timeout_s=args.wait, stop=stop)
    except OperatorError as error:
        print(f"cedoka kiosk: {error}", file=sys.stderr)
        return 1
    if url is None:  # stopped while waiting
        return 0
    if args.browser:
        print(url, flush=True)  # the one place the secret is shown: that is the point
        return 0
    try:
        window.open_window(url, url_file, fullscreen=not args.windowed, stop=stop)
    except OperatorError as error:
        print(f"cedoka kiosk: {error}", file=sys.stderr)
        return 1
    finally:
        signals_off()
        stop.set()  # the window is gone: end its follower thread
    return 0


def _demo(args: argparse.Namespace) -> int:
    from ui.demo import run_demo

    return run_demo(args.dir, args.printer, args.no_window)


def main(argv: list[str] | None = None) -> int:
    args = agent_cli.build_parser().parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    if args.command == "run":
        return _run(args)
    if args.command == "kiosk":
        return _kiosk(args)
    return agent_cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
