"""The last minutes of a speaker's audio at 16 kHz, so a unit's own audio can be cut out again
(Whisper's speech translation works on the speech itself, not on its transcript)."""

from __future__ import annotations

import numpy as np

from ..audio import SAMPLE_RATE


class AudioHistory:
    def __init__(self, keep_s: float = 120.0):
        self._keep = int(keep_s * SAMPLE_RATE)
        self._audio = np.zeros(0, dtype=np.float32)
        self._start = 0  # stream sample index of _audio[0]

    def append(self, audio: np.ndarray) -> None:
        self._audio = np.concatenate([self._audio, audio])
        excess = len(self._audio) - self._keep
        if excess > SAMPLE_RATE:  # drop in whole seconds, not on every frame
            self._audio = self._audio[excess:]
            self._start += excess

    def span(self, start_s: float, end_s: float) -> np.ndarray:
        """Audio between two stream times (clipped to what is kept)."""
        first = max(0, int(start_s * SAMPLE_RATE) - self._start)
        last = max(first, int(end_s * SAMPLE_RATE) - self._start)
        return self._audio[first:last]
