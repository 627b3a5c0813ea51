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


def cut_repetition(words: list[Word], context: list[Word] = (), max_phrase: int = 6) -> list[Word]:
    """Cut a loop in `words` (which follow `context`): a phrase of 2+ words repeated back to
    back, one word said three times, or the decoder starting over from the buffer's beginning."""
    norm = [normalise_word(w.text) for w in [*context, *words]]
    first = len(context)
    for i in range(first, len(norm)):
        if i >= 2 and norm[i:i + 2] == norm[0:2]:
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
    # Loops first: the audio filter would otherwise keep the start of a loop and hide the rest.
    # The compression guard then judges what is left: a decoder that says the new words and
    # then starts the buffer over compresses well, but its first words are real.
    words = cut_repetition(result.words, context)
    if words and compression_ratio(" ".join(w.text for w in words)) > compression_threshold:
        return []
    return drop_trailing_instants(words_in_audio(words, content_s))
