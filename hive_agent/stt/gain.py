"""Automatic gain before the VAD and Whisper: quiet speech is brought to an ordinary level.

Files, SIP bridges and many hardware inputs apply no gain control, and speech can arrive at
-65 dBFS. There Silero's speech probability stays under its threshold once its state has seen
louder audio, and Whisper hears next to nothing. The gain follows the level of the loud parts
(instant attack; a release of RELEASE_DB_PER_S while the signal is quieter, held in pauses so
that they do not pump the noise up). The gain is bounded: never an attenuation, at most
MAX_BOOST_DB, and never so much that the stream's own noise floor rises above NOISE_CEILING_DBFS.
The estimate starts from an ordinary level, so a faint lead-in is not lifted before the speech
shows how loud it is (lifting it changed which words Whisper heard in loud clips); only signal
standing out of the noise moves it, and digital silence (below SILENCE_DBFS) moves nothing.
"""

from __future__ import annotations

from collections import deque

import numpy as np

# Speech whose loud parts reach TARGET_DBFS passes unchanged (Whisper and Silero do well from
# there); quieter speech is lifted to it.
TARGET_DBFS = -30.0
MAX_BOOST_DB = 50.0
RELEASE_DB_PER_S = 20.0  # how fast the speech level estimate falls when the audio gets quieter
NOISE_RISE_DB_PER_S = 1.0  # how fast the noise floor estimate may rise (it falls at once)
NOISE_CEILING_DBFS = -55.0  # the boosted noise floor stays below this
SILENCE_DBFS = -95.0  # quieter blocks are digital silence: no boost, no estimate moves
TOO_QUIET_DBFS = -40.0  # signal whose loudest part stays below this even after the gain is reported
SIGNAL_OVER_NOISE_DB = 10.0  # a block this far above the noise floor is signal, not noise
PEAK_WINDOW_S = 10.0  # the window in which "the loudest part" is looked for


def level_dbfs(block: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(block, dtype=np.float64)))) if block.size else 0.0
    return 20.0 * np.log10(rms) if rms > 0.0 else -np.inf


class AutomaticGain:
    """Per-stream gain, applied block by block (a deterministic function of the audio so far)."""

    def __init__(self, sample_rate: int) -> None:
        self._rate = sample_rate
        self._speech: float | None = None  # level of the loud parts, dBFS
        self._noise: float | None = None  # the stream's noise floor, dBFS
        self._gain_db = 0.0
        self._recent: deque[float] = deque()  # block levels of the last PEAK_WINDOW_S
        self._recent_s = 0.0

    @property
    def gain_db(self) -> float:
        return self._gain_db

    @property
    def too_quiet(self) -> bool:
        """There is signal above the noise floor in the last PEAK_WINDOW_S, but even its loudest
        block stays under TOO_QUIET_DBFS after the gain."""
        if self._noise is None or not self._recent:
            return False
        peak = max(self._recent)
        return peak - self._noise >= SIGNAL_OVER_NOISE_DB and peak + self._gain_db < TOO_QUIET_DBFS

    def apply(self, block: np.ndarray) -> np.ndarray:
        level = level_dbfs(block)
        dt = len(block) / self._rate
        self._remember(level, dt)
        if level > SILENCE_DBFS:
            self._track(level, dt)
        target = self._target_gain()
        # A rising gain ramps across the block, so it makes no click; a falling one (louder audio
        # came) applies at once, so the onset of speech after a pause is not over-lifted.
        start = min(self._gain_db, target)
        ramp = np.linspace(start, target, num=len(block), endpoint=True, dtype=np.float32)
        self._gain_db = target
        if target == 0.0 and not np.any(ramp):
            return np.clip(block, -1.0, 1.0)
        return np.clip(block * np.power(10.0, ramp / 20.0, dtype=np.float32), -1.0, 1.0)

    def _remember(self, level: float, dt: float) -> None:
        self._recent.append(level)
        self._recent_s += dt
        if self._recent_s > PEAK_WINDOW_S:
            self._recent.popleft()
            self._recent_s -= dt  # blocks are all of one length

    def _track(self, level: float, dt: float) -> None:
        if self._noise is None or level <= self._noise:
            self._noise = level
        else:
            self._noise = min(level, self._noise + NOISE_RISE_DB_PER_S * dt)
        if level - self._noise < SIGNAL_OVER_NOISE_DB:
            return  # a pause: hold the speech level
        if self._speech is None:
            self._speech = max(level, TARGET_DBFS)  # assume an ordinary level until shown otherwise
        elif level >= self._speech:
            self._speech = level
        else:
            self._speech = max(level, self._speech - RELEASE_DB_PER_S * dt)

    def _target_gain(self) -> float:
        if self._speech is None:
            return 0.0
        gain = min(TARGET_DBFS - self._speech, MAX_BOOST_DB)
        if self._noise is not None:
            gain = min(gain, NOISE_CEILING_DBFS - self._noise)
        return max(0.0, gain)
