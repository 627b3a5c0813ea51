"""Auto mode's choice of an utterance's language, from detections of its own audio.

Pure logic, no model: the recognizer core detects, this decides. It is asked again with each
decode until words are committed in the utterance; `reset` starts the next utterance.
"""

from __future__ import annotations

from dataclasses import dataclass

SWITCH_PROBABILITY = 0.7  # a detection this sure is taken at once
LIKELY_PROBABILITY = 0.5  # ... this likely, when repeated or heard over a second
SWITCH_MIN_S = 1.0  # a language other than the speaker's last is judged on this much audio
UNSURE_PROBABILITY = 0.2  # a detection below this says nothing, ...
WAIT_MAX_S = 2.0  # ... so a speaker who spoke before is heard this long before it counts


@dataclass(frozen=True)
class LanguageChoice:
    language: str | None  # None: not sure yet, decode when more audio has come
    switched: bool = False  # a switch away from the previous language: drop its context


class UtteranceLanguage:
    """- Detection on under a second of audio is unreliable, so a first guess must be confident,
      or likely and the same as the detection before.
    - A language other than the speaker's previous one is judged on a second of the utterance:
      a likely one is taken once the next detection agrees, however sure that one is (keeping
      the previous language on a weaker guess put German clips out in English in a long stream:
      syn-28-de, `de` 0.82 at 1.0 s, then 0.38, 0.33 and 0.45, became "I am not a good person";
      a single detection turned syn-02-en Spanish, `es` 0.51 at 1.4 s), and a switch drops the
      other language's context. After a switch a weaker guess keeps the new language (syn-28-de:
      `de` at 1.0 and 1.4 s, 0.27 at 1.8 s, and it was decoded as English).
    - A detection that is hardly a guess, even of the previous language, waits for more audio
      (syn-28-de after English, among en, de, es and fr: `en` 0.05 at 1 s, `de` 0.93 at 1.4 s)."""

    def __init__(self) -> None:
        self._last: tuple[str, float] | None = None  # this utterance's last (language, probability)
        self._switched_to: str | None = None  # the language this utterance switched to

    def reset(self) -> None:
        self._last = self._switched_to = None

    def choose(self, detected: tuple[str, float], seconds: float, previous: str | None,
               final: bool) -> LanguageChoice:
        """`detected` on `seconds` of the utterance; `previous`: the language of the speaker's
        last words, if any; `final`: no more audio will come for this utterance."""
        language, probability = detected
        last, self._last = self._last, detected
        repeated = last is not None and last[0] == language
        previous = self._switched_to or previous
        if previous is None:
            likely = probability >= LIKELY_PROBABILITY
            confident = probability >= SWITCH_PROBABILITY
            return LanguageChoice(language if final or (repeated and likely) or confident else None)
        if probability < UNSURE_PROBABILITY and not final and seconds < WAIT_MAX_S:
            return LanguageChoice(None)
        if language == previous:
            return LanguageChoice(language)
        heard_enough = seconds >= SWITCH_MIN_S
        if not heard_enough and not final:
            return LanguageChoice(None)
        bar = LIKELY_PROBABILITY if heard_enough else SWITCH_PROBABILITY
        if max(probability, last[1] if repeated else 0.0) < bar:
            return LanguageChoice(previous)
        if not (repeated or final):
            return LanguageChoice(None)  # a switch waits for a second detection to agree
        self._switched_to = language
        return LanguageChoice(language, switched=True)
