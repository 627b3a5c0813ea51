"""Quality figures of metrics.md and the reference alignment that benchmarks time words against.

- WER compares text normalised by `text.normalise` (lower case, punctuation and symbols stripped,
  whitespace collapsed; letters of every script kept).
- `wer` (jiwer) of the committed source text, `chrf` (sacrebleu, 0-100) of translated text.
- `reference_words`: an offline faster-whisper pass over a whole file with word timestamps;
  `align_reference_ends` matches the pipeline's words to those in order, so latencies can be
  measured against word ends that do not depend on the streaming decoder's own timestamps.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import jiwer
import numpy as np
import sacrebleu

from ..errors import AudioFormatError
from ..text import normalise

if TYPE_CHECKING:
    from faster_whisper import WhisperModel


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of `hypothesis` against `reference`, both normalised first."""
    ref = normalise(reference)
    if not ref:
        raise ValueError(f"WER needs a reference with words; got {reference!r} "
                         "(check the manifest's transcript for this clip)")
    return float(jiwer.wer(ref, normalise(hypothesis)))


def chrf(hypothesis: str | Sequence[str], reference: str | Sequence[str]) -> float:
    """chrF (0-100): sentence chrF for two strings, corpus chrF for two equal-length lists."""
    if isinstance(hypothesis, str) and isinstance(reference, str):
        return float(sacrebleu.sentence_chrf(hypothesis, [reference]).score)
    if isinstance(hypothesis, str) or isinstance(reference, str):
        raise TypeError("chrf takes two strings or two lists of strings, not a mix")
    if len(hypothesis) != len(reference):
        raise ValueError(f"chrf got {len(hypothesis)} hypotheses for {len(reference)} references")
    return float(sacrebleu.corpus_chrf(list(hypothesis), [list(reference)]).score)


def align_reference_ends(reference_words: Sequence[dict], output_words: Sequence[dict]
                         ) -> tuple[list[float | None], float]:
    """For each output word, the end time of the reference word it matches, else None.

    Words are matched in order on their normalised text (longest matching blocks, as difflib
    finds them); substituted, inserted and punctuation-only words get None. Returns the ends
    and the share of output words matched (0.0 when there are none).
    """
    ref_tokens = [normalise(w["text"]) for w in reference_words]
    out_tokens = [normalise(w["text"]) for w in output_words]
    ends: list[float | None] = [None] * len(out_tokens)
    matcher = difflib.SequenceMatcher(None, ref_tokens, out_tokens, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            if out_tokens[block.b + k]:
                ends[block.b + k] = float(reference_words[block.a + k]["end"])
    matched = sum(end is not None for end in ends)
    return ends, (matched / len(ends) if ends else 0.0)


def load_reference_model(model_dir: Path | str) -> WhisperModel:
    """The reference model on the CPU, int8, 2 threads (the machines here have 2 cores)."""
    from faster_whisper import WhisperModel

    return WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=2)


def reference_words(audio: np.ndarray, model: Path | str | WhisperModel,
                    language: str | None = None) -> list[dict]:
    """Words of an offline pass over the whole clip: `{"text", "start", "end"}` in seconds.

    `audio` is 16 kHz mono float32; `model` is a Whisper model directory or a loaded
    `WhisperModel` (load it once when aligning many clips). `language=None` detects it.
    """
    if not isinstance(audio, np.ndarray) or audio.ndim != 1 or audio.dtype != np.float32:
        shape = getattr(audio, "shape", None)
        dtype = getattr(audio, "dtype", type(audio).__name__)
        raise AudioFormatError(f"reference_words needs 16 kHz mono float32 samples (1-D array); "
                               f"got shape {shape}, dtype {dtype}. Fix: load the file with "
                               "soundfile.read(path, dtype='float32') and resample to 16 kHz")
    if isinstance(model, (str, Path)):
        model = load_reference_model(model)
    segments, _info = model.transcribe(audio, language=language, beam_size=5,
                                       word_timestamps=True)
    words = []
    for segment in segments:
        for word in segment.words or ():
            text = word.word.strip()
            if text:
                words.append({"text": text, "start": round(float(word.start), 3),
                              "end": round(float(word.end), 3)})
    return words
