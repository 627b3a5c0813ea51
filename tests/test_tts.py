"""Piper speech with the packaged joe voice: real synthesis, real audio checks, and a round trip
through Whisper base to check that the words are actually spoken."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import jiwer
import numpy as np
import onnxruntime
import pytest
import soxr

from hive_agent.errors import ModelError
from hive_agent.models import resolve_whisper
from hive_agent.tts import PiperSynthesizer, SpeechBank, VoiceFiles, resolve_voices, split_for_speech
from hive_agent.tts.voices import packaged_english_voice

REPO_MODELS = Path(__file__).resolve().parents[1] / "models"
SECONDS_PER_CHAR = 0.07  # typical speaking rate of the joe voice, punctuation included
TWO_SENTENCES = "Good morning everyone. The meeting starts early tomorrow and will run until lunch."
ROUND_TRIP = ("The meeting starts early tomorrow morning. Please bring your notes and a cup of coffee. "
              "We will talk about the new project plan.")


@pytest.fixture(scope="module")
def joe() -> VoiceFiles:
    return packaged_english_voice()


@pytest.fixture(scope="module")
def synth(joe) -> PiperSynthesizer:
    return PiperSynthesizer(joe)


@pytest.fixture(scope="module")
def whisper():
    from faster_whisper import WhisperModel

    return WhisperModel(str(resolve_whisper("base", REPO_MODELS)), device="cpu",
                        compute_type="int8", cpu_threads=2)


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def assert_speech_chunks(chunks: list[np.ndarray], text: str) -> np.ndarray:
    assert chunks, "no audio"
    for chunk in chunks:
        assert chunk.dtype == np.int16 and chunk.ndim == 1 and chunk.size > 0
    audio = np.concatenate(chunks)
    seconds = audio.size / 48_000
    expected = len(text) * SECONDS_PER_CHAR
    assert 0.5 * expected <= seconds <= 2.0 * expected, (seconds, expected)
    assert rms(audio) > 1000, rms(audio)  # full-scale speech, nowhere near silence
    return audio


# --- splitting ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Good morning everyone, and welcome back. The meeting starts at nine. Bye!",
    'He said "Stop." Then he left; nobody followed him, not even the dog.',
    "Well, I think that we should go, honestly, right now",
    "no punctuation at all in this rather long piece of text",
    "  Yes.   No?  Maybe!  ",
])
@pytest.mark.nomodels
def test_split_keeps_every_word_in_order_and_no_empty_piece(text):
    pieces = split_for_speech(text)
    assert " ".join(pieces).split() == text.split()
    assert all(piece.strip() == piece and piece for piece in pieces)


@pytest.mark.nomodels
def test_split_puts_first_clause_first_then_one_piece_per_sentence():
    assert split_for_speech("Good morning everyone, and welcome back. The meeting starts at nine. Bye!") == [
        "Good morning everyone,", "and welcome back.", "The meeting starts at nine.", "Bye!"]


@pytest.mark.nomodels
def test_split_keeps_short_clauses_attached():
    # "Well," alone is too short to be worth speaking on its own; so is a 2-word tail.
    assert split_for_speech("Well, I think that we should go, right now.") == [
        "Well, I think that we should go, right now."]
    assert split_for_speech("Well, I think that we should go, right now please.") == [
        "Well, I think that we should go,", "right now please."]
    assert split_for_speech("Hi, there. Ok") == ["Hi, there.", "Ok"]


@pytest.mark.nomodels
def test_split_of_blank_text_is_empty():
    assert split_for_speech("") == []
    assert split_for_speech("  \n ") == []


# --- synthesis ----------------------------------------------------------------------------


def test_synthesize_gives_48k_int16_speech_first_sentence_first(synth):
    assert synth.sample_rate_out == 48_000
    assert synth.voice_name == "en_US-joe-medium" and synth.language == "en"
    assert split_for_speech(TWO_SENTENCES) == ["Good morning everyone.",
                                               "The meeting starts early tomorrow and will run until lunch."]
    generator = synth.synthesize(TWO_SENTENCES)
    first = next(generator)
    rest = list(generator)
    assert rest, "the second sentence must come as later chunks"
    audio = assert_speech_chunks([first, *rest], TWO_SENTENCES)
    # The first chunk is the short first sentence only: well under half of the whole.
    assert first.size < 0.45 * audio.size, (first.size, audio.size)
    assert first.size / 48_000 > 0.5 * len("Good morning everyone.") * SECONDS_PER_CHAR
    assert rms(first) > 1000


def test_synthesize_blank_text_gives_no_audio(synth):
    assert list(synth.synthesize("   ")) == []


async def test_stream_runs_off_the_event_loop(synth):
    ticks = 0

    async def heartbeat():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.002)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    try:
        chunks = [chunk async for chunk in synth.stream(TWO_SENTENCES)]
    finally:
        beat.cancel()
    audio = assert_speech_chunks(chunks, TWO_SENTENCES)
    assert chunks[0].size < 0.45 * audio.size
    # Synthesis takes tens of milliseconds per piece; a blocked loop would not tick meanwhile.
    assert ticks >= 3, ticks


async def test_stream_stops_cleanly_when_the_consumer_leaves_early(synth):
    stream = synth.stream(ROUND_TRIP)
    first = await anext(stream)
    await stream.aclose()
    assert first.dtype == np.int16 and first.size > 0


def test_round_trip_through_whisper_recovers_the_words(synth, whisper):
    audio = np.concatenate(list(synth.synthesize(ROUND_TRIP)))
    audio16k = soxr.resample(audio.astype(np.float32) / 32768.0, 48_000, 16_000)
    segments, _ = whisper.transcribe(audio16k, language="en", beam_size=5)
    heard = " ".join(segment.text for segment in segments)
    error = jiwer.wer(normalize(ROUND_TRIP), normalize(heard))
    assert error <= 0.15, (error, heard)


def test_use_cuda_reports_the_device_actually_used(joe):
    synth = PiperSynthesizer(joe, use_cuda=True)
    has_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    assert synth.device == ("cuda" if has_cuda else "cpu")
    assert rms(np.concatenate(list(synth.synthesize("Testing the voice.")))) > 1000


# --- voices -------------------------------------------------------------------------------


def copy_voice(joe: VoiceFiles, tts_dir: Path, name: str, language_code: str | None) -> Path:
    tts_dir.mkdir(parents=True, exist_ok=True)
    model = tts_dir / f"{name}.onnx"
    shutil.copyfile(joe.model, model)
    config = json.loads(joe.config.read_text())
    if language_code is None:
        config.pop("language")
    else:
        config["language"]["code"] = language_code
    (tts_dir / f"{name}.onnx.json").write_text(json.dumps(config))
    return model


@pytest.mark.nomodels
def test_resolve_voices_without_user_voices_gives_packaged_english(tmp_path, joe):
    assert resolve_voices(tmp_path) == {"en": joe}
    assert joe.sample_rate == 22_050 and joe.language == "en"


@pytest.mark.nomodels
def test_voice_without_its_json_is_a_model_error_naming_the_file(tmp_path):
    (tmp_path / "tts").mkdir()
    (tmp_path / "tts" / "de_DE-fake-medium.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError) as raised:
        resolve_voices(tmp_path)
    missing = tmp_path / "tts" / "de_DE-fake-medium.onnx.json"
    assert raised.value.path == missing
    assert str(missing) in str(raised.value) and "fix:" in str(raised.value)


@pytest.mark.nomodels
def test_unreadable_voice_json_is_a_model_error(tmp_path):
    (tmp_path / "tts").mkdir()
    (tmp_path / "tts" / "fr_FR-fake-medium.onnx").write_bytes(b"not a model")
    (tmp_path / "tts" / "fr_FR-fake-medium.onnx.json").write_text("{ this is not json")
    with pytest.raises(ModelError) as raised:
        resolve_voices(tmp_path)
    assert raised.value.path == tmp_path / "tts" / "fr_FR-fake-medium.onnx.json"


def test_user_english_voice_wins_and_languages_come_from_json_or_name(tmp_path, joe):
    british = copy_voice(joe, tmp_path / "tts", "en_GB-test-medium", "en_GB")
    spanish = copy_voice(joe, tmp_path / "tts", "es_ES-test-medium", None)  # language from the name
    voices = resolve_voices(tmp_path)
    assert sorted(voices) == ["en", "es"]
    assert voices["en"].model == british and voices["en"].name == "en_GB-test-medium"
    assert voices["es"].model == spanish and voices["es"].language == "es"

    bank = SpeechBank(voices)
    assert bank.get("en_GB").voice_name == "en_GB-test-medium"
    assert bank.get("en") is bank.get("en-US")  # loaded once per voice


def test_speech_bank_has_no_voice_for_unknown_languages(joe):
    bank = SpeechBank({"en": joe})
    assert bank.languages() == ["en"]
    assert bank.get("xx") is None
    assert bank.get("") is None
    bank.load_all()
    assert bank.get("en").language == "en"
