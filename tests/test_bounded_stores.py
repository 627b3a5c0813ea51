"""What a session keeps per unit or per sample stays bounded over an hour, while the counts the SLO
figures are made of stay exact; and the long-stream benchmark's stream plan and word attribution."""

from __future__ import annotations

from pathlib import Path

import pytest

from hive_agent.bench.long_stream import ClipWords, WordAttribution, plan_stream
from hive_agent.bench.run import Clip
from hive_agent.events import SpeechEvent, TranslationEvent, Word, WordsEvent
from hive_agent.observability.performance import Performance
from hive_agent.observability.slo import Observations, SloTracker

pytestmark = pytest.mark.nomodels  # every test here runs without a model

UNITS = 5000  # five times what the tracker remembers
LANGS = ("de", "es")


def unit_events(i: int, speech_first: bool = False) -> list:
    """Unit `u{i}`: three committed words, its translations, their speech starts, 4 s per unit."""
    t = i * 4.0
    words = WordsEvent(t + 3.5, "en", [Word(f"w{i}-{k}", t + k, t + k + 0.5) for k in range(3)], [])
    texts = [TranslationEvent(t + 3.7, f"u{i}", lang, "text", t + 2.5) for lang in LANGS]
    speech = [SpeechEvent(t + 3.9, f"u{i}", lang, "start") for lang in LANGS]
    return [words, *(speech + texts if speech_first else texts + speech)]


def observe_all(tracker: SloTracker, events) -> tuple[Observations, int]:
    total, largest = Observations(), 0
    for event in events:
        total.merge(tracker.observe(event))
        largest = max(largest, tracker.stored_items)
    return total, largest


def test_slo_tracker_memory_is_bounded_and_its_counts_exact():
    tracker = SloTracker()
    events = [e for i in range(UNITS) for e in unit_events(i, speech_first=i % 2 == 1)]
    total, largest = observe_all(tracker, events)
    assert total.committed == 3 * UNITS
    assert len(total.caption_latency_s) == len(total.commit_latency_s) == 3 * UNITS
    assert len(total.ttft_s) == len(total.end_to_end_s) == len(LANGS) * UNITS
    assert tracker.speech_without_text == 0
    assert largest <= 4 * SloTracker.RECENT_UNITS  # not one entry per unit of the log
    assert tracker.stored_items <= 4 * SloTracker.RECENT_UNITS


def test_a_repeated_record_of_a_recent_unit_is_still_ignored():
    tracker = SloTracker()
    observe_all(tracker, [e for i in range(UNITS) for e in unit_events(i)])
    again = unit_events(UNITS - 1)[1:]  # its translations and speech starts once more
    total, _ = observe_all(tracker, again)
    assert not total.ttft_s and not total.end_to_end_s


def test_speech_without_text_is_counted_exactly_beyond_what_is_remembered():
    tracker = SloTracker()
    orphans = [SpeechEvent(float(i), f"u{i}", "es", "start") for i in range(UNITS)]
    _, largest = observe_all(tracker, orphans)
    assert tracker.speech_without_text == UNITS
    assert largest <= 2 * SloTracker.RECENT_UNITS


def test_reference_mapped_units_stay_matched_with_bounded_word_memory():
    ends = [i * 4.0 + k + 0.55 for i in range(UNITS) for k in range(3)]  # reference: 50 ms later
    tracker = SloTracker(word_end=ends)
    total, largest = observe_all(tracker, [e for i in range(UNITS) for e in unit_events(i)])
    assert total.ttft_unmatched == 0 and len(total.ttft_s) == len(LANGS) * UNITS
    assert sorted(set(round(s, 3) for s in total.ttft_s.values())) == [1.15]  # 3.7 - (2.5 + 0.05)
    assert largest <= 5 * SloTracker.RECENT_UNITS


def test_performance_keeps_only_its_window():
    perf = Performance(window=100)
    for i in range(10_000):
        perf.record_stage("stt", 0.01)
        perf.record_stage("mt", 0.02)
        perf.record_words([0.9, 0.8], retracted=i % 2)
    assert perf.stored_items == 100 * 2 + 100 + 100
    snap = perf.snapshot()
    assert snap["processing_time_ms"]["n"] == 100 and snap["confidence"]["n"] == 100
    assert snap["words"] == {"committed": 200, "retracted": 50}


def clip(clip_id: str, lang: str) -> Clip:
    return Clip(clip_id, Path(f"{clip_id}.wav"), lang, None, None)


def test_the_stream_plan_cycles_the_clips_whole_until_the_minutes_are_filled():
    clips = [clip("a", "en"), clip("b", "de")]
    plan = plan_stream(clips, {"a": 20.0, "b": 30.0}, minutes=1.5, pause_s=1.0)
    assert [p.clip.id for p in plan] == ["a", "b", "a", "b"]
    assert [(p.start_s, p.end_s) for p in plan] == [(0, 20), (21, 51), (52, 72), (73, 103)]


def test_words_go_to_the_clip_they_were_spoken_in_with_their_language_label():
    plan = plan_stream([clip("a", "en"), clip("b", "de"), clip("c", "en+de")],
                       {"a": 2.0, "b": 2.0, "c": 2.0}, minutes=0.11, pause_s=1.0)
    attribution = WordAttribution(plan)
    attribution.add(WordsEvent(0, "en", [Word("one", 0.2, 0.6), Word("two", 2.5, 2.9)], []))  # in a's pause
    attribution.add(WordsEvent(0, "en", [Word("drei", 3.1, 3.4)], []))  # b's audio, labelled English
    attribution.add(WordsEvent(0, "de", [Word("vier", 6.1, 6.4)], []))
    a, b, c = attribution.clips
    assert (a.words, b.words, c.words) == (2, 1, 1)
    assert (a.wrong_language_words, b.wrong_language_words, c.wrong_language_words) == (0, 1, 0)
    assert a.as_dict()["text"] == "one two" and ClipWords(clip("d", "fr")).as_dict()["words"] == 0
