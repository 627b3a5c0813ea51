"""Bad input of every kind ends in one clear line and a non-zero exit, never a traceback or a silent
success: language tags, settings, audio files, an interrupted `translate`. A participant's bad
`language` attribute is logged and ignored while the agent keeps serving the room."""

from __future__ import annotations

import asyncio
import logging
import math
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import fake_livekit as fl
from eval_data import REPO, clip
from hive_agent.audio import AudioConverter, open_audio, read_audio, to_pipeline_rate
from hive_agent.commands.translate import check_routes, parse_targets
from hive_agent.errors import LanguageError, SettingsError
from hive_agent.room.agent import RoomTranslator
from hive_agent.room.listeners import parse_language as parse_attribute
from hive_agent.room.listeners import source_language, wanted_languages
from hive_agent.settings import HiveSettings, load_settings
from hive_agent.text import parse_language

GERMAN_SAMPLE = REPO / "hive_agent" / "samples" / "mit-licence-de.flac"


def hive(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hive_agent", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=env)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def jfk() -> tuple[np.ndarray, int]:
    path, _ = clip("fw-jfk")
    return sf.read(str(path), dtype="float32")


# --- language tags ---------------------------------------------------------------------------------

@pytest.mark.nomodels
@pytest.mark.parametrize("tag, code", [("en", "en"), ("DE", "de"), ("es-MX", "es"), ("pt_BR", "pt"),
                                       ("yue", "yue"), (" zh-Hant-TW ", "zh")])
def test_language_tags_become_whisper_codes(tag, code):
    assert parse_language(tag) == code


@pytest.mark.nomodels
@pytest.mark.parametrize("tag, fragment", [("zz", "not a language Whisper knows"), ("xx-YY", "Whisper knows"),
                                           ("english", "not a language code"), ("e", "not a language code"),
                                           ("en US", "not a language code"), ("", "not a language code")])
def test_unknown_or_malformed_language_tags_are_refused(tag, fragment):
    with pytest.raises(LanguageError, match=fragment) as err:
        parse_language(tag, "--from")
    assert str(err.value).startswith("--from") and "\n" not in str(err.value)
    assert parse_language("xx", known_only=False) == "xx"  # a target may be an MT-only language


@pytest.mark.nomodels
@pytest.mark.parametrize("args", [
    ["transcribe", "FILE", "--language", "zz"],
    ["translate", "FILE", "--from", "zz", "--to", "en"],
    ["translate", "FILE", "--to", "en;es"],
    ["bench", "--from", "zz"],
])
def test_cli_language_options_fail_in_one_line(args):
    path, _ = clip("fw-jfk")
    result = hive(*[str(path) if a == "FILE" else a for a in args], timeout=120)
    option = next(a for a in args if a.startswith("--"))
    assert_one_line_error(result, option)


@pytest.mark.nomodels
def test_hive_language_zz_is_a_settings_error(monkeypatch):
    monkeypatch.setenv("HIVE_LANGUAGE", "zz")
    with pytest.raises(SettingsError, match=r"HIVE_LANGUAGE: language 'zz' is not a language Whisper knows"):
        load_settings()


def test_a_target_without_route_is_refused_before_any_audio(engine):
    check_routes(engine, "de", ["en", "de"])  # Whisper's translation, identity
    check_routes(engine, "auto", ["en", "fr"])  # fr: identity when the speaker speaks French
    with pytest.raises(SettingsError, match=r"--to 'xx' is not a language Whisper knows"):
        check_routes(engine, "auto", ["en", "xx"])
    with pytest.raises(SettingsError, match=r"nothing translates en speech into fr.*opus-mt-en-fr"):
        check_routes(engine, "en", ["fr"])
    assert parse_targets("EN, es-MX,en") == ["en", "es"]
    with pytest.raises(SettingsError, match="--to"):
        parse_targets(" , ")


def test_translate_to_unknown_language_exits_non_zero():
    path, _ = clip("fw-jfk")
    assert_one_line_error(hive("translate", str(path), "--to", "xx", "--captions", "/dev/null"), "--to 'xx'")


@pytest.mark.nomodels
def test_participant_attribute_zz_is_logged_and_ignored(caplog):
    with caplog.at_level(logging.WARNING):
        assert parse_attribute("zz") is None
        assert source_language({"language": "zz"}) == "auto"
        people = [("a", {"language": "zz"}), ("b", {"language": "es-MX"}), ("c", {"language": "x\n"})]
        assert wanted_languages(people, "d", "auto") == {"es"}
    assert "'zz' is not a language Whisper knows" in caplog.text


@pytest.fixture(scope="module")
def engine(settings):
    from hive_agent.pipeline.engine import Engine

    return Engine.load(settings)


async def test_room_keeps_serving_a_speaker_with_a_bad_language_attribute(engine):
    room = fl.FakeRoom()
    lp = room.local_participant
    translator = RoomTranslator(room, engine, rtc_api=fl)
    translator.start()
    room.join("lena", {"language": "en"})
    room.join("xaver", {"language": "xx"})  # asks for nothing HIVE knows: ignored
    zed = room.join("zed", {"language": "zz"})  # speaks English but declares nonsense
    track = room.publish_audio(zed, "microphone")
    samples, rate = sf.read(str(clip("fw-jfk")[0]), dtype="int16")
    await fl.play(track, samples, rate, realtime=False)
    await fl.play(track, np.zeros(rate, dtype=np.int16), rate, realtime=False)
    room.leave(zed)
    deadline = time.monotonic() + 120
    while translator.draining or translator.speakers:
        assert time.monotonic() < deadline, "the speaker's pipeline never drained"
        await asyncio.sleep(0.05)
    text = " ".join(c.text for c in lp.captions() if c.attributes["lk.transcription_final"] == "true").lower()
    assert translator.pipeline_failures == 0
    assert "americans" in text, text
    await translator.aclose()


# --- settings --------------------------------------------------------------------------------------

@pytest.mark.nomodels
def test_unparseable_mt_paths_is_one_line_naming_the_variable():
    path, _ = clip("fw-jfk")
    result = hive("transcribe", str(path), timeout=120,
                  env={"PATH": "/usr/bin:/bin", "HIVE_MT_PATHS": "not json"})
    assert_one_line_error(result, "HIVE_MT_PATHS", "JSON")


@pytest.mark.nomodels
def test_misspelt_setting_is_named_with_the_closest_real_one(monkeypatch, caplog):
    monkeypatch.setenv("HIVE_CHUNKS", "0.1")
    monkeypatch.setenv("HIVE_EVAL_DIR", "/somewhere")  # the tests' own variable is no typo
    with caplog.at_level(logging.WARNING):
        assert load_settings().chunk_s == 0.4
    assert "HIVE_CHUNKS" in caplog.text and "did you mean HIVE_CHUNK_S?" in caplog.text
    assert "HIVE_EVAL_DIR" not in caplog.text


@pytest.mark.nomodels
def test_every_numeric_setting_is_bounded_on_both_sides():
    for name, field in HiveSettings.model_fields.items():
        if field.annotation not in (int, float):
            continue
        kinds = {type(m).__name__ for m in field.metadata}
        assert kinds & {"Ge", "Gt"} and kinds & {"Le", "Lt"}, f"{name} lacks a bound: {kinds}"


@pytest.mark.nomodels
@pytest.mark.parametrize("env, value", [
    ("HIVE_VAD_THRESHOLD", "0.01"), ("HIVE_VAD_THRESHOLD", "0.99"), ("HIVE_MAX_TOKENS_PER_S", "1000"),
    ("HIVE_COMPRESSION_RATIO_THRESHOLD", "100"), ("HIVE_WHISPER_MODEL", ""), ("HIVE_HTTP_PORT", "70000"),
    ("HIVE_CPU_THREADS", "-1"),
])
def test_out_of_range_settings_are_refused(monkeypatch, env, value):
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError, match=env):
        load_settings()


