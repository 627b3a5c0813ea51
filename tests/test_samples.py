"""The bundled samples: every clip is where its manifest row says, in the stated format, with its
licence texts beside it; the demo and the benchmark use them; fw-multilingual is built right."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import soundfile as sf

import eval_data
from eval_data import SAMPLES_DIR
from hive_agent.bench.run import default_manifest, load_manifest
from hive_agent.commands import demo

pytestmark = pytest.mark.nomodels  # every test here runs without a model


def sample_rows() -> list[dict]:
    lines = (SAMPLES_DIR / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_every_clip_is_16_khz_mono_16_bit_flac_of_the_stated_length():
    rows = sample_rows()
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        info = sf.info(SAMPLES_DIR / row["path"])
        assert (info.format, info.subtype, info.samplerate, info.channels) == ("FLAC", "PCM_16", 16000, 1), row["id"]
        assert abs(info.duration - row["duration_s"]) < 0.01, row["id"]
        assert row["lang"] and row["kind"] in ("real", "synthetic") and row["source"], row["id"]
    stored = {p.name for p in SAMPLES_DIR.glob("*.flac")}
    assert stored == {row["path"] for row in rows}, "a FLAC file without a manifest row, or the reverse"


def test_the_licence_texts_are_exactly_the_ones_the_clips_name():
    named = {name for row in sample_rows() for name in re.findall(r"LICENSES/([\w.-]+\.txt)", row["license"])}
    assert named == {p.name for p in (SAMPLES_DIR / "LICENSES").iterdir()}


def test_demo_and_benchmark_default_to_the_samples():
    assert demo.SAMPLE.resolve() == (SAMPLES_DIR / "mit-licence-de.flac").resolve()
    assert {row["id"]: row["path"] for row in sample_rows()}["fw-mit-de"] == demo.SAMPLE.name
    clips = load_manifest(default_manifest())
    assert [c.id for c in clips] == [row["id"] for row in sample_rows()]
    assert all(c.path.is_file() for c in clips)


def test_multilingual_is_english_then_silence_then_german():
    path, row = eval_data.multilingual()
    audio, rate = sf.read(path, dtype="int16")
    (en_path, en), (de_path, de) = (eval_data.clip(part) for part in eval_data.MULTILINGUAL_PARTS)
    english, german = sf.read(en_path, dtype="int16")[0], sf.read(de_path, dtype="int16")[0]
    gap = round(eval_data.MULTILINGUAL_GAP_S * rate)
    assert len(audio) == len(english) + gap + len(german)
    assert np.array_equal(audio[:len(english)], english) and np.array_equal(audio[-len(german):], german)
    assert not audio[len(english):len(english) + gap].any()
    assert (row["lang"], row["text"], row["en"]) == ("en+de", None, f"{en['en']} {de['en']}")
    assert row["duration_s"] == round(len(audio) / rate, 3) == 59.9  # as the full set's fw-multilingual
    assert eval_data.clip(eval_data.MULTILINGUAL)[1]["lang"] == "en+de"
