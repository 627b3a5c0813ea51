"""Whisper's own speech translation into English (`task="translate"`), used as a unit translator:
one decode of the unit's audio, in the language the recognizer heard, with the previous English
as prompt. It needs no MT model, so it is the route to English that works everywhere."""

from __future__ import annotations

import asyncio

import numpy as np

from ..audio import SAMPLE_RATE
from ..stt.hypothesis import clean_hypothesis
from ..stt.whisper_decoder import WhisperDecoder

MARGIN_S = 0.2  # audio kept around the unit's words: alignment times are not exact


class WhisperSpeechTranslator:
    def __init__(self, decoder: WhisperDecoder, no_speech_threshold: float, compression_threshold: float,
                 max_tokens_per_s: float = 8.0):
        self.decoder = decoder
        self.no_speech_threshold = no_speech_threshold
        self.compression_threshold = compression_threshold
        self.max_tokens_per_s = max_tokens_per_s

    async def translate(self, audio: np.ndarray, source_lang: str, previous_english: str = "") -> str:
        text = await asyncio.to_thread(self._decode, audio, source_lang, previous_english)
        if not text and previous_english:
            # The prompt can pull a short unit into repeating it; once more without it.
            text = await asyncio.to_thread(self._decode, audio, source_lang, "")
        return text

    def _decode(self, audio: np.ndarray, source_lang: str, prompt: str) -> str:
        result = self.decoder.decode(audio, language=source_lang, task="translate", prompt=prompt,
                                     max_tokens_per_s=self.max_tokens_per_s)
        words = clean_hypothesis(result, len(audio) / SAMPLE_RATE, [], self.no_speech_threshold,
                                 self.compression_threshold)
        return " ".join(w.text for w in words)
