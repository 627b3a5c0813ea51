"""The last minutes of a speaker's audio at 16 kHz, so a unit's own audio can be cut out again
(Whisper's speech translation works on the speech itself, not on its transcript)."""

from __future__ import annotations

from collections import deque

import numpy as np

from ..audio import SAMPLE_RATE


class AudioHistory:
    """Chunks as they came (no copy per frame); whole chunks older than `keep_s` are dropped."""

    def __init__(self, keep_s: float = 120.0):
        self._keep = int(keep_s * SAMPLE_RATE)
        self._chunks: deque[np.ndarray] = deque()
        self._start = 0  # stream sample index of the first kept sample
        self._length = 0

    def append(self, audio: np.ndarray) -> None:
        if not audio.size:
            return
        self._chunks.append(audio)
        self._length += len(audio)
        while self._length - len(self._chunks[0]) >= self._keep:
            old = self._chunks.popleft()
            self._length -= len(old)
            self._start += len(old)

    def span(self, start_s: float, end_s: float) -> np.ndarray:
        """Audio between two stream times (clipped to what is kept)."""
        first = max(self._start, int(start_s * SAMPLE_RATE))
        last = min(self._start + self._length, int(end_s * SAMPLE_RATE))
        parts, position = [], self._start
        for chunk in self._chunks:
            end = position + len(chunk)
            if end > first and position < last:
                parts.append(chunk[max(0, first - position):last - position])
            position = end
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)
