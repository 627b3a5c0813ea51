"""`python -m hive_agent COMMAND`: see `--help`."""

from __future__ import annotations

import argparse
import logging
import sys

from .devices import bound_native_memory
from .errors import HiveError


def build_parser() -> argparse.ArgumentParser:
    from .commands import bench, bench_long, demo, models, room, token, transcribe, translate

    parser = argparse.ArgumentParser(prog="python -m hive_agent",
                                     description="HIVE: real-time speech translation for LiveKit rooms")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (demo, translate, transcribe, room, token, models, bench, bench_long):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    bound_native_memory()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except HiveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output path that cannot be written, a disk that is full
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
