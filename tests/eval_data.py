"""The shared eval set (../shared/eval): clips named by their manifest id."""

from __future__ import annotations

import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = Path(os.environ.get("HIVE_EVAL_DIR", REPO.parent / "shared" / "eval"))


def manifest() -> dict[str, dict]:
    path = EVAL_DIR / "manifest.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"eval set not found at {path}; set HIVE_EVAL_DIR")
    with path.open(encoding="utf-8") as fh:
        return {row["id"]: row for row in map(json.loads, fh)}


def clip(clip_id: str) -> tuple[Path, dict]:
    row = manifest()[clip_id]
    return EVAL_DIR / row["path"], row
