"""Install one model SPEC into the models directory, where the settings look for it.

Files are fetched into `models/.downloads/<spec>/` (kept when interrupted, so a rerun resumes)
and the finished model is moved into place in one rename: `whisper/<name>/`, `mt/<src>-<tgt>/`,
or `tts/<voice>.onnx` with its `.onnx.json`. A model already in place is skipped.
"""

from __future__ import annotations

import fcntl
import fnmatch
import importlib.util
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from huggingface_hub.errors import RepositoryNotFoundError

from ..errors import HiveError
from .hub import Snapshot, fetch, open_snapshot
from .records import DIR_RECORD, VOICE_RECORD_SUFFIX, read_record, write_record
from .specs import (DEFAULT_VOICES, MARIAN_FILES, MARIAN_REPO, MARIAN_WEIGHTS, VOICE_INDEX, VOICE_REPO,
                    WHISPER_FILES, Spec, whisper_repo)

STAGING = ".downloads"
SPEC_FILE = "SPEC"  # names the spec of an unfinished download in models/.downloads/<spec>/
CONVERT_PACKAGES = ("transformers", "torch")
CONVERT_FIX = "pip install -e '.[convert]'"


def final_path(spec: Spec, models_dir: Path) -> Path:
    """Where a finished Whisper or Marian model lives; voices are files in `models_dir/tts`."""
    return models_dir / ("whisper" if spec.kind == "whisper" else "mt") / spec.name


def require_convert_extra(specs: list[Spec]) -> None:
    """mt: specs need transformers and torch; fail before any download when they are missing."""
    missing = [name for name in CONVERT_PACKAGES if importlib.util.find_spec(name) is None]
    pairs = [str(s) for s in specs if s.kind == "mt"]
    if pairs and missing:
        raise HiveError(f"{', '.join(pairs)} needs the `convert` extra to convert OPUS-MT models "
                        f"({', '.join(missing)} not installed)\n  fix: {CONVERT_FIX}")


def install(spec: Spec, models_dir: Path, endpoint: str) -> Path:
    """Download (and for mt: convert) `spec`; return where it landed."""
    installed = _installed(spec, models_dir)
    if installed is not None:
        print(f"{spec}: already installed in {installed}")
        return installed
    staging = models_dir / STAGING / spec.slug
    try:
        with _locked(staging, spec):
            if spec.kind == "whisper":
                result = _install_whisper(spec, models_dir, endpoint, staging)
            elif spec.kind == "mt":
                result = _install_marian(spec, models_dir, endpoint, staging)
            else:
                result = _install_voice(spec, models_dir, endpoint, staging)
    except BaseException:
        if not any(p.is_file() and p.name not in (SPEC_FILE, ".lock") for p in staging.rglob("*")):
            _remove(staging)  # nothing fetched yet: nothing to resume
        raise
    _remove(staging)
    print(f"{spec}: installed in {result}")
    return result


