"""The whole pipeline on real audio: recognizer -> units -> translation routes -> speech."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from hive_agent.audio import SPEECH_SAMPLE_RATE
from hive_agent.bench.quality import chrf
from hive_agent.text import normalise
from eval_data import clip
from pipeline_run import run_clip


@pytest.fixture(scope="module")
def german(engine):
    return run_clip(engine, clip("fw-mit-de")[0], ["en"])


@pytest.fixture(scope="module")
def jfk_en_es(engine):
    return run_clip(engine, clip("fw-jfk")[0], ["en", "es", "fr"])


def test_german_speech_comes_out_in_english(german):
    reference = clip("fw-mit-de")[1]["en"]
    english = " ".join(e["text"] for e in german.of("translation", lang="en"))
    assert chrf(english, reference) >= 30
    assert {e["source_lang"] for e in german.of("translation")} == {"de"}
    assert "software" in normalise(english)


def test_language_is_detected_per_utterance(engine):
    # English for 29.6 s, then German: the German half must come out in English too.
    run = run_clip(engine, clip("fw-multilingual")[0], ["en"])
    units = run.of("translation", lang="en")
    english_units = [u for u in units if u["source_lang"] == "en"]
    german_units = [u for u in units if u["source_lang"] == "de"]
    assert english_units and german_units
    assert max(u["source_end"] for u in english_units) < 31 < min(u["source_end"] for u in german_units)
    german_half = normalise(" ".join(u["text"] for u in german_units)).split()
    assert "software" in german_half
    assert sum(w in {"und", "der", "die", "das", "zu"} for w in german_half) <= 2


def test_every_final_unit_is_translated_and_spoken_once_in_order(jfk_en_es):
    run = jfk_en_es
    unit_ids = [e["unit"] for e in run.of("translation", lang="en")]
    assert unit_ids and len(unit_ids) == len(set(unit_ids))
    starts = {e["unit"]: e for e in run.of("speech", lang="en", event="start")}
    ends = {e["unit"]: e for e in run.of("speech", lang="en", event="end")}
    spoken = [u["unit"] for u in run.of("translation", lang="en") if u["text"].strip()]
    assert list(starts) == spoken and list(ends) == spoken
    for a, b in zip(spoken, spoken[1:]):  # one after the other, never overlapping
        assert starts[b]["wall"] >= ends[a]["wall"] - 1e-6
    for unit in spoken:
        assert ends[unit]["audio_s"] > 0.2


def test_speech_is_48k_non_silent_and_contiguous_per_unit(jfk_en_es):
    chunks = [c for c in jfk_en_es.audio if c.lang == "en"]
    assert chunks and all(c.samples.dtype == np.int16 for c in chunks)
    ends = {e["unit"]: e["audio_s"] for e in jfk_en_es.of("speech", lang="en", event="end")}
    for unit, audio_s in ends.items():
        samples = np.concatenate([c.samples for c in chunks if c.unit == unit])
        assert len(samples) / SPEECH_SAMPLE_RATE == pytest.approx(audio_s, abs=1e-3)
        assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 300
    order = [c.unit for c in chunks]
    assert order == sorted(order, key=lambda u: int(u[1:])), "units spoken in order, chunks not interleaved"
    assert [c.last for c in chunks].count(True) == len(ends)


def test_one_recognizer_fans_out_to_several_languages(jfk_en_es):
    en = [e["unit"] for e in jfk_en_es.of("translation", lang="en")]
    es = [e["unit"] for e in jfk_en_es.of("translation", lang="es")]
    assert en == es
    assert all(e["text"] for e in jfk_en_es.of("translation", lang="es"))  # Marian (random weights) ran


def test_a_language_without_voice_gets_captions_only(jfk_en_es):
    assert jfk_en_es.of("translation", lang="es")
    assert not jfk_en_es.of("speech", lang="es")
    assert not [c for c in jfk_en_es.audio if c.lang == "es"]


def test_a_language_without_translation_route_is_skipped_not_fatal(jfk_en_es):
    assert not jfk_en_es.of("translation", lang="fr")
    assert jfk_en_es.of("translation", lang="en")


def test_units_carry_source_times_and_source_captions_come_first(jfk_en_es):
    committed_ends = [w["end"] for e in jfk_en_es.of("words") for w in e["committed"]]
    for unit in jfk_en_es.of("translation", lang="en"):
        assert unit["source_end"] in committed_ends
        assert unit["source_start"] < unit["source_end"]
        committing = next(e for e in jfk_en_es.of("words")
                          if any(w["end"] == unit["source_end"] for w in e["committed"]))
        assert committing["wall"] <= unit["wall"]


def test_targets_change_live_without_losing_existing_lanes(engine):
    async def go() -> None:
        session = engine.new_session("listeners-change", "auto", {"en"}, realtime=False)
        session.set_targets({"en", "fr"})  # a listener joins: en keeps its lane, fr has no voice
        assert session.speech_languages == {"en"}
        session.set_targets({"fr"})  # the en listener leaves: its lane stops
        assert session.speech_languages == set()
        await session.aclose()

    asyncio.run(go())
