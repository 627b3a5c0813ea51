"""What a speaker's pipeline yields to whoever publishes it (a room, a file, a test).

Captions come as the event-log events themselves (`WordsEvent` for the source language,
`TranslationEvent` for each target language); translated speech comes as `SpeechAudio`
chunks, 48 kHz mono int16, in unit order per language, each unit's chunks contiguous.
`SpeechEvent`s mark the first and last chunk of a unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..audio import SPEECH_SAMPLE_RATE
from ..events import SpeechEvent, TranslationEvent, WordsEvent


@dataclass(slots=True)
class SpeechAudio:
    unit: str
    lang: str
    samples: np.ndarray  # int16 mono at SPEECH_SAMPLE_RATE
    last: bool  # the unit's final chunk

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SPEECH_SAMPLE_RATE


Output = WordsEvent | TranslationEvent | SpeechEvent | SpeechAudio
