"""Guards that keep hallucinated text out of a hypothesis before it reaches the agreement."""

from __future__ import annotations

from ..events import Word
from ..text import normalise_word
from .whisper_decoder import DecodeResult, compression_ratio

# Whisper's own thresholds for "this window is silence" (openai/whisper transcribe()).
LOGPROB_SILENCE = -1.0


def words_in_audio(words: list[Word], content_end: float, margin: float = 0.1) -> list[Word]:
    """Words that start in the padding after the audio were invented by the decoder."""
    return [w for w in words if w.start < content_end - margin]


def drop_trailing_instants(words: list[Word], min_duration: float = 0.02) -> list[Word]:
    """Words the alignment squeezes into no time at the end were not heard, only predicted."""
    end = len(words)
    while end and words[end - 1].end - words[end - 1].start < min_duration:
        end -= 1
    return words[:end]


def _starts_over(norm: list[str], i: int) -> bool:
    """Whether the normalised words say their first two again at index i."""
    return i >= 2 and norm[i:i + 2] == norm[0:2]


def context_restart(words: list[Word], context: list[Word]) -> int | None:
    """Where the decoder, after new words, starts over from the committed words at the
    buffer's beginning (`context`), as an index into `words`; None if it does not."""
    first = len(context)
    if first < 2:
        return None
    norm = [normalise_word(w.text) for w in [*context, *words]]
    return next((i - first for i in range(first + 1, len(norm)) if _starts_over(norm, i)), None)


def cut_repetition(words: list[Word], context: list[Word] = (), max_phrase: int = 6) -> list[Word]:
    """Cut a loop in `words` (which follow `context`): a phrase of 2+ words repeated back to
    back, one word said three times, or the decoder starting over from the buffer's beginning."""
    norm = [normalise_word(w.text) for w in [*context, *words]]
    first = len(context)
    for i in range(first, len(norm)):
        if _starts_over(norm, i):
            return words[:i - first]
        if i >= 2 and norm[i] == norm[i - 1] == norm[i - 2]:
            return words[:max(0, i - 1 - first)]
        for size in range(2, min(max_phrase, i) + 1):
            if i + size <= len(norm) and norm[i:i + size] == norm[i - size:i]:
                return words[:i - first]
    return words


def clean_hypothesis(result: DecodeResult, content_s: float, context: list[Word],
                     no_speech_threshold: float, compression_threshold: float) -> list[Word]:
    if result.no_speech_probability > no_speech_threshold and result.avg_logprob < LOGPROB_SILENCE:
        return []
    words, text = result.words, result.text
    restart = context_restart(words, context)
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
    return drop_trailing_instants(words_in_audio(cut_repetition(words, context), content_s))
