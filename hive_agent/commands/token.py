"""`python -m hive_agent token`: a LiveKit access token for a listener or speaker."""

from __future__ import annotations

import argparse

from ..errors import SettingsError
from ..room.access import create_token, credentials_from_env, parse_ttl


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="print a LiveKit access token (keys from LIVEKIT_API_KEY/SECRET)")
    p.add_argument("--room", required=True, help="room name")
    p.add_argument("--identity", required=True, help="participant identity")
    p.add_argument("--language", help="the participant's language attribute, e.g. es (captions and speech in it)")
    p.add_argument("--ttl", default="1h", help="lifetime, e.g. 90s, 30m, 1h, 2d (default 1h)")
    p.add_argument("--listen-only", action="store_true", help="no publish grant (a pure listener)")
    p.add_argument("--name", help="display name")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    key, secret = credentials_from_env()
    try:
        ttl = parse_ttl(args.ttl)
        token = create_token(key, secret, room=args.room, identity=args.identity, language=args.language,
                             ttl=ttl, can_publish=not args.listen_only, name=args.name)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    print(token)
    return 0
