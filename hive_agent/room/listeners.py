"""Which target languages a room wants, from the participant attribute `language`.

Rule: every remote participant's `language` attribute is a language they want to hear.
A speaker's pipeline translates into the languages wanted by the *other* participants,
minus the speaker's own declared language (listeners of that language hear the original).
So a speaker who also sets `language` is a listener for everybody else's speech, and their
own speech is only translated into languages somebody else asked for.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from ..errors import LanguageError
from ..text import parse_language as parse_language_tag

LANGUAGE_ATTRIBUTE = "language"

log = logging.getLogger(__name__)
_warned: set[str] = set()  # attributes are read on every room change: warn once per bad value


def parse_language(value: str | None) -> str | None:
    """`es`, `ES`, `es-ES`, `es_MX` -> `es`; empty, `auto`, malformed or unknown -> None (logged):
    one participant's bad attribute must not stop the agent serving the others."""
    if not value or value.strip().lower() == "auto":
        return None
    try:
        return parse_language_tag(value, f"participant attribute `{LANGUAGE_ATTRIBUTE}`")
    except LanguageError as exc:
        if value not in _warned:
            _warned.add(value)
            log.warning("ignoring %s", exc)
        return None


def source_language(attributes: Mapping[str, str]) -> str:
    """The language a speaker speaks: their declared `language`, else `auto` (detect)."""
    return parse_language(attributes.get(LANGUAGE_ATTRIBUTE)) or "auto"


def wanted_languages(participants: Iterable[tuple[str, Mapping[str, str]]], speaker: str,
                     speaker_language: str) -> set[str]:
    """Target languages for `speaker`'s pipeline, given (identity, attributes) of everybody present."""
    wanted = {lang for identity, attributes in participants if identity != speaker
              if (lang := parse_language(attributes.get(LANGUAGE_ATTRIBUTE))) is not None}
    wanted.discard(speaker_language)
    return wanted
