"""The recognizer's policy with scripted hypotheses: no model, the same on every CPU.

`ScriptedDecoder` answers each decode with the next scripted hypothesis (buffer-relative word
times, as Whisper gives them); `ScriptedVad` says speech inside given stretches of the stream.
"""

from __future__ import annotations

import numpy as np
import pytest

from hive_agent.events import Word
from hive_agent.stt.core import RecognizerCore, RecognizerOptions
from hive_agent.stt.whisper_decoder import DecodeResult

pytestmark = pytest.mark.nomodels

RATE = 16_000
BLOCK = RATE // 50


class ScriptedVad:
    end_threshold = 0.35

    def __init__(self, speech: list[tuple[float, float]], min_silence_s: float = 0.4):
        self.speech = speech
        self.min_silence_s = min_silence_s
        self.t = 0.0
        self.speaking = False

    def push(self, audio: np.ndarray) -> list[tuple[str, float]]:
        self.t += len(audio) / RATE
        events = []
        for start, end in self.speech:
            if not self.speaking and start <= self.t < end + self.min_silence_s:
                self.speaking = True
                events.append(("start", start))
            elif self.speaking and self.t >= end + self.min_silence_s and self.t - len(audio) / RATE < end + self.min_silence_s:
                self.speaking = False
                events.append(("end", end))
        return events

    def speech_probability(self, start: float, end: float) -> float:
        return 1.0 if any(s < end and start < e for s, e in self.speech) else 0.0


class ScriptedDecoder:
    """Answers each decode with the next scripted hypothesis: a word list, or a function of the
    audio seconds decoded. Like Whisper, returns only the words after the forced prefix."""

    def __init__(self, hypotheses: list, languages: list[tuple[str, float]] | None = None):
        self.hypotheses = list(hypotheses)
        self.languages = list(languages or [])
        self.calls: list[dict] = []

    def detect_language(self, audio: np.ndarray, candidates=()) -> tuple[str, float]:
        return self.languages.pop(0) if self.languages else ("en", 0.99)

    def decode(self, audio, **kw) -> DecodeResult:
        seconds = len(audio) / RATE
        self.calls.append({"seconds": seconds, **kw})
        words = self.hypotheses.pop(0) if self.hypotheses else []
        if callable(words):
            words = words(seconds)
        prefix = kw["prefix"].split()
        if [w.text for w in words[:len(prefix)]] == prefix:
            words = words[len(prefix):]
        return DecodeResult(words, kw["language"], 0.05, -0.2, " ".join(w.text for w in words))


def spoken(text: str, start: float = 0.0, step: float = 0.3, p: float = 0.9) -> list[Word]:
    return [Word(t, start + i * step, start + (i + 1) * step, p) for i, t in enumerate(text.split())]


def heard(transcript: list[Word], *extra: Word):
    """A hypothesis of the words that have begun in the audio decoded (no buffer trims)."""
    return lambda seconds: [w for w in [*transcript, *extra] if w.start < seconds - 0.1]


