"""Every model in the models directory, with its size, its source and whether it is complete."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from ..models import check_whisper_dir
from ..mt.marian import check_model_dir
from ..tts.voices import read_voice
from .install import SPEC_FILE, STAGING
from .records import DIR_RECORD, VOICE_RECORD_SUFFIX, read_record


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    path: Path
    size: int
    source: str
    problem: str | None  # None: complete

    def line(self) -> str:
        state = "ok" if self.problem is None else f"INCOMPLETE: {self.problem}"
        return f"{self.kind:<8} {self.name:<22} {self.size / 1e6:>9.1f} MB  {self.source}  {self.path}  {state}"


def inventory(models_dir: Path) -> list[Entry]:
    return (_directories(models_dir / "whisper", "whisper", check_whisper_dir)
            + _directories(models_dir / "mt", "mt", lambda path: check_model_dir(path, fix=""))
            + _voices(models_dir / "tts") + _unfinished(models_dir / STAGING))


def _size(paths) -> int:
    return sum(p.stat().st_size for p in paths if p.is_file())


def _directories(root: Path, kind: str, check) -> list[Entry]:
    entries = []
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if not path.is_dir():
            continue
        record = read_record(path / DIR_RECORD)
        if record is not None:
            problem = record.problem(path)
            source = record.source
        else:
            source = "local (not downloaded by HIVE)"
            try:
                check(path)
                problem = None
            except ModelError as error:
                problem = error.what
        entries.append(Entry(kind, path.name, path, _size(path.rglob("*")), source, problem))
    return entries


def _voices(tts: Path) -> list[Entry]:
    entries = []
    for model in sorted(tts.glob("*.onnx")) if tts.is_dir() else []:
        name = model.name.removesuffix(".onnx")
        record = read_record(model.with_name(name + VOICE_RECORD_SUFFIX))
        problem = record.problem(tts) if record is not None else None
        if problem is None:
            try:
                read_voice(model)
            except ModelError as error:
                problem = error.what
        source = record.source if record is not None else "local (not downloaded by HIVE)"
        entries.append(Entry("voice", name, model, _size([model, model.with_name(model.name + ".json")]),
                             source, problem))
    return entries


def _unfinished(staging: Path) -> list[Entry]:
    entries = []
    for path in sorted(staging.iterdir()) if staging.is_dir() else []:
        spec_file = path / SPEC_FILE
        spec = spec_file.read_text().strip() if spec_file.is_file() else path.name
        kind, _, name = spec.partition(":")
        entries.append(Entry(kind, name, path, _size(path.rglob("*")), "partial download",
                             f"interrupted; rerun `python -m hive_agent models download {spec}` to resume"))
    return entries