def _remove(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    if staging.parent.is_dir() and not any(staging.parent.iterdir()):
        staging.parent.rmdir()


def _installed(spec: Spec, models_dir: Path) -> Path | None:
    if spec.kind == "voice":
        for path in sorted((models_dir / "tts").glob(f"*{VOICE_RECORD_SUFFIX}")):
            record = read_record(path)
            if record and record.spec == str(spec) and record.problem(path.parent) is None:
                return path.with_name(path.name.removesuffix(VOICE_RECORD_SUFFIX) + ".onnx")
        return None
    target = final_path(spec, models_dir)
    record = read_record(target / DIR_RECORD)
    return target if record and record.problem(target) is None else None


@contextmanager
def _locked(staging: Path, spec: Spec):
    """The spec's download folder, locked so that two runs do not write the same files."""
    staging.mkdir(parents=True, exist_ok=True)
    (staging / SPEC_FILE).write_text(str(spec))
    with (staging / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _matching(snapshot: Snapshot, patterns: tuple[str, ...]) -> list[str]:
    return sorted(p for p in snapshot.files if any(fnmatch.fnmatch(p, pattern) for pattern in patterns))


def _move_dir_into_place(source: Path, target: Path, spec: Spec, snapshot: Snapshot) -> Path:
    files = sorted(p for p in source.rglob("*") if p.is_file())
    write_record(source / DIR_RECORD, str(spec), snapshot.source, files)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():  # an older or damaged copy: set it aside, then drop it
        old = source.with_name("replaced")
        os.replace(target, old)
        shutil.rmtree(old)
    os.replace(source, target)
    return target


def _install_whisper(spec: Spec, models_dir: Path, endpoint: str, staging: Path) -> Path:
    snapshot = open_snapshot(endpoint, whisper_repo(spec.name))
    fetch(snapshot, _matching(snapshot, WHISPER_FILES), staging / "model")
    return _move_dir_into_place(staging / "model", final_path(spec, models_dir), spec, snapshot)


def _install_marian(spec: Spec, models_dir: Path, endpoint: str, staging: Path) -> Path:
    from ctranslate2.converters import TransformersConverter

    src, tgt = spec.pair
    repo = MARIAN_REPO.format(src=src, tgt=tgt)
    try:
        snapshot = open_snapshot(endpoint, repo)
    except RepositoryNotFoundError:
        via = "" if "en" in (src, tgt) else (
            f"; HIVE does not chain two models through English, so {src} speech reaches {tgt} "
            f"listeners only with a direct pair")
        raise HiveError(f"{spec}: {endpoint} has no {repo}: Helsinki-NLP publishes no direct "
                        f"OPUS-MT model for {src}->{tgt}{via}\n"
                        "  fix: pick a pair listed on the hub under Helsinki-NLP/opus-mt-*") from None
    weights = next((w for w in MARIAN_WEIGHTS if w in snapshot.files), None)
    if weights is None:
        raise HiveError(f"{spec}: {snapshot.source} has neither {' nor '.join(MARIAN_WEIGHTS)}\n"
                        "  fix: use a Helsinki-NLP repository with PyTorch weights")
    fetch(snapshot, _matching(snapshot, MARIAN_FILES) + [weights], staging / "transformers")
    converted = staging / "ctranslate2"
    print(f"{spec}: converting to CTranslate2 int8")
    TransformersConverter(str(staging / "transformers"), copy_files=["source.spm", "target.spm"]) \
        .convert(str(converted), quantization="int8", force=True)
    return _move_dir_into_place(converted, final_path(spec, models_dir), spec, snapshot)


def _install_voice(spec: Spec, models_dir: Path, endpoint: str, staging: Path) -> Path:
    snapshot = open_snapshot(endpoint, VOICE_REPO)
    (staging / VOICE_INDEX).unlink(missing_ok=True)  # the index changes with the repository
    fetch(snapshot, [VOICE_INDEX], staging)
    voices = json.loads((staging / VOICE_INDEX).read_text())
    name = _choose_voice(spec, voices)
    paths = sorted(p for p in voices[name]["files"] if p.endswith((".onnx", ".onnx.json")))
    fetch(snapshot, paths, staging / "voice")
    model, config = staging / "voice" / f"{name}.onnx", staging / "voice" / f"{name}.onnx.json"
    record = staging / "voice" / f"{name}{VOICE_RECORD_SUFFIX}"
    write_record(record, str(spec), snapshot.source, [model, config])
    tts = models_dir / "tts"
    tts.mkdir(parents=True, exist_ok=True)
    # The voice finder looks for *.onnx: its config goes first so that it never sees half a voice.
    for path in (config, record, model):
        os.replace(path, tts / path.name)
    return tts / model.name


def _choose_voice(spec: Spec, voices: dict) -> str:
    if spec.name in voices:
        return spec.name
    candidates = sorted(name for name, voice in voices.items()
                        if voice.get("language", {}).get("family") == spec.name)
    if not candidates:
        what = "no Piper voice named" if "_" in spec.name else "no Piper voice for language"
        raise HiveError(f"{spec}: {VOICE_REPO} has {what} {spec.name!r}\n"
                        "  fix: pick a voice from voices.json in that repository (e.g. voice:es_ES-davefx-medium)")
    if DEFAULT_VOICES.get(spec.name) in candidates:
        return DEFAULT_VOICES[spec.name]
    medium = [name for name in candidates if voices[name].get("quality") == "medium"]
    return (medium or candidates)[0]
