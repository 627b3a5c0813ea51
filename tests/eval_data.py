"""Eval clips named by their manifest id: the bundled samples (hive_agent/samples), or the
full dev set in the folder HIVE_EVAL_DIR names."""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
SAMPLES_DIR = REPO / "hive_agent" / "samples"
EVAL_DIR = Path(os.environ["HIVE_EVAL_DIR"]) if os.environ.get("HIVE_EVAL_DIR") else SAMPLES_DIR

# The full set's fw-multilingual is these two clips with 0.7 s of digital silence between
# them, sample for sample, so the samples build it instead of storing it.
MULTILINGUAL = "fw-multilingual"
MULTILINGUAL_PARTS = ("fw-mit-en", "fw-mit-de")
MULTILINGUAL_GAP_S = 0.7


def manifest() -> dict[str, dict]:
    path = EVAL_DIR / "manifest.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"eval manifest not found at {path}; unset HIVE_EVAL_DIR to use the "
                                "bundled samples, or point it at a folder holding manifest.jsonl")
    with path.open(encoding="utf-8") as fh:
        return {row["id"]: row for row in map(json.loads, fh)}


def clip(clip_id: str) -> tuple[Path, dict]:
    rows = manifest()
    if clip_id not in rows:
        if clip_id == MULTILINGUAL:
            return multilingual()
        raise KeyError(f"clip {clip_id!r} is not in {EVAL_DIR / 'manifest.jsonl'}; "
                       "use an id listed there, or set HIVE_EVAL_DIR to the full eval set")
    return EVAL_DIR / rows[clip_id]["path"], rows[clip_id]


@functools.cache
def multilingual() -> tuple[Path, dict]:
    """fw-multilingual built from its two halves: a FLAC file (removed at exit) and its row."""
    (en_path, en), (de_path, de) = (clip(part) for part in MULTILINGUAL_PARTS)
    first, rate = sf.read(en_path, dtype="int16")
    second, _ = sf.read(de_path, dtype="int16")
    audio = np.concatenate([first, np.zeros(round(MULTILINGUAL_GAP_S * rate), np.int16), second])
    folder = tempfile.mkdtemp(prefix="hive-eval-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = Path(folder) / f"{MULTILINGUAL}.flac"
    sf.write(path, audio, rate, subtype="PCM_16")
    row = dict(en, id=MULTILINGUAL, path=str(path), lang="en+de", text=None, en=f"{en['en']} {de['en']}",
               refs={}, source=f"{' + '.join(MULTILINGUAL_PARTS)} with {MULTILINGUAL_GAP_S} s of silence between",
               duration_s=round(len(audio) / rate, 3))
    return path, row
