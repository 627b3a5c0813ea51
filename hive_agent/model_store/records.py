"""The record a finished download leaves next to its model: spec, source and file sizes.

A model directory or voice appears in its final place only when complete; its record lets
`models check` tell it from a model that later lost or truncated a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DIR_RECORD = "hive-download.json"  # inside a Whisper or Marian directory
VOICE_RECORD_SUFFIX = ".download.json"  # tts/<voice>.download.json beside <voice>.onnx


@dataclass(frozen=True)
class Record:
    spec: str
    source: str
    files: dict[str, int]  # name relative to the record's folder -> size

    def problem(self, folder: Path) -> str | None:
        """None when every file is there with its size, else what is wrong."""
        for name, size in self.files.items():
            path = folder / name
            if not path.is_file():
                return f"{name} is missing"
            if path.stat().st_size != size:
                return f"{name} has {path.stat().st_size} bytes, {size} expected"
        return None

    def size(self) -> int:
        return sum(self.files.values())


def write_record(path: Path, spec: str, source: str, files: list[Path]) -> None:
    record = {"spec": spec, "source": source,
              "files": {f.relative_to(path.parent).as_posix(): f.stat().st_size for f in files}}
    path.write_text(json.dumps(record, indent=2) + "\n")


def read_record(path: Path) -> Record | None:
    try:
        data = json.loads(path.read_text())
        return Record(str(data["spec"]), str(data["source"]), {str(k): int(v) for k, v in data["files"].items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
