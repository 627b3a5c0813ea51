"""Silero VAD (the model livekit-plugins-silero ships) as a per-speaker speech/silence tracker."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from livekit.plugins.silero import onnx_model

from ..audio import SAMPLE_RATE
from ..models import silero_vad_path

WINDOW = 512  # samples per Silero step at 16 kHz (32 ms)


@lru_cache(maxsize=1)
def _shared_session():
    # One ONNX session for all speakers; each speaker keeps its own recurrent state.
    return onnx_model.new_inference_session(force_cpu=True, onnx_file_path=silero_vad_path())


@dataclass(frozen=True)
class VadOptions:
    threshold: float = 0.5
    min_silence_s: float = 0.4
    min_speech_s: float = 0.1


class SpeechDetector:
    """Feeds 16 kHz audio through Silero and reports where speech starts and ends.

    `push` returns the transitions found, as (kind, stream_time) with kind "start"/"end".
    The end of speech is reported after `min_silence_s` of silence, stamped at the silence start.
    """

    def __init__(self, options: VadOptions):
        self.options = options
        self._model = onnx_model.OnnxModel(onnx_session=_shared_session(), sample_rate=SAMPLE_RATE)
        self._pending = np.zeros(0, dtype=np.float32)
        self._samples_seen = 0
        self.speaking = False
        self._run_start: float | None = None  # start of the current run of the opposite state

    def push(self, audio: np.ndarray) -> list[tuple[str, float]]:
        events: list[tuple[str, float]] = []
        self._pending = np.concatenate([self._pending, audio])
        full = len(self._pending) // WINDOW * WINDOW
        for offset in range(0, full, WINDOW):
            prob = self._model(self._pending[offset:offset + WINDOW])
            t = (self._samples_seen + offset) / SAMPLE_RATE
            t_end = t + WINDOW / SAMPLE_RATE
            # Hysteresis as in Silero's reference code: leave speech only below threshold - 0.15.
            is_speech = prob >= self.options.threshold if not self.speaking \
                else prob >= self.options.threshold - 0.15
            if is_speech == self.speaking:
                self._run_start = None
                continue
            if self._run_start is None:
                self._run_start = t
            needed = self.options.min_silence_s if self.speaking else self.options.min_speech_s
            if t_end - self._run_start >= needed:
                self.speaking = is_speech
                events.append(("start" if is_speech else "end", self._run_start))
                self._run_start = None
        self._samples_seen += full
        self._pending = self._pending[full:]
        return events
