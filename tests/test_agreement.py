"""LocalAgreement-2 and the hypothesis guards: pure logic, no model."""

import pytest

from hive_agent.events import Word
from hive_agent.stt.agreement import LocalAgreement
from hive_agent.stt.hypothesis import clean_hypothesis, clean_text, cut_repetition, drop_instants, words_in_audio
from hive_agent.stt.whisper_decoder import DecodeResult

pytestmark = pytest.mark.nomodels  # every test here runs without a model


def words(text: str, start: float = 0.0, step: float = 0.3) -> list[Word]:
    return [Word(t, start + i * step, start + (i + 1) * step) for i, t in enumerate(text.split())]


def texts(ws: list[Word]) -> list[str]:
    return [w.text for w in ws]


def test_first_hypothesis_commits_nothing():
    la = LocalAgreement()
    assert la.update(words("and so my")) == []
    assert texts(la.pending) == ["and", "so", "my"]


def test_commits_longest_common_prefix_of_last_two():
    la = LocalAgreement()
    la.update(words("and so my fellow"))
    committed = la.update(words("and so my yellow americans"))
    assert texts(committed) == ["and", "so", "my"]
    assert texts(la.pending) == ["yellow", "americans"]


def test_comparison_ignores_case_and_punctuation_and_keeps_newest_spelling():
    la = LocalAgreement()
    la.update(words("Americans ask"))
    committed = la.update(words("americans, asked"))
    assert texts(committed) == ["americans,"]


def test_tail_after_commit_is_compared_with_next_hypothesis():
    la = LocalAgreement()
    la.update(words("a b c"))
    assert texts(la.update(words("a b d"))) == ["a", "b"]
    # The recognizer now forces "a b" as prefix, so the next hypothesis is the tail only.
    assert texts(la.update(words("d e"))) == ["d"]
    assert texts(la.pending) == ["e"]


def test_disagreement_at_first_word_commits_nothing():
    la = LocalAgreement()
    la.update(words("is not"))
    assert la.update(words("ask not")) == []
    assert texts(la.pending) == ["ask", "not"]


def test_flush_commits_everything_pending_once():
    la = LocalAgreement()
    la.update(words("your country"))
    assert texts(la.flush()) == ["your", "country"]
    assert la.flush() == [] and la.pending == []


def test_cut_repetition_stops_phrase_loops():
    loop = words("fellow americans and so my fellow americans and so my")
    assert texts(cut_repetition(loop, words("and so my"))) == ["fellow", "americans"]
    assert len(cut_repetition(words("yes no no no no no"))) <= 3


def test_cut_repetition_keeps_legitimate_repeats():
    speech = words("ask not what your country can do for you ask what you can do for your country")
    assert cut_repetition(speech) == speech
    assert texts(cut_repetition(words("that that is"))) == ["that", "that", "is"]


def test_words_in_padding_and_instant_tail_are_dropped():
    ws = [Word("real", 0.0, 0.5), Word("late", 0.95, 1.2)]
    assert texts(words_in_audio(ws, content_end=1.0)) == ["real"]
    ws = [Word("real", 0.0, 0.5), Word("ghost", 0.5, 0.5), Word("ghost", 0.5, 0.5)]
    assert texts(drop_instants(ws)) == ["real"]
    # A short word squeezed into no time between heard words stays, or the text would skip it.
    ws = [Word("of", 2.02, 2.02), Word("the", 2.02, 2.2), Word("ghost", 2.5, 2.5)]
    assert texts(drop_instants(ws)) == ["of", "the"]


def decoded(ws: list[Word]) -> DecodeResult:
    return DecodeResult(ws, "en", no_speech_probability=0.1, avg_logprob=-0.1, text=" ".join(texts(ws)))


def test_new_words_before_a_restart_loop_survive_the_compression_guard():
    # fw-mit-en at 25.4 s: the decoder says the new words, then starts its buffer over and over.
    # The whole text compresses far past 2.4, but the loop is cut and the new words are real.
    context = words("subject to the following conditions the above copyright notice and")
    new = words("this permission notice.", start=24.5, step=0.25)
    looping = new + words(" ".join(texts(context + new)), start=25.3, step=0.0) * 2
    assert texts(clean_hypothesis(decoded(looping), 26.0, context, 0.6, 2.4)) == texts(new)


def test_an_utterance_said_once_then_started_over_keeps_its_first_pass():
    # syn-02-en an hour into a stream, decoded with no committed words in the buffer: the whole
    # utterance, then the decoder starts it over and over at the end of the audio. The whole
    # text compresses past 2.4; the clip lost every word to the compression guard.
    said = words("can everyone hear me clearly", step=0.33)
    looping = said + words(" ".join(texts(said)), start=1.66, step=0.0) * 4
    assert texts(clean_hypothesis(decoded(looping), 1.8, [], 0.6, 2.4)) == texts(said)
    # A first pass that stops well before the end of the audio is no restart: a loop.
    assert clean_hypothesis(decoded(looping), 3.0, [], 0.6, 2.4) == []
    # Nor is one phrase of two words over and over.
    thanks = words("thank you " * 8, step=0.2)
    assert clean_hypothesis(decoded(thanks), 3.2, [], 0.6, 2.4) == []


def test_a_loop_of_new_words_still_drops_the_whole_hypothesis():
    # fw-jfk's closing applause: "Great. Great. Great. ..." - no word of it is real.
    applause = [Word("Great.", 10.3 + i * 0.1, 10.4 + i * 0.1) for i in range(7)]
    assert clean_hypothesis(decoded(applause), 11.0, words("ask what you can do for your country"), 0.6, 2.4) == []
    drawn_out = [Word("Oh,", 0.0, 0.3), Word("n" + "o" * 80 + ".", 0.3, 2.0)]
    assert clean_hypothesis(decoded(drawn_out), 3.0, [], 0.6, 2.4) == []


def translated(text: str, no_speech: float = 0.1, logprob: float = -0.3) -> DecodeResult:
    return DecodeResult([], "en", no_speech_probability=no_speech, avg_logprob=logprob, text=text)


def test_a_translation_that_loops_keeps_its_start():
    # The demo's Whisper translation of "zu Sammensufügen": the right start, then a loop that
    # alone compresses past 2.4 (it used to make the unit's translation empty).
    assert clean_text(translated(" to assemble, to assemble, to assemble, to assemble, to assemble,"),
                      0.6, 2.4) == "to assemble,"
    assert clean_text(translated(" This is about the right to the right. This is about the right"),
                      0.6, 2.4) == "This is about the right to the right."


def test_a_translation_may_say_its_first_words_again():
    sentence = " The software and the documentation: the software is free."
    assert clean_text(translated(sentence), 0.6, 2.4) == sentence.strip()


def test_a_translation_of_silence_or_a_drawn_out_sound_is_empty():
    assert clean_text(translated(" Thank you.", no_speech=0.9, logprob=-1.5), 0.6, 2.4) == ""
    assert clean_text(translated(" n" + "o" * 80), 0.6, 2.4) == ""
