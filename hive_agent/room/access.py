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

from ..errors import LanguageError, SettingsError
from ..text import parse_language

KEY_ENV = "LIVEKIT_API_KEY"
SECRET_ENV = "LIVEKIT_API_SECRET"

# ISO 639 language (2-3 letters) with an optional region: `es`, `pt-BR`, `es-419`.
_LANGUAGE = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{2}|[0-9]{3}))?$")
_TTL_PART = re.compile(r"(\d{1,12})([smhd])")
_TTL = re.compile(r"^(?:\d{1,12}[smhd])+$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_TTL = timedelta(days=30)
MAX_NAME_CHARS = 256


def normalize_language(code: str) -> str:
    """`PT_br` -> `pt-BR`; raises ValueError naming the bad code."""
    match = _LANGUAGE.match(code.strip())
    if not match:
        raise ValueError(
            f"invalid language code {code!r}: use a 2-3 letter code with an optional region, "
            "such as `es`, `de` or `pt-BR`")
    language, region = match.groups()
    try:
        parse_language(language)
    except LanguageError as exc:
        raise ValueError(f"invalid language code {code!r}: {exc}") from None
    return language.lower() if region is None else f"{language.lower()}-{region.upper()}"


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
        token = token.with_attributes({"language": normalize_language(language)})
    return token.to_jwt()
