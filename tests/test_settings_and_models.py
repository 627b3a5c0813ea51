"""Settings validation, model resolution and the clear errors a user gets."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hive_agent.errors import ModelError, SettingsError
from hive_agent.models import WHISPER_BASE_SHA256, WHISPER_BASE_SIZE, resolve_whisper, whisper_base_dir
from hive_agent.settings import HiveSettings, load_settings
from hive_agent.stt.recognizer import RecognizerOptions
from hive_agent.stt.whisper_decoder import WhisperDecoder
from eval_data import REPO


@pytest.mark.parametrize("env, value, fragment", [
    ("HIVE_CHUNK_S", "abc", "valid number"),
    ("HIVE_DEVICE", "tpu", "auto"),
    ("HIVE_LANGUAGE", "english", "language code"),
    ("HIVE_LANGUAGE", "zz", "not a language Whisper knows"),
    ("HIVE_COMPUTE_TYPE", "int3", "int8"),
    ("HIVE_VAD_THRESHOLD", "1.5", "less than or equal to 0.95"),
    ("HIVE_TRIM_S", "20", "max_buffer_s"),
    ("HIVE_MT_PATHS", '{"en_es": "/tmp"}', "language pairs"),
    ("HIVE_MT_PATHS", '{"en-es": "/nonexistent/opus-mt-en-es"}', "does not exist"),
    ("HIVE_MT_PATHS", '{"zz-en": "/tmp"}', "language pairs"),
    ("HIVE_MT_PATHS", "not json", "cannot parse"),
    ("HIVE_MAX_TOKENS_PER_S", "1000", "less than or equal to 30"),
])
@pytest.mark.nomodels
def test_invalid_setting_names_the_variable(monkeypatch, env, value, fragment):
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    message = str(err.value)
    assert fragment in message and ("HIVE_" in message)
    if env != "HIVE_TRIM_S":
        assert env in message


@pytest.mark.nomodels
def test_settings_come_from_env_and_dotenv(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("HIVE_CHUNK_S=0.5\nHIVE_LANGUAGE=DE\n")
    settings = load_settings()
    assert settings.chunk_s == 0.5 and settings.language == "de"
    monkeypatch.setenv("HIVE_CHUNK_S", "0.3")
    assert load_settings().chunk_s == 0.3


@pytest.mark.nomodels
def test_readme_documents_every_setting():
    readme = (REPO / "README.md").read_text()
    documented = set(re.findall(r"`(HIVE_[A-Z_]+)`", readme))
    expected = {f"HIVE_{name.upper()}" for name in HiveSettings.model_fields}
    assert expected <= documented, expected - documented


@pytest.mark.nomodels
def test_missing_whisper_directory_names_path_and_fix(tmp_path):
    missing = tmp_path / "whisper-small"
    with pytest.raises(ModelError) as err:
        resolve_whisper(str(missing), tmp_path)
    assert str(missing) in str(err.value) and "ct2-transformers-converter" in str(err.value)


@pytest.mark.nomodels
def test_incomplete_whisper_directory_names_the_missing_file(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"\0" * 10)
    with pytest.raises(ModelError, match="config.json"):
        resolve_whisper(str(tmp_path), tmp_path)


def test_corrupt_whisper_model_gives_model_error(tmp_path, settings):
    base = whisper_base_dir(settings.resolved_models_dir())
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (tmp_path / name).write_bytes((base / name).read_bytes())
    (tmp_path / "model.bin").write_bytes(b"not a model" * 100)
    with pytest.raises(ModelError) as err:
        WhisperDecoder(str(resolve_whisper(str(tmp_path), tmp_path)), "cpu", "int8", 1)
    assert str(tmp_path) in str(err.value) and "fix:" in str(err.value)


@pytest.mark.nomodels
def test_whisper_base_is_joined_once_safely_by_concurrent_processes(tmp_path):
    code = ("import sys; from pathlib import Path; from hive_agent.models import whisper_base_dir; "
            "print(whisper_base_dir(Path(sys.argv[1])))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outputs[0] == outputs[1]
    model = Path(outputs[0]) / "model.bin"
    assert model.stat().st_size == WHISPER_BASE_SIZE
    assert (Path(outputs[0]) / "model.bin.verified").read_text().startswith(WHISPER_BASE_SHA256)
    assert not list(Path(outputs[0]).glob("model.bin.partial-*"))


@pytest.mark.nomodels
def test_a_damaged_joined_model_is_joined_again(tmp_path):
    target = whisper_base_dir(tmp_path)
    with (target / "model.bin").open("r+b") as fh:
        fh.truncate(1000)
    assert whisper_base_dir(tmp_path) == target
    assert (target / "model.bin").stat().st_size == WHISPER_BASE_SIZE


@pytest.mark.nomodels
def test_cli_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "hive_agent", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for command in ("demo", "translate", "transcribe", "start", "dev", "connect", "token", "models", "bench"):
        assert command in out


@pytest.mark.nomodels
def test_cli_reports_bad_settings_without_traceback():
    result = subprocess.run([sys.executable, "-m", "hive_agent", "models", "check"], capture_output=True,
                            text=True, env={"PATH": "/usr/bin:/bin", "HIVE_DEVICE": "tpu"})
    assert result.returncode == 2
    assert "HIVE_DEVICE" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.nomodels
def test_spoken_languages_are_parsed_and_an_unknown_one_is_refused(monkeypatch):
    monkeypatch.setenv("HIVE_SPOKEN_LANGUAGES", " EN, de-DE,en ")
    settings = load_settings()
    assert settings.spoken_language_codes == ("en", "de")
    assert RecognizerOptions.from_settings(settings).spoken_languages == ("en", "de")
    monkeypatch.setenv("HIVE_SPOKEN_LANGUAGES", "en,zz")
    with pytest.raises(SettingsError, match="HIVE_SPOKEN_LANGUAGES.*zz"):
        load_settings()
