"""Silero VAD as the recognizer uses it, on real speech."""

from __future__ import annotations

import numpy as np
import pytest

from hive_agent.audio import read_audio
from hive_agent.stt.vad import SpeechDetector, VadOptions

from eval_data import clip


def samples(clip_id: str) -> np.ndarray:
    return read_audio(clip(clip_id)[0])[0][:, 0]


def transitions(audio: np.ndarray, options: VadOptions = VadOptions()) -> list[tuple[str, float]]:
    detector = SpeechDetector(options)
    events = []
    for i in range(0, len(audio), 320):
        events += detector.push(audio[i:i + 320])
    return events


@pytest.mark.parametrize("threshold", [0.1, 0.15, 0.5])
def test_utterances_end_at_any_threshold(threshold):
    # JFK pauses after "Americans" (2.2 s) and after "not" (4.4 s). With the hysteresis of
    # 0.15 and no floor, a threshold of 0.15 or less never ended an utterance.
    ends = [t for kind, t in transitions(samples("fw-jfk"), VadOptions(threshold=threshold)) if kind == "end"]
    assert any(2.0 < t < 2.7 for t in ends) and any(4.2 < t < 4.7 for t in ends), ends


def test_quiet_speech_after_loud_speech_is_heard():
    # A -67 dBFS recording after fw-jfk and 1.5 s of silence: Silero's state from the loud
    # audio kept it under the threshold for the whole clip until the state was reset.
    loud, quiet = samples("fw-jfk"), samples("fleurs-en-004")
    stream = np.concatenate([loud, np.zeros(24_000, np.float32), quiet])
    quiet_start = (len(loud) + 24_000) / 16_000
    starts = [t for kind, t in transitions(stream) if kind == "start" and t > quiet_start]
    assert starts and starts[0] < quiet_start + 1.0, starts


def test_speech_probability_remembers_recent_windows():
    detector = SpeechDetector(VadOptions())
    audio = samples("fw-jfk")
    detector.push(audio)
    assert detector.speech_probability(5.5, 6.0) > 0.9  # "What your country"
    assert detector.speech_probability(10.7, 10.85) < 0.35  # the applause after the last word
    assert detector.speech_probability(20.0, 21.0) == 0.0  # not heard yet
