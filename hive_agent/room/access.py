"""LiveKit credentials from the environment, and access tokens for people joining a HIVE room
(core of `python -m hive_agent token`).

A listener's `language` participant attribute tells the agent which translation to publish for
them (the livekit-agents translation convention), so it is set in the token itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from livekit import api

from ..errors import SettingsError
from ..text import language_tag

URL_ENV = "LIVEKIT_URL"
KEY_ENV = "LIVEKIT_API_KEY"
SECRET_ENV = "LIVEKIT_API_SECRET"

_TTL_PART = re.compile(r"(\d{1,12})([smhd])")
_TTL = re.compile(r"^(?:\d{1,12}[smhd])+$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_TTL = timedelta(days=30)
MAX_NAME_CHARS = 256


@dataclass(frozen=True)
class LiveKitConfig:
    url: str
    api_key: str
    api_secret: str = field(repr=False)


def livekit_config(url: str | None = None, api_key: str | None = None, api_secret: str | None = None,
                   env: Mapping[str, str] | None = None, need_url: bool = True) -> LiveKitConfig:
    """Flags first, then LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET (a token needs no URL)."""
    env = os.environ if env is None else env
    values = {URL_ENV: url or env.get(URL_ENV, ""),
              KEY_ENV: api_key or env.get(KEY_ENV, ""),
              SECRET_ENV: api_secret or env.get(SECRET_ENV, "")}
    missing = [name for name, value in values.items() if not value.strip() and (need_url or name != URL_ENV)]
    if missing:
        raise SettingsError(
            f"missing {', '.join(missing)}: set {'them' if len(missing) > 1 else 'it'} in the environment"
            f"{' or pass --url / --api-key / --api-secret' if need_url else ''} (the key/secret pair is in the "
            "`keys:` section of livekit.yaml, made by `livekit-server generate-keys`; a local "
            "`livekit-server --dev` is ws://localhost:7880 with key devkey and secret secret)")
    values = {name: value.strip() for name, value in values.items()}
    if need_url and not values[URL_ENV].startswith(("ws://", "wss://", "http://", "https://")):
        raise SettingsError(f"invalid LIVEKIT_URL {values['LIVEKIT_URL']!r}: expected ws://host:port or wss://host")
    return LiveKitConfig(values[URL_ENV], values[KEY_ENV], values[SECRET_ENV])


def parse_ttl(text: str) -> timedelta:
    """`90s`, `30m`, `1h`, `2d` or combinations such as `1h30m` -> timedelta."""
    value = text.strip().lower()
    if not _TTL.match(value):
        raise ValueError(
            f"invalid token lifetime {text!r}: use a number with a unit s, m, h or d, "
            "such as `90s`, `30m`, `1h`, `2d` or `1h30m`")
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _TTL_PART.findall(value))
    if not 0 < seconds <= MAX_TTL.total_seconds():
        raise ValueError(f"invalid token lifetime {text!r}: it must be longer than 0 seconds and at most "
                         f"{MAX_TTL.days}d (create a new token when it runs out)")
    return timedelta(seconds=seconds)


def check_name(value: str, what: str) -> str:
    """Room names, identities and display names end up in logs and UIs: printable text only."""
    if not value.strip():
        raise ValueError(f"{what} must not be empty")
    if len(value) > MAX_NAME_CHARS:
        raise ValueError(f"{what} is {len(value)} characters long: use at most {MAX_NAME_CHARS}")
    if not value.isprintable():
        raise ValueError(f"{what} {value[:40]!r} holds a newline or control character: use printable text")
    return value


def credentials_from_env(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(api key, api secret) from LIVEKIT_API_KEY / LIVEKIT_API_SECRET."""
    config = livekit_config(env=env, need_url=False)
    return config.api_key, config.api_secret


def create_token(
    api_key: str,
    api_secret: str,
    room: str,
    identity: str,
    language: str | None = None,
    ttl: timedelta = timedelta(hours=1),
    can_publish: bool = True,
    name: str | None = None,
) -> str:
    """A signed JWT letting `identity` join `room`; `language` becomes its `language` attribute."""
    # livekit-api silently falls back to the environment for empty credentials; be explicit.
    if not api_key or not api_secret:
        raise SettingsError(f"an API key and secret are required (set {KEY_ENV} and {SECRET_ENV})")
    check_name(room, "room")
    check_name(identity, "identity")
    if name is not None:
        check_name(name, "name")
    if not timedelta(0) < ttl <= MAX_TTL:
        raise ValueError(f"token lifetime must be positive and at most {MAX_TTL.days} days, got {ttl}")

    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_subscribe=True,
        can_publish=can_publish,
        can_publish_data=can_publish,  # a listener only subscribes: no media, no data
    )
    token = (
        api.AccessToken(api_key, api_secret)
        .with_identity(identity)
        .with_grants(grants)
        .with_ttl(ttl)
    )
    if name:
        token = token.with_name(name)
    if language is not None:
        token = token.with_attributes({"language": language_tag(language)})
    return token.to_jwt()