# --- audio files -----------------------------------------------------------------------------------

def wav_cut_short(path: Path, samples: np.ndarray, rate: int) -> Path:
    sf.write(str(path), samples, rate, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: 44 + (len(data) - 44) // 2])  # the header still promises all of it
    return path


def written(path: Path, content: bytes | np.ndarray, rate: int = 16000, subtype: str | None = None) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        sf.write(str(path), content, rate, subtype=subtype)
    return path


BAD_FILES = {
    "missing": (lambda p: p / "nope.wav", "not found"),
    "directory": (lambda p: p, "is a directory"),
    "empty": (lambda p: written(p / "empty.wav", b""), "empty (0 bytes)"),
    "not audio": (lambda p: written(p / "notes.wav", b"hello\n" * 200), "cannot decode"),
    "no samples": (lambda p: written(p / "zero.wav", np.zeros(0, np.float32)), "0 samples"),
    "all NaN": (lambda p: written(p / "nan.wav", np.full(48000, np.nan, np.float32), subtype="FLOAT"),
                "NaN or inf"),
    "4 kHz": (lambda p: written(p / "slow.wav", np.zeros(4000, np.float32), rate=4000), "4000 Hz"),
    "truncated silence": (lambda p: wav_cut_short(p / "cut.wav", np.zeros(48000, np.float32), 16000),
                          "truncated and no speech"),
}


# a silent truncated file is decoded before it fails: that one loads Whisper
@pytest.mark.parametrize("kind", [k if k == "truncated silence" else pytest.param(k, marks=pytest.mark.nomodels)
                                  for k in BAD_FILES])
@pytest.mark.parametrize("command", ["transcribe", "translate"])
def test_bad_audio_files_fail_in_one_line(tmp_path, command, kind):
    make, fragment = BAD_FILES[kind]
    path = make(tmp_path)
    result = hive(command, str(path), *(["--to", "en"] if command == "translate" else []))
    assert_one_line_error(result, fragment)


@pytest.mark.nomodels
def test_non_finite_samples_become_silence_with_one_warning(caplog):
    converter = AudioConverter()
    frame = np.full(320, 0.1, np.float32)
    frame[[3, 7]] = np.nan
    frame[9] = np.inf
    with caplog.at_level(logging.WARNING):
        out = converter.convert(frame, 16000)
        out2 = converter.convert(frame, 48000)
    assert np.isfinite(out).all() and np.isfinite(out2).all() and out[3] == 0.0 and out[0] == np.float32(0.1)
    assert converter.non_finite == 6
    assert caplog.text.count("NaN/inf") == 1 and "3 NaN/inf" in caplog.text


def test_one_nan_does_not_wipe_out_the_utterance(tmp_path):
    samples, rate = jfk()
    samples[rate * 2] = np.nan  # inside "And so, my fellow Americans"
    path = tmp_path / "jfk-nan.wav"
    sf.write(str(path), samples, rate, subtype="FLOAT")
    result = hive("transcribe", str(path))
    assert result.returncode == 0, result.stderr
    assert "1 of" in result.stderr and "NaN or inf" in result.stderr
    assert "fellow Americans" in result.stdout and "country" in result.stdout


def test_truncated_wav_is_read_as_far_as_it_goes(tmp_path):
    samples, rate = jfk()
    path = wav_cut_short(tmp_path / "jfk-cut.wav", samples, rate)
    audio = open_audio(path)
    assert audio.truncated and abs(len(audio.samples) - len(samples) / 2) < rate * 0.01
    assert not open_audio(clip("fw-jfk")[0]).truncated
    result = hive("transcribe", str(path))
    assert result.returncode == 0, result.stderr  # words came out of the part that is there
    assert "truncated" in result.stderr and "fellow Americans" in result.stdout


@pytest.mark.nomodels
@pytest.mark.parametrize("name, rate, channels, subtype, fmt", [
    ("8k.wav", 8000, 1, "PCM_16", "WAV"), ("44k-stereo.wav", 44100, 2, "PCM_16", "WAV"),
    ("96k-24bit.wav", 96000, 1, "PCM_24", "WAV"), ("clip.mp3", 44100, 1, "MPEG_LAYER_III", "MP3"),
    ("clip.ogg", 48000, 2, "VORBIS", "OGG"),
])
def test_supported_formats_still_read_as_the_same_audio(tmp_path, name, rate, channels, subtype, fmt):
    samples, source_rate = jfk()
    reference = samples[: source_rate * 4]
    import soxr

    resampled = soxr.resample(reference, source_rate, rate).astype(np.float32)
    data = np.stack([resampled] * channels, axis=1) if channels > 1 else resampled
    sf.write(str(tmp_path / name), data, rate, subtype=subtype, format=fmt)
    back = to_pipeline_rate(*read_audio(tmp_path / name))
    n = min(len(back), len(reference))
    lag = int(np.argmax(np.correlate(back[:16000], reference[:16000] , "full"))) - 15999  # codec delay
    a, b = (back[lag:n], reference[: n - lag]) if lag >= 0 else (back[: n + lag], reference[-lag:n])
    assert abs(len(back) - len(reference)) < 0.1 * source_rate
    assert np.corrcoef(a, b)[0, 1] > 0.9


def test_unwritable_output_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    path, _ = clip("fw-jfk")
    result = hive("transcribe", str(path), "--events", str(tmp_path / "file" / "events.jsonl"), timeout=120)
    assert_one_line_error(result, str(tmp_path / "file"))


# --- an interrupted translate ----------------------------------------------------------------------

@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_translate_writes_what_it_produced(tmp_path, signum):
    captions, speech = tmp_path / "out.en.vtt", tmp_path / "out.en.wav"
    proc = subprocess.Popen([sys.executable, "-m", "hive_agent", "translate", str(GERMAN_SAMPLE), "--to", "en",
                             "--realtime", "--captions", str(captions), "--audio", str(speech)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as from a shell
    shown: list[str] = []
    two_translations = threading.Event()

    def read_stdout() -> None:
        for line in proc.stdout:
            if "-> [en]" in line:
                shown.append(line.split("-> [en]", 1)[1].strip())
                if len(shown) == 2:
                    two_translations.set()

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    try:
        assert two_translations.wait(timeout=240), "no translation within 240 s"
        proc.send_signal(signum)
        stderr = proc.stderr.read()
        assert proc.wait(timeout=60) == 128 + signum, stderr
    finally:
        proc.kill()
    reader.join(timeout=10)
    assert f"stopped by {signal.Signals(signum).name}" in stderr and "Traceback" not in stderr
    vtt = captions.read_text()
    assert vtt.startswith("WEBVTT")
    for text in shown[:2]:  # every translation shown before the signal is in the file
        assert text in vtt, (text, vtt)
    audio, rate = sf.read(str(speech))
    assert rate == 48000 and len(audio) > rate and math.isfinite(float(np.abs(audio).max()))
