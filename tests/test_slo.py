"""SLO figures from handcrafted event logs whose answers are worked out by hand."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import soundfile as sf

from eval_data import clip
from hive_agent.errors import AudioFormatError
from hive_agent.events import SpeechEvent, TranslationEvent, Word, WordsEvent
from hive_agent.models import resolve_whisper
from hive_agent.bench.quality import align_reference_ends, chrf, reference_words, wer
from hive_agent.text import normalise
from hive_agent.observability.slo import (
    Observations,
    SloTracker,
    committed_words,
    compute_report,
    format_table,
    observe_log,
    percentile,
)


def w(text: str, start: float, end: float) -> dict:
    return {"text": text, "start": start, "end": end}


def words(wall: float, committed=(), interim=(), lang: str = "en") -> dict:
    return {"type": "words", "wall": wall, "lang": lang,
            "committed": list(committed), "interim": list(interim)}


def translation(wall: float, unit: str, lang: str, text: str, source_end: float) -> dict:
    return {"type": "translation", "wall": wall, "unit": unit, "lang": lang, "text": text,
            "final": True, "source_end": source_end}


def speech(wall: float, unit: str, lang: str, event: str = "start") -> dict:
    record = {"type": "speech", "wall": wall, "unit": unit, "lang": lang, "event": event}
    if event == "end":
        record["audio_s"] = 1.0
    return record


# --- caption and commit latency -------------------------------------------------------------

@pytest.mark.nomodels
def test_caption_latency_counts_from_first_interim_and_commit_latency_from_commit():
    log = [
        words(1.0, interim=[w("And", 0.0, 0.3), w("so", 0.3, 0.6)]),
        words(1.5, committed=[w("And", 0.0, 0.32)], interim=[w("so", 0.3, 0.62), w("my", 0.6, 0.9)]),
        words(2.0, committed=[w("so", 0.3, 0.62), w("my", 0.6, 0.9)]),
    ]
    tracker = SloTracker()
    first, second, third = (tracker.observe(e) for e in log)
    assert first.caption_latency_s == [] and first.committed == 0  # sampled at commit
    # "And": shown at 1.0, committed at 1.5; its end is the committed word's 0.32
    assert second.caption_latency_s == pytest.approx([1.0 - 0.32])
    assert second.commit_latency_s == pytest.approx([1.5 - 0.32])
    # "so" first shown at 1.0 even though its end moved from 0.6 to 0.62; "my" first at 1.5
    assert third.caption_latency_s == pytest.approx([1.0 - 0.62, 1.5 - 0.9])
    assert third.commit_latency_s == pytest.approx([2.0 - 0.62, 2.0 - 0.9])
    assert (third.committed, third.retracted) == (2, 0)

    report = compute_report(log)
    assert report.caption.n == report.commit.n == 3
    assert report.caption.p50_s == pytest.approx(0.6)
    assert report.commit.p50_s == pytest.approx(1.18)
    assert report.retraction_rate == 0.0
    assert report.source_text == {"en": "And so my"}
    assert report.uncommitted_words == 0


@pytest.mark.nomodels
def test_word_committed_without_interim_has_equal_caption_and_commit_latency():
    report = compute_report([words(2.0, committed=[w("ask", 1.0, 1.4)])])
    assert report.caption.p50_s == pytest.approx(0.6)
    assert report.commit.p50_s == pytest.approx(0.6)


# --- retraction -----------------------------------------------------------------------------

@pytest.mark.nomodels
def test_interim_word_replaced_by_different_text_is_one_retraction():
    log = [
        words(1.0, interim=[w("Ask", 0.0, 0.3)]),
        words(1.3, interim=[w("Asked", 0.0, 0.35), w("not", 0.35, 0.6)]),
        words(2.0, committed=[w("Asked", 0.0, 0.35), w("not", 0.35, 0.6)]),
    ]
    report = compute_report(log)
    assert (report.retracted_words, report.committed_words) == (1, 2)
    assert report.retraction_rate == pytest.approx(0.5)
    # "Asked" is a new word at 1.3, not the "Ask" shown at 1.0
    assert sorted(report_samples(log).caption_latency_s) == pytest.approx([1.3 - 0.6, 1.3 - 0.35])


@pytest.mark.nomodels
def test_growing_tail_with_case_and_punctuation_changes_retracts_nothing():
    log = [
        words(0.5, interim=[w("and", 0.0, 0.2)]),
        words(0.8, interim=[w("And", 0.0, 0.2), w("so", 0.2, 0.4)]),
        words(1.1, interim=[w("And", 0.0, 0.2), w("so,", 0.2, 0.41), w("my", 0.4, 0.6)]),
        words(1.4, committed=[w("And", 0.0, 0.2), w("so,", 0.2, 0.41)], interim=[w("my", 0.4, 0.6)]),
        words(1.7, committed=[w("my", 0.4, 0.6)]),
    ]
    report = compute_report(log)
    assert (report.retracted_words, report.committed_words) == (0, 3)
    assert sorted(report_samples(log).caption_latency_s) == pytest.approx(
        sorted([0.5 - 0.2, 0.8 - 0.41, 1.1 - 0.6]))


@pytest.mark.nomodels
def test_committed_words_are_never_retracted_but_a_shrinking_tail_is():
    log = [
        words(1.0, committed=[w("ask", 0.0, 0.3)], interim=[w("not", 0.3, 0.5), w("what", 0.5, 0.7)]),
        words(1.2, interim=[w("not", 0.3, 0.5)]),  # "what" removed: 1 retraction
        words(1.4, interim=[]),  # "not" removed: 1 retraction; "ask" is committed and stays
        words(1.6, interim=[w("knot", 0.3, 0.5)]),
        words(2.0, committed=[w("knot", 0.3, 0.5)]),
    ]
    report = compute_report(log)
    assert (report.retracted_words, report.committed_words) == (2, 2)
    assert report.source_text == {"en": "ask knot"}


@pytest.mark.nomodels
def test_word_shown_again_after_retraction_is_timed_from_its_return():
    log = [
        words(1.0, interim=[w("a", 0.0, 0.2), w("b", 0.2, 0.4), w("c", 0.4, 0.6)]),
        words(1.2, interim=[w("a", 0.0, 0.2), w("b", 0.2, 0.4)]),
        words(1.4, interim=[w("a", 0.0, 0.2), w("b", 0.2, 0.4), w("c", 0.4, 0.6)]),
        words(2.0, committed=[w("a", 0.0, 0.2), w("b", 0.2, 0.4), w("c", 0.4, 0.6)]),
    ]
    samples = report_samples(log)
    assert samples.retracted == 1
    assert samples.caption_latency_s == pytest.approx([0.8, 0.6, 1.4 - 0.6])


@pytest.mark.nomodels
def test_inserted_word_shifts_and_retracts_the_words_after_it():
    log = [
        words(1.0, interim=[w("so", 0.2, 0.4), w("my", 0.4, 0.6)]),
        words(1.3, interim=[w("and", 0.0, 0.2), w("so", 0.2, 0.4), w("my", 0.4, 0.6)]),
        words(2.0, committed=[w("and", 0.0, 0.2), w("so", 0.2, 0.4), w("my", 0.4, 0.6)]),
    ]
    assert compute_report(log).retracted_words == 2


@pytest.mark.nomodels
def test_tail_left_at_the_end_is_reported_as_uncommitted():
    report = compute_report([words(1.0, interim=[w("a", 0.0, 0.2), w("b", 0.2, 0.4)])])
    assert report.uncommitted_words == 2
    assert report.committed_words == 0 and report.retraction_rate is None
    assert report.caption.n == 0 and report.caption.p95_s is None


# --- TTFT and end-to-end --------------------------------------------------------------------

@pytest.mark.nomodels
def test_ttft_and_end_to_end_per_unit_and_language_from_first_event_only():
    log = [
        words(1.2, committed=[w("ask", 0.6, 1.1)]),
        translation(2.0, "u1", "es", "pregunta", 1.1),
        translation(2.1, "u1", "fr", "demande", 1.1),
        translation(2.3, "u1", "es", "pregunten", 1.1),  # a repeated unit: only its first record counts
        speech(2.5, "u1", "es"),
        speech(2.6, "u1", "fr"),
        speech(3.0, "u1", "es", "end"),
        speech(3.1, "u1", "es"),  # a second start for the same unit does not count
        translation(3.5, "u2", "es", "no", 2.0),
        speech(4.0, "u2", "es"),
    ]
    total, _ = observe_log(log)
    assert total.ttft_s == pytest.approx({("u1", "es"): 0.9, ("u1", "fr"): 1.0, ("u2", "es"): 1.5})
    assert total.end_to_end_s == pytest.approx(
        {("u1", "es"): 1.4, ("u1", "fr"): 1.5, ("u2", "es"): 2.0})
    report = compute_report(log)
    assert report.ttft.n == 3 and report.end_to_end.n == 3
    assert report.ttft.p50_s == pytest.approx(1.0)
    assert report.end_to_end.p95_s == pytest.approx(percentile([1.4, 1.5, 2.0], 95))
    assert report.translated_text == {"es": "pregunta no", "fr": "demande"}


@pytest.mark.nomodels
def test_speech_before_its_text_is_resolved_and_speech_without_text_is_unmatched():
    log = [
        speech(2.4, "u1", "es"),
        translation(2.5, "u1", "es", "hola", 1.0),
        speech(3.0, "u9", "es"),
    ]
    tracker = SloTracker()
    out = [tracker.observe(e) for e in log]
    assert out[1].end_to_end_s == pytest.approx({("u1", "es"): 1.4})
    report = compute_report(log)
    assert (report.end_to_end.n, report.end_to_end.unmatched) == (1, 1)
    assert report.end_to_end.matched_share == pytest.approx(0.5)


@pytest.mark.nomodels
def test_hive_event_objects_give_the_same_samples_as_their_dicts():
    events = [
        WordsEvent(1.0, "en", [], [Word("ask", 0.1, 0.4)]),
        WordsEvent(1.5, "en", [Word("ask", 0.1, 0.42)], []),
        TranslationEvent(2.0, "u1", "de", "frag", 0.42),
        SpeechEvent(2.3, "u1", "de", "start"),
    ]
    from_objects, from_dicts = SloTracker(), SloTracker()
    for event in events:
        assert from_objects.observe(event) == from_dicts.observe(event.as_json())
    report = compute_report(events)
    assert report.caption.p50_s == pytest.approx(0.58)
    assert report.end_to_end.p50_s == pytest.approx(2.3 - 0.42)


@pytest.mark.nomodels
def test_malformed_record_names_the_missing_field():
    with pytest.raises(ValueError, match="'source_end'"):
        SloTracker().observe({"type": "translation", "wall": 1.0, "unit": "u1", "lang": "es"})


# --- reference word ends --------------------------------------------------------------------

@pytest.mark.nomodels
def test_reference_ends_replace_word_ends_and_map_unit_source_end():
    log = [
        words(1.0, committed=[w("a", 0.0, 0.5)], interim=[w("b", 0.5, 1.0)]),
        translation(1.3, "u0", "es", "b", 1.0),  # ends at the interim word b (position 1)
        words(1.5, committed=[w("b", 0.5, 1.0)], interim=[w("c", 1.0, 1.4)]),
        words(2.0, committed=[w("c", 1.0, 1.4)]),
        translation(2.2, "u1", "es", "a b c", 1.4),
        translation(2.4, "u2", "es", "?", 7.7),  # no word ends at 7.7
        speech(2.6, "u1", "es"),
    ]
    reference = [0.45, None, 1.3]
    report = compute_report(log, reference_ends=reference)
    # caption samples: a 1.0-0.45, c 1.5-1.3; b has no reference end
    assert (report.caption.n, report.caption.unmatched) == (2, 1)
    assert report.caption.p50_s == pytest.approx(((1.0 - 0.45) + (1.5 - 1.3)) / 2)
    assert report.commit.p95_s == pytest.approx(percentile([1.0 - 0.45, 2.0 - 1.3], 95))
    # u0 maps to b (no reference end), u1 to c (1.3), u2 to nothing
    assert (report.ttft.n, report.ttft.unmatched) == (1, 2)
    assert report.ttft.p50_s == pytest.approx(2.2 - 1.3)
    assert report.end_to_end.p50_s == pytest.approx(2.6 - 1.3)

    by_function = compute_report(log, reference_ends=lambda pos, word: word["end"] - 0.1)
    assert by_function.ttft.n == 3 - 1
    assert by_function.caption.p50_s == pytest.approx(percentile([1.0 - 0.4, 1.0 - 0.9, 1.5 - 1.3], 50))


# --- percentile and incremental = batch -----------------------------------------------------

@pytest.mark.nomodels
def test_percentile_matches_numpy():
    rng = np.random.default_rng(7)
    for size in (1, 2, 5, 20, 101):
        values = rng.normal(0.3, 0.1, size).tolist()
        for q in (0, 5, 50, 90, 95, 99, 100):
            assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert percentile([], 95) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def simulated_log(seed: int) -> list[dict]:
    """A stream of 40 words whose interim tail sometimes shows a wrong word or drops one."""
    rng = random.Random(seed)
    truth = [w(f"word{i}", i * 0.3, i * 0.3 + 0.25) for i in range(40)]
    log, committed, wall = [], 0, 0.5
    while committed < len(truth):
        wall += 0.3
        heard = min(len(truth), int(wall / 0.3))
        commit_to = min(heard, committed + rng.randint(0, 3))
        tail = [dict(x) for x in truth[commit_to:heard]]
        if tail and rng.random() < 0.3:
            tail[-1]["text"] = "wrong"
        if tail and rng.random() < 0.2:
            tail.pop()
        log.append(words(wall, committed=truth[committed:commit_to], interim=tail))
        committed = commit_to
        if rng.random() < 0.4 and committed:
            unit = f"u{len(log)}"
            for lang in ("es", "de"):
                log.append(translation(wall + 0.1, unit, lang, "x", truth[committed - 1]["end"]))
                log.append(speech(wall + 0.3, unit, lang))
    return log


@pytest.mark.nomodels
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_observations_equal_compute_report(seed):
    log = simulated_log(seed)
    reference = [x["end"] + 0.02 for x in committed_words(log)]
    reference[3] = None
    for ends in (None, reference):
        total, _ = observe_log(log, ends)
        report = compute_report(log, reference_ends=ends)
        assert report.committed_words == total.committed == 40
        assert report.retracted_words == total.retracted
        assert report.caption.n == len(total.caption_latency_s)
        assert report.caption.p95_s == pytest.approx(float(np.percentile(total.caption_latency_s, 95)))
        assert report.commit.p50_s == pytest.approx(float(np.percentile(total.commit_latency_s, 50)))
        assert report.ttft.p95_s == pytest.approx(float(np.percentile(list(total.ttft_s.values()), 95)))
        assert report.end_to_end.n == len(total.end_to_end_s)
        assert all(c <= m + 1e-9 for c, m in zip(total.caption_latency_s, total.commit_latency_s))
    assert compute_report(log).retracted_words > 0  # the simulation did exercise retractions


# --- report output --------------------------------------------------------------------------

@pytest.mark.nomodels
def test_report_dict_is_json_and_table_marks_targets():
    fast = [
        words(0.4, interim=[w("hi", 0.0, 0.3)]),
        words(0.6, committed=[w("hi", 0.0, 0.3)]),
        translation(0.7, "u1", "es", "hola", 0.3),
        speech(0.75, "u1", "es"),
    ]
    slow = [
        words(1.0, interim=[w("ho", 0.0, 0.3)]),
        words(1.2, interim=[w("hi", 0.0, 0.3)]),
        words(1.6, committed=[w("hi", 0.0, 0.3)]),
        translation(1.9, "u1", "es", "hola", 0.3),
        speech(2.0, "u1", "es"),
    ]
    fast_report = compute_report(fast, audio_s=2.0, compute_s=0.5)
    slow_report = compute_report(slow)
    assert fast_report.rtf == pytest.approx(0.25)
    assert fast_report.slo_checks() == {"caption_p95": True, "retraction": True,
                                        "ttft_p95": True, "end_to_end_p95": True}
    assert slow_report.slo_checks() == {"caption_p95": False, "retraction": False,
                                        "ttft_p95": False, "end_to_end_p95": False}
    data = json.loads(json.dumps(fast_report.as_dict()))
    assert data["caption_latency"]["p95_s"] == pytest.approx(0.1)
    assert data["translated_text"] == {"es": "hola"}

    table = format_table({"fast": fast_report, "slow": slow_report})
    lines = table.splitlines()
    assert len(lines) == 4 and "p95 <= 250" in lines[1]
    fast_line, slow_line = lines[2], lines[3]
    assert "100/100 (1) ok" in fast_line and "400/400 (1) ok" in fast_line  # caption, TTFT
    assert "0.0 % (0/1) ok" in fast_line and "0.25" in fast_line
    assert "900/900 (1) FAIL" in slow_line and "100.0 % (1/1) FAIL" in slow_line
    assert "ok" not in slow_line
    assert format_table(fast_report).splitlines()[2].startswith("run")


# --- quality --------------------------------------------------------------------------------

@pytest.mark.nomodels
def test_normalise_keeps_letters_of_all_languages():
    assert normalise("  Größe, Übung!  Don't — well-known  ") == "größe übung dont well known"
    assert normalise("¿Qué tal?  Ça va.") == "qué tal ça va"


@pytest.mark.nomodels
def test_wer_and_chrf_on_simple_strings():
    assert wer("And so, my fellow Americans.", "and so my fellow americans") == 0.0
    assert wer("ask not what your country", "ask not what our country") == pytest.approx(0.2)
    assert chrf("ask not what your country", "ask not what your country") == pytest.approx(100.0)
    assert 0 < chrf("ask not what our country", "ask not what your country") < 100
    assert chrf(["a cat sat", "dogs run"], ["a cat sat", "dogs run"]) == pytest.approx(100.0)
    with pytest.raises(ValueError, match="reference"):
        wer("...", "something")


@pytest.mark.nomodels
def test_align_reference_ends_with_skipped_and_inserted_word():
    reference = [w("And", 0.0, 0.3), w("so", 0.3, 0.5), w("my", 0.5, 0.7),
                 w("fellow", 0.7, 1.0), w("Americans", 1.0, 1.6)]
    output = [{"text": "and"}, {"text": "my"}, {"text": "fellow"}, {"text": "great"},
              {"text": "Americans,"}]
    ends, share = align_reference_ends(reference, output)
    assert ends == [0.3, 0.7, 1.0, None, 1.6]
    assert share == pytest.approx(0.8)
    assert align_reference_ends(reference, []) == ([], 0.0)


@pytest.mark.nomodels
def test_reference_words_rejects_wrong_audio_format(tmp_path):
    with pytest.raises(AudioFormatError, match="float32"):
        reference_words(np.zeros((2, 16000), dtype=np.float32), tmp_path / "no-model")


def test_reference_words_on_real_clip_match_transcript(models_dir):
    path, row = clip("fw-jfk")
    audio, rate = sf.read(path, dtype="float32")
    assert rate == 16000 and audio.ndim == 1
    model_dir = resolve_whisper("base", models_dir)
    ref = reference_words(audio, model_dir, language="en")
    assert wer(row["text"], " ".join(x["text"] for x in ref)) <= 0.1
    duration = len(audio) / rate
    assert all(0 <= x["start"] <= x["end"] <= duration + 0.05 for x in ref)
    assert all(a["start"] <= b["start"] and a["end"] <= b["end"] for a, b in zip(ref, ref[1:]))
    assert ref[-1]["end"] > duration / 2  # times span the clip, not one lump at the start
    ends, share = align_reference_ends(ref, [{"text": t} for t in row["text"].split()])
    assert share >= 0.9 and ends[-1] == ref[-1]["end"]


def report_samples(log: list[dict]) -> Observations:
    return observe_log(log)[0]
