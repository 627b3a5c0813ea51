"""The automatic gain before the VAD and Whisper, on real speech and synthetic signals."""

from __future__ import annotations

import numpy as np
import pytest

from hive_agent.audio import read_audio
from hive_agent.stt.gain import MAX_BOOST_DB, NOISE_CEILING_DBFS, TARGET_DBFS, AutomaticGain, level_dbfs

from eval_data import clip

pytestmark = pytest.mark.nomodels
RATE = 16_000
BLOCK = RATE // 50


def through(signal: np.ndarray) -> np.ndarray:
    gain = AutomaticGain(RATE)
    return np.concatenate([gain.apply(signal[i:i + BLOCK]) for i in range(0, len(signal), BLOCK)])


def loud_parts_dbfs(signal: np.ndarray) -> float:
    """The 95th percentile of 20 ms block levels: the level of the loud parts of speech."""
    levels = [level_dbfs(signal[i:i + BLOCK]) for i in range(0, len(signal) - BLOCK, BLOCK)]
    return float(np.percentile([lv for lv in levels if np.isfinite(lv)], 95))


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    data, _ = read_audio(clip("fw-jfk")[0])
    return data[:, 0]


def test_speech_at_an_ordinary_level_passes_unchanged(speech):
    # fw-jfk's speech keeps its level; only breaths in its pauses may be lifted a little.
    out = through(speech)
    assert loud_parts_dbfs(out) == pytest.approx(loud_parts_dbfs(speech), abs=0.5)
    assert np.mean(np.abs(out) > np.abs(speech) * 1.12) < 0.1  # pauses only


@pytest.mark.parametrize("attenuation_db", [30, 45, 50])
def test_quiet_speech_is_lifted_to_an_ordinary_level(speech, attenuation_db):
    quiet = speech * 10 ** (-attenuation_db / 20)
    assert loud_parts_dbfs(quiet) < -35
    assert loud_parts_dbfs(through(quiet)) == pytest.approx(TARGET_DBFS, abs=5)


def test_digital_silence_stays_silent():
    assert not np.any(through(np.zeros(3 * RATE, np.float32)))


def test_stationary_noise_and_tones_are_not_lifted_above_the_noise_ceiling():
    rng = np.random.default_rng(0)
    t = np.arange(5 * RATE) / RATE
    for signal in (rng.standard_normal(5 * RATE) * 10 ** (-70 / 20),
                   0.0005 * np.sin(2 * np.pi * 440 * t)):
        out = through(signal.astype(np.float32))
        assert level_dbfs(out[RATE:]) <= NOISE_CEILING_DBFS + 1.0


def test_clipped_full_scale_input_is_left_alone():
    t = np.arange(2 * RATE) / RATE
    clipped = np.clip(3.0 * np.sin(2 * np.pi * 200 * t), -1, 1).astype(np.float32)
    out = through(clipped)
    assert np.array_equal(out, clipped) and np.abs(out).max() <= 1.0


def test_the_boost_is_bounded_and_a_stream_too_quiet_even_then_is_flagged(speech):
    # Speech 60 dB down in noise at -80 dBFS: the noise ceiling holds the boost at about 25 dB,
    # and the loud parts stay near -45 dBFS.
    gain = AutomaticGain(RATE)
    noise = np.random.default_rng(0).standard_normal(len(speech)) * 10 ** (-80 / 20)
    too_quiet = (speech * 10 ** (-60 / 20) + noise).astype(np.float32)
    for i in range(0, len(too_quiet), BLOCK):
        gain.apply(too_quiet[i:i + BLOCK])
        assert gain.gain_db <= MAX_BOOST_DB
    assert gain.too_quiet
    ordinary = AutomaticGain(RATE)
    for i in range(0, len(speech), BLOCK):
        ordinary.apply(speech[i:i + BLOCK])
    assert not ordinary.too_quiet