def stream(core: RecognizerCore, seconds: float, end_input: bool = True) -> list:
    """Feed `seconds` of (silent) audio block by block, running the steps the driver would."""
    events = []
    for _ in range(int(round(seconds * RATE)) // BLOCK):
        core.ingest(np.zeros(BLOCK, np.float32))
        if core.end_of_utterance_due:
            events += core.end_utterance()
        elif core.decode_due:
            events += core.decode()
    if end_input:
        events += core.finish()
    return events


def committed(events) -> list[str]:
    return [w.text for e in events for w in e.committed]


def core_for(decoder, speech, **options) -> RecognizerCore:
    return RecognizerCore(decoder, RecognizerOptions(catch_up=False, **options), vad=ScriptedVad(speech))


def test_two_agreeing_hypotheses_commit_and_the_end_of_utterance_flushes_the_rest():
    said = spoken("hello there my friend.")
    decoder = ScriptedDecoder([heard(said)] * 10)
    events = stream(core_for(decoder, [(0.0, 1.2)]), 2.0)
    assert committed(events) == ["hello", "there", "my", "friend."]
    assert events[-1].end_of_utterance and events[-1].wall < 1.7  # flushed at the VAD's end
    assert decoder.calls[-1]["prefix"].startswith("hello")  # committed words are the forced prefix


def test_an_unlikely_word_flushed_alone_after_a_sentence_end_is_not_committed():
    # fw-jfk's invented "Great." (p 0.08) after "country." at the end of the input.
    said = spoken("for your country.")
    decoder = ScriptedDecoder([heard(said)] * 2 + [heard(said, Word("Great.", 0.9, 1.0, 0.08))])
    events = stream(core_for(decoder, [(0.0, 1.2)]), 1.0)
    assert committed(events) == ["for", "your", "country."]


def test_a_confident_short_answer_after_a_sentence_end_is_committed():
    said = spoken("for your country.")
    decoder = ScriptedDecoder([heard(said)] * 3 + [heard(said, Word("Yes.", 0.95, 1.2, 0.95))] * 3)
    events = stream(core_for(decoder, [(0.0, 1.3)]), 2.0)
    assert committed(events) == ["for", "your", "country.", "Yes."]


def test_a_flushed_word_after_the_speech_end_is_not_committed():
    # The VAD heard speech until 0.9 s; the final decode sees up to 1.1 s, where "bye." is invented.
    said = spoken("so thank you")
    decoder = ScriptedDecoder([heard(said)] * 3 + [heard(said, Word("bye.", 0.92, 1.0, 0.9))])
    events = stream(core_for(decoder, [(0.0, 0.9)]), 2.0)
    assert committed(events) == ["so", "thank", "you"]
    assert decoder.calls[-1]["seconds"] == pytest.approx(1.1)  # decoded up to the speech end + margin


def test_unlikely_words_before_a_confident_one_are_flushed_at_the_end_of_input():
    # fw-jfk cut at 6.5 s mid-sentence: a stray "Ask" broke the agreement of the tail, and the
    # final decode's misaligned "What" (p 0.18) and "your" (p 0.15) stopped the whole flush.
    interim = [Word("Ask", 0.8, 0.85, 0.0), Word("what", 0.85, 1.0, 0.5), Word("your", 1.0, 1.1, 0.88),
               Word("country.", 1.1, 1.2, 0.99)]
    final = [Word("What", 0.8, 0.86, 0.18), Word("your", 0.86, 1.1, 0.15), Word("country", 1.1, 1.22, 0.99),
             Word("can", 1.22, 1.3, 0.2)]
    decoder = ScriptedDecoder([interim, final])
    events = stream(core_for(decoder, [(0.8, 5.0)]), 1.3)
    assert len(decoder.calls) == 2
    assert committed(events) == ["What", "your", "country"]  # nothing confident vouches for "can"


def test_the_same_audio_decoded_twice_is_no_agreement():
    # The input ends right after a decode: the buffer has not grown, so the pending "Great."
    # must pass the flush checks instead of agreeing with a second decode of the same audio.
    said = spoken("ask what you")
    great = heard(said, Word("Great.", 0.95, 1.05, 0.2))
    decoder = ScriptedDecoder([heard(said), heard(said), great, great])
    events = stream(core_for(decoder, [(0.0, 5.0)]), 1.2)
    assert committed(events) == ["ask", "what", "you"]
    assert len(decoder.calls) == 3


def test_a_phrase_looping_across_decodes_is_not_committed_again():
    # fw-mit-en played backwards: one phrase committed again and again, one decode after another.
    # A decoder that loops says the whole phrase at once, whatever the audio holds.
    said = spoken("so the above copyright notice and this permission notice shall be included", step=0.2)
    again = spoken("the above copyright notice and this", start=2.7, step=0.1)
    decoder = ScriptedDecoder([lambda s: heard(said)(s) + (again if s > 2.8 else [])] * 20)
    events = stream(core_for(decoder, [(0.0, 4.5)]), 4.0)
    assert " ".join(committed(events)) == " ".join(w.text for w in said)


def test_a_decoder_echo_of_the_last_committed_word_is_dropped():
    said = spoken("ask not")
    echo = [*said, Word("not", 0.6, 0.65, 0.9), *spoken("what your", start=0.7)]
    decoder = ScriptedDecoder([heard(said)] * 2 + [heard(echo)] * 5)
    events = stream(core_for(decoder, [(0.0, 1.3)]), 2.0)
    assert committed(events) == ["ask", "not", "what", "your"]


def test_a_different_language_waits_for_a_second_of_speech_then_switches():
    # The speaker spoke English; the next utterance detects as German at 0.6, not sure enough
    # on under a second of audio: the recognizer waits rather than decode it as English (which
    # turned German into an English translation in a long stream), then switches.
    english = spoken("good morning.")
    german = spoken("guten morgen", start=0.6)  # in the buffer, which the switch cuts at 1.5 s
    decoder = ScriptedDecoder([heard(english)] * 3 + [heard(german)] * 6,
                              languages=[("en", 0.99)] * 2 + [("de", 0.6)] * 10)
    events = stream(core_for(decoder, [(0.0, 0.7), (1.8, 3.0)]), 4.0)
    assert [c["language"] for c in decoder.calls[:3]] == ["en", "en", "en"]
    assert {c["language"] for c in decoder.calls[3:]} == {"de"}
    assert decoder.calls[3]["prefix"] == ""  # the English words are not forced onto German
    assert [(e.lang, committed([e])) for e in events if e.committed] == \
        [("en", ["good", "morning."]), ("de", ["guten", "morgen"])]


def test_a_likely_switch_is_taken_when_a_weaker_next_detection_agrees():
    # syn-28-de after English, 49 minutes into a long stream: `de` 0.82 at 1.0 s, then `de` at
    # 0.38, 0.33 and 0.45. Waiting for a second detection as sure as the first kept English,
    # and the German came out as "I am not a good person".
    english = spoken("good morning.")
    german = spoken("guten morgen", start=0.6)
    decoder = ScriptedDecoder([heard(english)] * 3 + [heard(german)] * 6,
                              languages=[("en", 0.99)] * 2 + [("de", 0.82)] + [("de", 0.38)] * 10)
    events = stream(core_for(decoder, [(0.0, 0.7), (1.8, 3.0)]), 4.0)
    assert [c["language"] for c in decoder.calls[:3]] == ["en", "en", "en"]
    assert {c["language"] for c in decoder.calls[3:]} == {"de"}
    assert [(e.lang, committed([e])) for e in events if e.committed] == \
        [("en", ["good", "morning."]), ("de", ["guten", "morgen"])]


def test_one_detection_of_another_language_does_not_switch():
    # syn-02-en after English: `es` 0.51 at 1.4 s, `en` 0.97 at 1.8 s. Switching on the first
    # put its words out in Spanish.
    english = spoken("good morning.")
    more = spoken("can everyone hear me", start=0.6)
    decoder = ScriptedDecoder([heard(english)] * 3 + [heard(more)] * 6,
                              languages=[("en", 0.99)] * 2 + [("en", 0.95), ("es", 0.6)] + [("en", 0.95)] * 10)
    events = stream(core_for(decoder, [(0.0, 0.7), (1.8, 3.0)]), 4.0)
    assert {c["language"] for c in decoder.calls} == {"en"}
    assert {e.lang for e in events if e.committed} == {"en"}
    assert committed(events)[2:] == ["can", "everyone", "hear", "me"]


def test_a_detection_that_is_hardly_a_guess_waits_even_for_the_previous_language():
    # syn-28-de after English, among en, de, es and fr: `en` at 0.05 on its first second, then
    # `de`. Taking the weak `en` (the speaker's last language) put the German out in English.
    english = spoken("good morning.")
    german = spoken("guten morgen", start=0.6)
    decoder = ScriptedDecoder([heard(english)] * 3 + [heard(german)] * 6,
                              languages=[("en", 0.99)] * 2 + [("en", 0.05)] * 2 + [("de", 0.9)] * 10)
    events = stream(core_for(decoder, [(0.0, 0.7), (1.8, 3.0)]), 4.0)
    assert [c["language"] for c in decoder.calls[:3]] == ["en", "en", "en"]
    assert {c["language"] for c in decoder.calls[3:]} == {"de"}
    assert [(e.lang, committed([e])) for e in events if e.committed] == \
        [("en", ["good", "morning."]), ("de", ["guten", "morgen"])]


def test_trimming_at_a_sentence_end_moves_the_words_into_the_prompt():
    said = spoken("one two three four five six seven eight nine ten eleven twelve thirteen fourteen. "
                  "fifteen", step=0.45)
    # 18 decodes to "fifteen", which confirms the stop before it, and the cut after "fourteen.".
    decoder = ScriptedDecoder([heard(said)] * 18 + [[]] * 10)
    core = core_for(decoder, [(0.0, 9.0)], trim_s=6.0)
    events = stream(core, 8.4, end_input=False)
    assert committed(events)[-2:] == ["fourteen.", "fifteen"]
    assert decoder.calls[-1]["prompt"].endswith("fourteen.") and decoder.calls[-1]["prefix"] == "fifteen"
    assert core.buffer_seconds < 2.5


def test_a_full_stop_on_the_last_committed_word_is_no_cut_until_a_word_follows():
    # pv-en: "Class." committed from a decode that ended inside "classes"; cut there, the rest
    # of the word was heard as "Apostles". A stop that more words follow is a real one.
    said = spoken("one two three four five six seven eight.", step=0.45)
    decoder = ScriptedDecoder([heard(said)] * 20)
    core = core_for(decoder, [(0.0, 9.0)], trim_s=3.0)
    stream(core, 4.4, end_input=False)
    assert core.buffer_seconds > 4.0 and not any(c["prompt"] for c in decoder.calls)


def test_a_trim_at_a_clause_end_off_the_sample_grid_moves_that_word_into_the_prompt():
    # The cut rounds down to a whole sample, a little before the word's end; the word must leave
    # the buffer all the same. (It stayed as a forced prefix with no audio under it, and Whisper
    # looped on it: "not. Like your. Like your." on fw-jfk.)
    said = spoken("one two three four five, six seven eight nine", step=0.45033)
    # Decodes every 0.4 s; the 8th (3.2 s of buffer, past trim_s 3) cuts after "five,".
    decoder = ScriptedDecoder([heard(said)] * 8 + [[]] * 10)
    stream(core_for(decoder, [(0.0, 9.0)], trim_s=3.0), 4.4, end_input=False)
    after_cut = [c for c in decoder.calls if c["prompt"].endswith("five,")]
    assert after_cut, "no trim at the clause end"
    assert all(c["prefix"].split()[:1] == ["six"] for c in after_cut), [c["prefix"] for c in after_cut]


def test_silence_gets_no_decode():
    decoder = ScriptedDecoder([])
    assert stream(core_for(decoder, []), 3.0) == [] and decoder.calls == []


def test_audio_too_quiet_even_after_the_gain_is_reported_once(caplog):
    from hive_agent.audio import read_audio

    from eval_data import clip

    speech = read_audio(clip("fw-jfk")[0])[0][:, 0]
    noise = np.random.default_rng(0).standard_normal(len(speech)) * 10 ** (-80 / 20)
    too_quiet = (speech * 10 ** (-60 / 20) + noise).astype(np.float32)
    reports = []
    core = RecognizerCore(ScriptedDecoder([]), RecognizerOptions(catch_up=False), vad=ScriptedVad([]),
                          on_too_quiet=lambda: reports.append(core.audio_seconds))
    for i in range(0, len(too_quiet) - BLOCK, BLOCK):
        core.ingest(too_quiet[i:i + BLOCK])
    assert len(reports) == 1 and core.stats.too_quiet_s > 5.0
    assert "too quiet" in caplog.text
