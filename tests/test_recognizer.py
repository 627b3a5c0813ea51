"""The streaming recognizer on real audio with the packaged models (deterministic mode:
a decode every chunk of audio, no pacing, so results do not depend on machine load)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import soxr

from hive_agent.audio import read_audio
from hive_agent.errors import AudioFormatError
from hive_agent.quality import wer
from hive_agent.stt.drive import committed_text, recognize
from hive_agent.stt.recognizer import RecognizerOptions, StreamingRecognizer

from eval_data import clip


def run(decoder, data, rate, **options) -> list:
    recognizer = StreamingRecognizer(decoder, RecognizerOptions(catch_up=False, **options))
    return asyncio.run(recognize(recognizer, data, rate))


def all_committed(events) -> list:
    return [w for e in events for w in e.committed]


@pytest.fixture(scope="module")
def jfk():
    path, row = clip("fw-jfk")
    data, rate = read_audio(path)
    return data[:, 0], rate, row


@pytest.fixture(scope="module")
def jfk_events(whisper_base, jfk):
    data, rate, _ = jfk
    return run(whisper_base, data, rate)


def test_jfk_committed_text_wer_at_most_10_percent(jfk_events, jfk):
    assert wer(jfk[2]["text"], committed_text(jfk_events)) <= 0.10


def test_words_are_committed_once_in_time_order_and_interim_precedes_commit(jfk_events):
    words = all_committed(jfk_events)
    assert all(a.end <= b.start + 1e-6 for a, b in zip(words, words[1:]))
    assert all(0.0 <= w.start <= w.end <= 11.1 for w in words)
    assert any(e.interim for e in jfk_events), "interim captions are shown before commits"
    assert [e.wall for e in jfk_events] == sorted(e.wall for e in jfk_events)


def test_end_input_commits_every_spoken_word(jfk_events, jfk):
    # The clip ends while the speaker is still talking: nothing may be held back.
    last = jfk_events[-1]
    assert last.end_of_utterance and last.interim == []
    assert committed_text(jfk_events).lower().rstrip(".").endswith("for your country")
    assert all_committed(jfk_events)[-1].end > 10.0


def test_end_of_utterance_flush_commits_before_the_next_speech(jfk_events):
    # JFK pauses after "Americans" (~2.2 s) and speaks again at ~3.3 s: the flush on the VAD's
    # end of speech commits "Americans" before the next words are heard.
    americans = next(w for w in all_committed(jfk_events) if w.text.lower().startswith("american"))
    event = next(e for e in jfk_events if americans in e.committed)
    assert event.end_of_utterance and event.wall < 3.3


def test_german_is_detected_as_german(whisper_base):
    path, _ = clip("fw-mit-de")
    data, rate = read_audio(path)
    events = run(whisper_base, data[: 12 * rate, 0], rate)
    langs = {e.lang for e in events if e.committed}
    assert langs == {"de"}, langs
    assert len(all_committed(events)) > 10


def test_a_likely_language_guess_is_taken_when_two_detections_agree(whisper_base, jfk):
    # fw-jfk's noisy start gives "en" at p=0.20, then p=0.62: never confident on its own before
    # 1.5 s of speech, but two detections in a row agree, so decoding starts one chunk earlier.
    data, rate, _ = jfk
    first_decode = []
    recognizer = StreamingRecognizer(whisper_base, RecognizerOptions(catch_up=False),
                                     on_decode=lambda _s: first_decode.append(recognizer.audio_seconds))
    events = asyncio.run(recognize(recognizer, data[: 3 * rate], rate))
    assert first_decode[0] < 1.3, first_decode[:3]
    assert {e.lang for e in events if e.committed} == {"en"}


def test_language_switch_english_then_german(whisper_base):
    path, _ = clip("fw-multilingual")
    data, rate = read_audio(path)
    # The English half ends at 29.6 s; take its last sentences and the start of the German.
    events = run(whisper_base, data[int(20 * rate): int(42 * rate), 0], rate)
    by_time = [(w.start, e.lang) for e in events for w in e.committed]
    early = {lang for t, lang in by_time if t < 8.5}
    late = {lang for t, lang in by_time if t > 11.0}
    assert early == {"en"} and late == {"de"}, by_time


@pytest.mark.parametrize("kind", ["silence", "white noise"])
def test_silence_and_noise_yield_no_words(whisper_base, kind):
    rate = 16_000
    rng = np.random.default_rng(0)
    data = np.zeros(5 * rate, np.float32) if kind == "silence" \
        else (rng.standard_normal(5 * rate) * 0.1).astype(np.float32)
    events = run(whisper_base, data, rate)
    assert all_committed(events) == [] and all(e.interim == [] for e in events)


def test_48k_stereo_gives_the_same_text_as_16k_mono(whisper_base, jfk):
    # A 48 kHz stereo source (as WebRTC delivers) and the same audio already mixed down and
    # resampled offline to 16 kHz mono must give the same words: the conversion at the
    # boundary, frame by frame, changes nothing the model hears.
    data, rate, _ = jfk
    left = soxr.resample(data, rate, 48_000)
    stereo48 = np.stack([left, left * 0.8], axis=1).astype(np.float32)
    mono16 = soxr.resample(stereo48.mean(axis=1), 48_000, 16_000).astype(np.float32)
    from_stereo = committed_text(run(whisper_base, stereo48, 48_000))
    from_mono = committed_text(run(whisper_base, mono16, 16_000))
    assert from_stereo == from_mono
    assert wer(jfk[2]["text"], from_stereo) <= 0.10


def test_bad_sample_rate_is_a_clear_error(whisper_base):
    async def push() -> None:
        recognizer = StreamingRecognizer(whisper_base, RecognizerOptions())
        with pytest.raises(AudioFormatError, match="sample rate"):
            recognizer.push_frame(np.zeros(100, np.int16), 1234, 1)
        with pytest.raises(AudioFormatError, match="channels"):
            recognizer.push_frame(np.zeros(101, np.int16), 16000, 2)
        await recognizer.aclose()

    asyncio.run(push())
