"""Small text helpers shared by the stages, and the one parser of language tags."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from .errors import LanguageError

# ISO 639 code with an optional BCP 47 script and region: `es`, `ES`, `es-MX`, `es_419`, `zh-Hant-TW`.
_LANGUAGE_TAG = re.compile(r"^([a-z]{2,3})(?:[-_]([a-z]{4}))?(?:[-_]([a-z]{2}|[0-9]{3}))?$")
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


def _parse_tag(tag: str, what: str, known_only: bool) -> tuple[str, str | None, str | None]:
    """(language, script, region) of a tag, lower case; the one place that decides what a tag is.

    Raises LanguageError naming `what` (an option or setting) when `tag` is no language tag or,
    with `known_only`, when Whisper does not know the language."""
    match = _LANGUAGE_TAG.match(tag.strip().lower()) if isinstance(tag, str) else None
    if match is None:
        raise LanguageError(f"{what} {tag!r} is not a language code: use one such as en, de or pt-BR")
    code = match.group(1)
    if known_only and code not in whisper_languages():
        raise LanguageError(f"{what} {tag!r} is not a language Whisper knows: use one of "
                            f"{', '.join(sorted(whisper_languages()))}")
    return code, match.group(2), match.group(3)


def parse_language(tag: str, what: str = "language", known_only: bool = True) -> str:
    """`es`, `ES`, `es-MX`, `es_419` -> `es`: the pipeline's bare code of a language tag."""
    return _parse_tag(tag, what, known_only)[0]


def language_tag(tag: str, what: str = "language", known_only: bool = True) -> str:
    """`PT_br` -> `pt-BR`, `zh_hant_tw` -> `zh-Hant-TW`: the tag in its BCP 47 spelling (what a
    participant's `language` attribute carries)."""
    code, script, region = _parse_tag(tag, what, known_only)
    return "-".join(part for part in (code, script and script.title(), region and region.upper()) if part)


def is_language_code(text: str) -> bool:
    """A bare code as the pipeline names languages (`en`, `yue`), not a tag (`pt-BR`) nor `en+de`."""
    try:
        return parse_language(text, known_only=False) == text
    except LanguageError:
        return False


def parse_language_pair(pair: str, what: str = "language pair", known_source: bool = False) -> tuple[str, str]:
    """`en-es` -> ("en", "es"): a translation pair of two different bare codes, as Marian model
    directories and HIVE_MT_PATHS name them. With `known_source` Whisper must hear the source."""
    source, _, target = pair.strip().lower().partition("-") if isinstance(pair, str) else ("", "", "")
    if not (is_language_code(source) and is_language_code(target)):
        raise LanguageError(f"{what} {pair!r} is not a language pair: use two language codes such as en-es")
    if source == target:
        raise LanguageError(f"{what} {pair!r} names one language twice: use two different codes such as en-es")
    if known_source:
        parse_language(source, f"{what} {pair!r}: the source")
    return source, target
