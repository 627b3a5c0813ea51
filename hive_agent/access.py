"""LiveKit access tokens for people joining a HIVE room (core of `python -m hive_agent token`).

A listener's `language` participant attribute tells the agent which translation to publish for
them (the livekit-agents translation convention), so it is set in the token itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta

from livekit import api

from .errors import SettingsError

KEY_ENV = "LIVEKIT_API_KEY"
SECRET_ENV = "LIVEKIT_API_SECRET"

# ISO 639 language (2-3 letters) with an optional region: `es`, `pt-BR`, `es-419`.
_LANGUAGE = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{2}|[0-9]{3}))?$")
_TTL_PART = re.compile(r"(\d+)([smhd])")
_TTL = re.compile(r"^(?:\d+[smhd])+$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def normalize_language(code: str) -> str:
    """`PT_br` -> `pt-BR`; raises ValueError naming the bad code."""
    match = _LANGUAGE.match(code.strip())
    if not match:
        raise ValueError(
            f"invalid language code {code!r}: use a 2-3 letter code with an optional region, "
            "such as `es`, `de` or `pt-BR`")
    language, region = match.groups()
    return language.lower() if region is None else f"{language.lower()}-{region.upper()}"


def parse_ttl(text: str) -> timedelta:
    """`90s`, `30m`, `1h`, `2d` or combinations such as `1h30m` -> timedelta."""
    value = text.strip().lower()
    if not _TTL.match(value):
        raise ValueError(
            f"invalid token lifetime {text!r}: use a number with a unit s, m, h or d, "
            "such as `90s`, `30m`, `1h`, `2d` or `1h30m`")
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _TTL_PART.findall(value))
    if seconds == 0:
        raise ValueError(f"invalid token lifetime {text!r}: it must be longer than 0 seconds")
    return timedelta(seconds=seconds)


def credentials_from_env(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(api key, api secret) from LIVEKIT_API_KEY / LIVEKIT_API_SECRET."""
    env = os.environ if env is None else env
    key = env.get(KEY_ENV, "").strip()
    secret = env.get(SECRET_ENV, "").strip()
    missing = [name for name, value in ((KEY_ENV, key), (SECRET_ENV, secret)) if not value]
    if missing:
        raise SettingsError(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: export the "
            f"key/secret pair from the `keys:` section of livekit.yaml (create one with "
            f"`livekit-server generate-keys`)")
    return key, secret


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
    if not room.strip():
        raise ValueError("room must be a non-empty room name")
    if not identity.strip():
        raise ValueError("identity must be a non-empty participant identity")
    if ttl <= timedelta(0):
        raise ValueError(f"token lifetime must be positive, got {ttl}")

    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_subscribe=True,
        can_publish=can_publish,
        can_publish_data=True,
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
        token = token.with_attributes({"language": normalize_language(language)})
    return token.to_jwt()
