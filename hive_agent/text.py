"""Small text helpers shared by the stages."""

from __future__ import annotations

import re

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
