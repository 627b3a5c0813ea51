"""Whisper's own speech translation into English (`task="translate"`), used as a unit translator:
one decode of the unit's audio, in the language the recognizer heard, with the previous English
as prompt. It needs no MT model, so it is the route to English that works everywhere.

The unit's audio is encoded once: when the recognizer's last decode of an utterance covered just
this unit (from after the previous unit to the unit's end), its encoder output is decoded again
with the translate task instead of encoding the audio a second time."""

from __future__ import annotations

import asyncio
from collections import deque

import numpy as np

from ..stt.hypothesis import clean_text
from ..stt.whisper_decoder import EncodedAudio, WhisperDecoder

MARGIN_S = 0.2  # audio kept around the unit's words: alignment times are not exact
MAX_LEAD_S = 1.0  # an encoding may start this much before the unit's first word (the VAD's pad) ...
MAX_TAIL_S = 1.0  # ... and end this much after its last (the speech end's margin)
TIME_SLACK_S = 0.05  # word times from alignment are this far from the audio's


class RecentEncodings:
    """The encodings of a speaker's last few utterance-final decodes, by the stream times they cover."""

    def __init__(self, keep: int = 4):
        self._spans: deque[tuple[float, float, EncodedAudio]] = deque(maxlen=keep)

    def add(self, start: float, end: float, encoded: EncodedAudio) -> None:
        self._spans.append((start, end, encoded))

    def covering(self, start: float, end: float, after: float) -> EncodedAudio | None:
        """An encoding of the words from `start` to `end` and of no word before `after` (where
        the previous unit ended) or far past `end`."""
        # `add` runs in the recognizer's decode thread: iterate a snapshot (list() copies the
        # deque in one step under the GIL), not the deque it may append to meanwhile.
        for span_start, span_end, encoded in reversed(list(self._spans)):
            if max(after, start - MAX_LEAD_S) - TIME_SLACK_S <= span_start <= start + TIME_SLACK_S \
                    and end - TIME_SLACK_S <= span_end <= end + MAX_TAIL_S:
                return encoded
        return None


class WhisperSpeechTranslator:
    def __init__(self, decoder: WhisperDecoder, no_speech_threshold: float, compression_threshold: float,
                 max_tokens_per_s: float = 8.0):
        self.decoder = decoder
        self.no_speech_threshold = no_speech_threshold
        self.compression_threshold = compression_threshold
        self.max_tokens_per_s = max_tokens_per_s

    async def translate(self, audio: np.ndarray | EncodedAudio, source_lang: str,
                        previous_english: str = "") -> str:
        """The English of `audio` (16 kHz mono float32, or its encoding)."""
        text = await asyncio.to_thread(self._decode, audio, source_lang, previous_english)
        if not text and previous_english:
            # The prompt can pull a short unit into repeating it; once more without it.
            text = await asyncio.to_thread(self._decode, audio, source_lang, "")
        return text

    def _decode(self, audio: np.ndarray | EncodedAudio, source_lang: str, prompt: str) -> str:
        result = self.decoder.decode(audio, language=source_lang, task="translate", prompt=prompt,
                                     max_tokens_per_s=self.max_tokens_per_s, word_times=False)
        return clean_text(result, self.no_speech_threshold, self.compression_threshold)
