"""Small text helpers shared by the stages."""

from __future__ import annotations

import re

_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
_PUNCT = re.compile(r"[^\w\s']|_", re.UNICODE)
SENTENCE_END = (".", "?", "!", "。", "？", "！")
CLAUSE_END = (",", ";", ":", "，", "；", "：")


def normalise_word(text: str) -> str:
    """Lower case without punctuation: the form in which two hypotheses' words are compared."""
    return _PUNCT.sub("", text).strip("'").lower()


def ends_sentence(text: str) -> bool:
    return text.rstrip("\"'”)]").endswith(SENTENCE_END)


def ends_clause(text: str) -> bool:
    return text.rstrip("\"'”)]").endswith(CLAUSE_END)


def is_language_code(text: str) -> bool:
    """A bare ISO 639 code as the pipeline uses them: `en`, `de`, `yue`."""
    return bool(_LANGUAGE_CODE.match(text))
