"""`python -m hive_agent start | dev | connect --room NAME`: the LiveKit worker.

Configured by LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET (or the flags) and the HIVE_*
settings. `start` registers with the server and takes dispatched jobs (production: drains jobs
on SIGTERM); `dev` is the same with development defaults; `connect` joins one room directly.
"""

from __future__ import annotations

import argparse
import os
import uuid

from ..settings import load_settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    start = sub.add_parser("start", help="run the LiveKit worker (production)")
    _add_server_flags(start)
    _add_agent_name(start)
    start.set_defaults(run=lambda args: _run_worker(args, dev=False))

    dev = sub.add_parser("dev", help="run the LiveKit worker in development mode")
    _add_server_flags(dev)
    _add_agent_name(dev)
    dev.set_defaults(run=lambda args: _run_worker(args, dev=True))

    connect = sub.add_parser("connect", help="join one LiveKit room directly (no dispatch)")
    _add_server_flags(connect)
    connect.add_argument("--room", required=True, help="room name (created if it does not exist)")
    connect.add_argument("--identity", default=None, help="the agent's participant identity (default: hive-<random>)")
    connect.set_defaults(run=_run_connect)


def _add_server_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=None, help="LiveKit server URL (default: LIVEKIT_URL)")
    p.add_argument("--api-key", default=None, help="default: LIVEKIT_API_KEY")
    p.add_argument("--api-secret", default=None, help="default: LIVEKIT_API_SECRET")


def _add_agent_name(p: argparse.ArgumentParser) -> None:
    p.add_argument("--agent-name", default=os.environ.get("LIVEKIT_AGENT_NAME", ""),
                   help="register for explicit dispatch under this name (default: LIVEKIT_AGENT_NAME; "
                        "empty = join every new room automatically)")


def _config(args: argparse.Namespace):
    from ..room.access import livekit_config

    return livekit_config(args.url, args.api_key, args.api_secret)


def _run_worker(args: argparse.Namespace, *, dev: bool) -> int:
    from ..room.worker import run_worker

    config = _config(args)
    run_worker(config, load_settings(), dev=dev, agent_name=args.agent_name,
               log_level="DEBUG" if getattr(args, "verbose", False) else "INFO")
    return 0


def _run_connect(args: argparse.Namespace) -> int:
    from ..room.worker import run_connect

    config = _config(args)
    run_connect(config, load_settings(), room=args.room,
                identity=args.identity or f"hive-{uuid.uuid4().hex[:8]}")
    return 0
