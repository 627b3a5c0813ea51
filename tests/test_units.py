"""Committed words are cut into translation units early: at sentence and clause ends, at the end
of an utterance, at a language change, and at a maximum length in words or seconds."""

from __future__ import annotations

from hive_agent.events import Word, WordsEvent
from hive_agent.pipeline.units import UnitBuilder, UnitRules


def words(text: str, start: float = 0.0, step: float = 0.4) -> list[Word]:
    return [Word(t, start + i * step, start + (i + 1) * step - 0.05, 0.9) for i, t in enumerate(text.split())]


def push(builder: UnitBuilder, text: str, start: float = 0.0, step: float = 0.4, lang: str = "en",
         end: bool = False):
    return builder.push(WordsEvent(0.0, lang, words(text, start, step), [], end))


def test_a_sentence_end_and_a_long_enough_clause_end_a_unit():
    builder = UnitBuilder()
    units = push(builder, "Hello there. Well, if you ask me, it works")
    assert [u.text for u in units] == ["Hello there.", "Well, if you ask me,"]
    assert units[0].source_start == 0.0 and units[0].source_end == 0.75
    assert [u.text for u in push(builder, "today.", start=4.0)] == ["it works today."]


def test_the_end_of_an_utterance_and_a_language_change_end_a_unit():
    builder = UnitBuilder()
    assert [u.text for u in push(builder, "so we go", end=True)] == ["so we go"]
    assert push(builder, "und dann", start=3.0, lang="de") == []
    units = push(builder, "and then", start=4.0, lang="en")
    assert [(u.text, u.source_lang) for u in units] == [("und dann", "de")]


def test_a_long_sentence_is_cut_at_a_maximum_duration():
    # Slow speech with no punctuation: 1 s a word. A unit closes once its words span 5 s,
    # long before the 16-word limit.
    builder = UnitBuilder(UnitRules(max_s=5.0))
    units = push(builder, "one two three four five six seven eight nine ten eleven twelve", step=1.0)
    assert [u.text for u in units] == ["one two three four five six", "seven eight nine ten eleven twelve"]
    assert all(5.0 <= u.source_end - u.source_start < 6.0 for u in units)


def test_a_fast_run_of_words_is_cut_at_a_maximum_word_count():
    builder = UnitBuilder(UnitRules(max_words=6))
    units = push(builder, "a b c d e f g h", step=0.2)
    assert [u.text for u in units] == ["a b c d e f"]
    assert [u.id for u in units] == ["u1"]
