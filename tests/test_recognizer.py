"""The streaming recognizer on real audio with the packaged models (deterministic mode:
a decode every chunk of audio, no pacing, so results do not depend on machine load)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import soxr

from hive_agent.audio import read_audio
from hive_agent.errors import AudioFormatError
from hive_agent.file_source import feed_and_drain
from hive_agent.bench.quality import wer
from hive_agent.stt.drive import committed_text, recognize
from hive_agent.stt.recognizer import RecognizerOptions, StreamingRecognizer
from hive_agent.text import normalise_word

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
    assert [normalise_word(w.text) for w in all_committed(jfk_events)[-3:]] == ["for", "your", "country"]
    assert all_committed(jfk_events)[-1].end > 10.0


def test_no_word_is_committed_after_the_speech_ends(jfk_events):
    # "country" ends at 10.34 s; what follows is applause, where decoders invent "Great."
    assert max(w.start for w in all_committed(jfk_events)) < 10.34


@pytest.mark.parametrize("attenuation_db", [45, 50])
def test_speech_far_below_an_ordinary_level_keeps_its_wer(whisper_base, jfk, jfk_events, attenuation_db):
    # fw-jfk at -62 / -67 dBFS RMS, as a file, a SIP bridge or a mic with no gain control gives it.
    data, rate, row = jfk
    quiet = run(whisper_base, data * 10 ** (-attenuation_db / 20), rate)
    assert wer(row["text"], committed_text(quiet)) <= wer(row["text"], committed_text(jfk_events)) + 0.05
    assert max(w.start for w in all_committed(quiet)) < 10.34


def test_a_real_recording_at_minus_64_dbfs_is_recognised(whisper_base):
    path, row = clip("fleurs-en-003")
    data, rate = read_audio(path)
    assert wer(row["text"], committed_text(run(whisper_base, data[:, 0], rate))) <= 0.2


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


def test_named_spoken_languages_keep_a_voice_whisper_mistakes_in_its_language(whisper_base):
    # Whisper base takes syn-28-de's synthetic German voice for Latvian (p 0.72 on the whole clip)
    # and, after English, the utterance stayed English. Among en and de it is German.
    english, rate = read_audio(clip("syn-21-en")[0])
    german_path, german_row = clip("syn-28-de")  # "Machen wir eine kurze Pause."
    german, _ = read_audio(german_path)
    pause = np.zeros((rate, 1), np.float32)
    events = run(whisper_base, np.concatenate([english, pause, german])[:, 0], rate,
                 spoken_languages=("en", "de"))
    german_start = (len(english) + len(pause)) / rate
    by_time = [(w.start >= german_start, e.lang, w.text) for e in events for w in e.committed]
    assert {lang for late, lang, _ in by_time if not late} == {"en"}, by_time
    assert {lang for late, lang, _ in by_time if late} == {"de"}, by_time
    # Whisper base hears this voice poorly even told it is German ("Machen die Einakortspauze."):
    # the words must be German ones, not an English translation.
    assert [t for late, _, t in by_time if late][0] == german_row["text"].split()[0], by_time


def non_speech(kind: str, rate: int = 16_000, seconds: float = 6.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(0)
    notes = np.repeat([262, 294, 330, 349, 392, 440, 494, 523, 494, 440, 392, 349], rate // 2)[:len(t)]
    signal = {
        "silence": np.zeros_like(t),
        "white noise": rng.standard_normal(len(t)) * 0.1,
        "quiet noise": rng.standard_normal(len(t)) * 10 ** (-65 / 20),  # the gain must not wake it
        "tone": 0.3 * np.sin(2 * np.pi * 440 * t),
        "quiet tone": 3e-4 * np.sin(2 * np.pi * 440 * t),
        "chord": sum(0.1 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)),
        "melody": 0.3 * np.sin(2 * np.pi * notes * t),
        "sweep": 0.3 * np.sin(2 * np.pi * (100 * t + 3900 / (2 * seconds) * t ** 2)),
        "clipped square": np.clip(3 * np.sin(2 * np.pi * 200 * t), -1, 1),
    }[kind]
    fade = np.minimum(1.0, np.minimum(t, seconds - t) * 4)
    return (signal * fade).astype(np.float32)


@pytest.mark.parametrize("kind", ["silence", "white noise", "quiet noise", "tone", "quiet tone", "chord",
                                  "melody", "sweep", "clipped square"])
def test_non_speech_yields_no_words(whisper_base, kind):
    events = run(whisper_base, non_speech(kind), 16_000)
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


def test_push_after_end_input_is_an_error(whisper_base):
    async def push_late() -> None:
        async with StreamingRecognizer(whisper_base, RecognizerOptions()) as recognizer:
            recognizer.push_frame(np.zeros(320, np.int16), 16_000)
            recognizer.end_input()
            with pytest.raises(RuntimeError, match="end_input"):
                recognizer.push_frame(np.zeros(320, np.int16), 16_000)
            assert [e async for e in recognizer] == []

    asyncio.run(push_late())


class FailingDecoder:
    def detect_language(self, audio, candidates=()):
        return "en", 1.0

    def decode(self, audio, **kw):
        raise RuntimeError("decoder on fire")


def test_a_failing_decode_ends_iteration_with_its_error(jfk):
    data, rate, _ = jfk
    errors = []
    recognizer = StreamingRecognizer(FailingDecoder(), RecognizerOptions(catch_up=False),
                                     on_error=lambda: errors.append(1))
    with pytest.raises(RuntimeError, match="decoder on fire"):
        asyncio.run(recognize(recognizer, data[: 3 * rate], rate))
    assert errors == [1]


def test_a_stream_that_fails_while_fed_ends_the_feed_with_its_error(jfk):
    # A feeder that paces itself by what the recognizer has heard, as bench-long's does, must
    # not wait forever for a recognizer that has failed.
    data, rate, _ = jfk
    recognizer = StreamingRecognizer(FailingDecoder(), RecognizerOptions(catch_up=False))

    async def paced_feed() -> float:
        fed_s = 0.0
        for offset in range(0, len(data), 320):
            recognizer.push_frame(data[offset:offset + 320], rate)
            fed_s += 320 / rate
            while fed_s - recognizer.audio_seconds > 1.0:
                await asyncio.sleep(0.01)
        return fed_s

    with pytest.raises(RuntimeError, match="decoder on fire"):
        asyncio.run(asyncio.wait_for(feed_and_drain(recognizer, paced_feed(), lambda event: None), 60))
