"""Guards that keep hallucinated text out of a hypothesis before it reaches the agreement."""

from __future__ import annotations

from collections.abc import Sequence

from ..events import Word
from ..text import normalise_word
from .whisper_decoder import DecodeResult, compression_ratio

# Whisper's own thresholds for "this window is silence" (openai/whisper transcribe()).
LOGPROB_SILENCE = -1.0
# Real speech seldom says five words again verbatim within a few sentences; loops always do.
LOOP_PHRASE_WORDS = 5
# A decoder that said the whole buffer and starts it over has said this many different words
# first; fewer is a loop of one phrase ("Great. Great. Great.").
RESTART_MIN_DISTINCT_WORDS = 3
# ... and its first pass reached this close to the end of the audio.
RESTART_END_MARGIN_S = 0.5


def words_in_audio(words: list[Word], content_end: float, margin: float = 0.1) -> list[Word]:
    """Words that start in the padding after the audio were invented by the decoder."""
    return [w for w in words if w.start < content_end - margin]


def drop_instants(words: list[Word], min_duration: float = 0.02) -> list[Word]:
    """Words the alignment squeezes into no time at the end of a hypothesis were not heard, only
    predicted (at the end of the audio, and in a loop there: "Great.[10.62-10.62]
    Great.[10.62-10.62]" on fw-jfk). An instant followed by heard words stays: the alignment
    squeezes short words ("of" after "Apostle." on pv-en), and taking one out of the middle
    would make the committed text, the next decode's prefix, skip a word the audio has."""
    end = len(words)
    while end and words[end - 1].end - words[end - 1].start < min_duration:
        end -= 1
    return words[:end]


def _starts_over(norm: list[str], i: int) -> bool:
    """Whether the normalised words say their first two again at index i."""
    return i >= 2 and norm[i:i + 2] == norm[0:2]


def buffer_restart(words: list[Word], context: list[Word], content_s: float) -> int | None:
    """Where the decoder, after the new words, starts its buffer over, as an index into `words`;
    None if it does not. With committed words at the buffer's beginning (`context`), a restart
    says their first two again. Without them, the words say their own first two again once they
    have said RESTART_MIN_DISTINCT_WORDS different words up to the end of the audio (syn-02-en
    an hour into a stream: "can everyone hear me clearly can everyone hear me clearly ...")."""
    if context:
        first = len(context)
        if first < 2:
            return None
        norm = [normalise_word(w.text) for w in [*context, *words]]
        return next((i - first for i in range(first + 1, len(norm)) if _starts_over(norm, i)), None)
    norm = [normalise_word(w.text) for w in words]
    return next((i for i in range(2, len(norm)) if _starts_over(norm, i)
                 and len(set(norm[:i])) >= RESTART_MIN_DISTINCT_WORDS
                 and words[i - 1].end >= content_s - RESTART_END_MARGIN_S), None)


def loop_start(norm: list[str], first: int = 0, restarts: bool = True) -> int | None:
    """Where a loop begins in the normalised words `norm`, looking from index `first` on: a
    phrase of 2+ words, of any length, repeated back to back, one word said three times, or
    (with `restarts`) the words starting over from their first two, as a decoder restarting its
    buffer does. None if there is none."""
    for i in range(first, len(norm)):
        if restarts and _starts_over(norm, i):
            return i
        if i >= 2 and norm[i] == norm[i - 1] == norm[i - 2]:
            return max(first, i - 1)
        for size in range(2, min(i, len(norm) - i) + 1):
            if norm[i:i + size] == norm[i - size:i]:
                return i
    return None


def cut_repetition(words: list[Word], context: list[Word] = ()) -> list[Word]:
    """Cut a loop in `words` (which follow `context`, the committed words at the buffer's
    beginning, so that the decoder starting over from them is a loop too)."""
    start = loop_start([normalise_word(w.text) for w in [*context, *words]], len(context))
    return words if start is None else words[:start - len(context)]


def phrase_repeat(norm: list[str], min_words: int = LOOP_PHRASE_WORDS) -> int | None:
    """Where a phrase of `min_words` words of `norm` is said a second time; None if none is."""
    seen = set()
    for i in range(len(norm) - min_words + 1):
        phrase = tuple(norm[i:i + min_words])
        if phrase in seen:
            return i
        seen.add(phrase)
    return None


def cut_recent_phrase(words: list[Word], recent: Sequence[str], min_words: int = LOOP_PHRASE_WORDS) -> list[Word]:
    """Cut `words` where they say again a phrase of `min_words` or more of the recently
    committed text (`recent`, normalised): a loop across decodes, which the prompt feeds (fw-mit-en
    played backwards committed one 11-word phrase six times, one decode after another)."""
    norm = [normalise_word(w.text) for w in words]
    recent = list(recent)
    seen = {tuple(recent[i:i + min_words]) for i in range(len(recent) - min_words + 1)}
    for i in range(len(norm) - min_words + 1):
        if tuple(norm[i:i + min_words]) in seen:
            return words[:i]
    return words


def heard_silence(result: DecodeResult, no_speech_threshold: float) -> bool:
    """Whisper's own test for "this window is silence": likely no speech, and unsure text."""
    return result.no_speech_probability > no_speech_threshold and result.avg_logprob < LOGPROB_SILENCE


def clean_hypothesis(result: DecodeResult, content_s: float, context: list[Word],
                     no_speech_threshold: float, compression_threshold: float,
                     recent: Sequence[str] = ()) -> list[Word]:
    """The words of `result` worth agreeing on. `context`: the committed words in the buffer,
    which the decoder was given as its prefix; `recent`: the normalised recent committed text."""
    if heard_silence(result, no_speech_threshold):
        return []
    words, text = result.words, result.text
    restart = buffer_restart(words, context, content_s)
    if restart is not None:
        # The decoder said the new words, then started its buffer over (fw-mit-en: "this
        # permission notice. Subject to the following..."): the start over is no evidence
        # against the new words, so the compression guard judges only them. A loop of new
        # words ("Great. Great. Great." on applause) still fails it as a whole.
        words = words[:restart]
        text = " ".join(w.text for w in words)
    if text and compression_ratio(text) > compression_threshold:
        return []
    # Loops first: the audio filter would otherwise keep the start of a loop and hide the rest.
    words = cut_recent_phrase(cut_repetition(words, context), recent)
    return drop_instants(words_in_audio(words, content_s))


def clean_text(result: DecodeResult, no_speech_threshold: float, compression_threshold: float) -> str:
    """The text of a decode without word times (a translation), through the silence, loop and
    compression guards. A loop is cut before the compression guard judges the rest: a
    translation that starts right and then loops ("to assemble, to assemble, ...") keeps its
    start instead of coming out empty. Text that says its first two words again later is no
    loop here (there is no buffer to restart), but a phrase of LOOP_PHRASE_WORDS said again is."""
    if heard_silence(result, no_speech_threshold):
        return ""
    tokens = result.text.split()
    norm = [normalise_word(t) for t in tokens]
    starts = [loop_start(norm, restarts=False), phrase_repeat(norm)]
    start = min((i for i in starts if i is not None), default=len(tokens))
    text = " ".join(tokens[:start])
    return "" if text and compression_ratio(text) > compression_threshold else text
