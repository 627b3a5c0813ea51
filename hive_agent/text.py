"""Small text helpers shared by the stages, and the one parser of language tags."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from .errors import LanguageError

# ISO 639 code with optional BCP 47 subtags: `es`, `ES`, `es-MX`, `es_419`, `zh-Hant-TW`.
_LANGUAGE_TAG = re.compile(r"^([a-z]{2,3})(?:[-_][a-z0-9]{2,8})*$")
_PUNCT = re.compile(r"[^\w\s']|_", re.UNICODE)
SENTENCE_END = (".", "?", "!", "。", "？", "！")
CLAUSE_END = (",", ";", ":", "，", "；", "：")
_APOSTROPHES = {"'", "\u2019", "\u02bc", "`", "\u00b4"}


def normalise(text: str) -> str:
    """Lower-case `text`, drop punctuation and symbols, collapse whitespace.

    Apostrophes vanish ("don't" -> "dont") so contractions stay one token; every other
    punctuation mark or symbol becomes a space ("well-known" -> "well known").
    """
    chars = []
    for ch in unicodedata.normalize("NFKC", text).lower():
        if ch in _APOSTROPHES:
            continue
        category = unicodedata.category(ch)
        chars.append(" " if category[0] in "PSZC" else ch)
    return " ".join("".join(chars).split())


def normalise_word(text: str) -> str:
    """Lower case without punctuation: the form in which two hypotheses' words are compared."""
    return _PUNCT.sub("", text).strip("'").lower()


def ends_sentence(text: str) -> bool:
    return text.rstrip("\"'”)]").endswith(SENTENCE_END)


def ends_clause(text: str) -> bool:
    return text.rstrip("\"'”)]").endswith(CLAUSE_END)


@cache
def whisper_languages() -> frozenset[str]:
    """The codes multilingual Whisper can hear (faster-whisper has no public list)."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return frozenset(_LANGUAGE_CODES)


def parse_language(tag: str, what: str = "language", known_only: bool = True) -> str:
    """`es`, `ES`, `es-MX`, `es_419` -> `es`: the pipeline's bare code of a language tag.

    Raises LanguageError naming `what` (an option or setting) when `tag` is no language tag or,
    with `known_only`, when Whisper does not know the language."""
    match = _LANGUAGE_TAG.match(tag.strip().lower()) if isinstance(tag, str) else None
    if match is None:
        raise LanguageError(f"{what} {tag!r} is not a language code: use one such as en, de or pt-BR")
    code = match.group(1)
    if known_only and code not in whisper_languages():
        raise LanguageError(f"{what} {tag!r} is not a language Whisper knows: use one of "
                            f"{', '.join(sorted(whisper_languages()))}")
    return code
