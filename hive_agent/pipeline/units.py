"""Cut committed words into translation units.

A unit ends at a sentence end, at clause punctuation once it has a few words, at the end of an
utterance (the VAD heard the speaker stop), or at a maximum length in words or in seconds, so
that a long sentence is translated while it is still being said. Each unit is translated and
spoken once, as final, and carries `source_end`: the stream time its last source word ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..events import Word, WordsEvent
from ..text import ends_clause, ends_sentence


@dataclass(frozen=True)
class Unit:
    id: str
    text: str
    source_start: float
    source_end: float
    source_lang: str


@dataclass(frozen=True)
class UnitRules:
    min_clause_words: int = 4
    max_words: int = 16
    max_s: float = 5.0  # from the first word's start to the last word's end


class UnitBuilder:
    def __init__(self, rules: UnitRules = UnitRules()):
        self.rules = rules
        self._words: list[Word] = []
        self._lang = ""
        self._count = 0

    def push(self, event: WordsEvent) -> list[Unit]:
        """Take a words event; return the units it completes."""
        units: list[Unit] = []
        if self._words and event.lang != self._lang:
            units += self._cut()
        self._lang = event.lang
        for word in event.committed:
            self._words.append(word)
            n = len(self._words)
            if ends_sentence(word.text) or n >= self.rules.max_words \
                    or word.end - self._words[0].start >= self.rules.max_s \
                    or (ends_clause(word.text) and n >= self.rules.min_clause_words):
                units += self._cut()
        if event.end_of_utterance:
            units += self._cut()
        return units

    def _cut(self) -> list[Unit]:
        if not self._words:
            return []
        self._count += 1
        unit = Unit(f"u{self._count}", " ".join(w.text for w in self._words),
                    self._words[0].start, self._words[-1].end, self._lang)
        self._words = []
        return [unit]
