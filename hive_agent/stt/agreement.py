"""LocalAgreement-2 (Machacek et al., 2023): a word is committed once two consecutive
hypotheses agree on it and on everything before it. Pure logic, no model.

The recognizer forces the committed words as the decoder prefix, so every hypothesis given
here is only the tail after what is already committed.
"""

from __future__ import annotations

from ..events import Word
from ..text import normalise_word


class LocalAgreement:
    def __init__(self) -> None:
        self._previous: list[Word] = []

    @property
    def pending(self) -> list[Word]:
        """The uncommitted tail of the latest hypothesis."""
        return list(self._previous)

    def update(self, hypothesis: list[Word]) -> list[Word]:
        """Take the next hypothesis of the tail; return the words it commits."""
        agreed = 0
        for old, new in zip(self._previous, hypothesis):
            if normalise_word(old.text) != normalise_word(new.text):
                break
            agreed += 1
        self._previous = list(hypothesis[agreed:])
        return list(hypothesis[:agreed])  # the newer spelling and times win

    def flush(self) -> list[Word]:
        """Commit the whole pending tail (end of utterance or end of input)."""
        committed, self._previous = self._previous, []
        return committed
