"""Silero VAD (the model livekit-plugins-silero ships) as a per-speaker speech/silence tracker."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from livekit.plugins.silero import onnx_model

from ..audio import SAMPLE_RATE
from ..models import silero_vad_path

WINDOW = 512  # samples per Silero step at 16 kHz (32 ms)
# Speech ends only below threshold - HYSTERESIS (Silero's reference code), and for a low
# threshold a proportional gap instead: 0.15 below a threshold of 0.15 or less is never
# reached, and an utterance never ended (pauses in fw-jfk score 0.05-0.2).
HYSTERESIS = 0.15
HYSTERESIS_RATIO = 0.3
HISTORY_S = 40.0  # speech probabilities kept for questions about recent audio
RESET_AFTER_S = 1.0  # silence after which the detector starts from a fresh state


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
    After RESET_AFTER_S of silence the model's recurrent state starts afresh: state carried over
    from loud audio kept quiet speech under the threshold (Silero 0.49 in a long stream where a
    fresh detector gave 0.99 on the same clip).
    """

    def __init__(self, options: VadOptions):
        self.options = options
        self._model = onnx_model.OnnxModel(onnx_session=_shared_session(), sample_rate=SAMPLE_RATE)
        self._pending = np.zeros(0, dtype=np.float32)
        self._samples_seen = 0
        self.speaking = False
        self._run_start: float | None = None  # start of the current run of the opposite state
        self._silent_since = 0.0
        self.end_threshold = options.threshold - min(HYSTERESIS, HYSTERESIS_RATIO * options.threshold)
        self._history = np.zeros(int(HISTORY_S * SAMPLE_RATE / WINDOW), dtype=np.float32)
        self._windows = 0  # windows scored so far; window i covers [i, i + 1) * WINDOW samples

    def speech_probability(self, start: float, end: float) -> float:
        """The highest speech probability of the windows overlapping [start, end] (stream
        seconds); 0 for audio not scored yet or no longer remembered."""
        first = int(start * SAMPLE_RATE) // WINDOW
        last = max(first + 1, int(np.ceil(end * SAMPLE_RATE / WINDOW)))
        first, last = max(first, self._windows - len(self._history), 0), min(last, self._windows)
        if last <= first:
            return 0.0
        idx = np.arange(first, last) % len(self._history)
        return float(self._history[idx].max())

    def push(self, audio: np.ndarray) -> list[tuple[str, float]]:
        events: list[tuple[str, float]] = []
        self._pending = np.concatenate([self._pending, audio])
        full = len(self._pending) // WINDOW * WINDOW
        for offset in range(0, full, WINDOW):
            prob = self._model(self._pending[offset:offset + WINDOW])
            self._history[self._windows % len(self._history)] = prob
            self._windows += 1
            t = (self._samples_seen + offset) / SAMPLE_RATE
            t_end = t + WINDOW / SAMPLE_RATE
            is_speech = prob >= (self.end_threshold if self.speaking else self.options.threshold)
            if is_speech or self.speaking:
                self._silent_since = t_end
            elif t_end - self._silent_since >= RESET_AFTER_S:
                self._model.reset()
                self._silent_since = t_end
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
