"""Piper speech at 48 kHz, first clause first, so a listener hears the start early.

Text is split into pieces (the first clause or sentence, then one piece per sentence); each
piece is synthesized and resampled through one streaming resampler per call, so the audio of
consecutive pieces joins without clicks and without silence beyond what Piper produces.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Iterator

import numpy as np
import onnxruntime
import soxr
from piper import PiperConfig, PiperVoice, SynthesisConfig

from ..audio import SPEECH_SAMPLE_RATE
from .voices import VoiceFiles, language_code

log = logging.getLogger(__name__)

MIN_CLAUSE_WORDS = 3  # a clause shorter than this sounds clipped when spoken alone

_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(\s+)")  # group 1: the gap to split at
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")


def _split_first_clause(sentence: str) -> list[str]:
    """Split at the first , ; : where both sides have at least MIN_CLAUSE_WORDS words."""
    total = len(sentence.split())
    for match in _CLAUSE_END.finditer(sentence):
        head_words = len(sentence[:match.start()].split())
        if head_words >= MIN_CLAUSE_WORDS and total - head_words >= MIN_CLAUSE_WORDS:
            return [sentence[:match.start()], sentence[match.end():]]
    return [sentence]


def split_for_speech(text: str) -> list[str]:
    """Pieces to synthesize in order: the first clause (or sentence), then one per sentence.

    Splits only at whitespace, so `" ".join(pieces).split() == text.split()`.
    """
    text = text.strip()
    sentences, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        sentences.append(text[start:match.start(1)])
        start = match.end(1)
    sentences.append(text[start:])
    sentences = [s for s in sentences if s]
    if not sentences:
        return []
    return _split_first_clause(sentences[0]) + sentences[1:]


def _lean_cpu_session(model) -> onnxruntime.InferenceSession:
    """Piper's tensors change size with every sentence; onnxruntime's CPU arena and memory
    patterns keep memory for the sizes seen, so a room session's memory grew in steps for half
    an hour. Without them (240 syntheses of 3-40 words, packaged voice): RSS 241-343 MB instead
    of 481 growing to 646 MB, for about 20 % more Piper time."""
    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    return onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])


def _to_int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)


class PiperSynthesizer:
    """One loaded Piper voice; thread-safe (each call has its own resampler)."""

    sample_rate_out = SPEECH_SAMPLE_RATE

    def __init__(self, voice: VoiceFiles, use_cuda: bool = False):
        if use_cuda and "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            log.warning("Piper voice %s: onnxruntime has no CUDA provider (install "
                        "onnxruntime-gpu for GPU speech); running on the CPU", voice.name)
            use_cuda = False
        self.voice_name = voice.name
        self.language = voice.language
        if use_cuda:
            self._piper = PiperVoice.load(voice.model, voice.config, use_cuda=True)
        else:  # PiperVoice.load takes no session options
            config = PiperConfig.from_dict(json.loads(voice.config.read_text(encoding="utf-8")))
            self._piper = PiperVoice(session=_lean_cpu_session(voice.model), config=config)
        providers = self._piper.session.get_providers()
        self.device = "cuda" if "CUDAExecutionProvider" in providers else "cpu"
        self.sample_rate_in = self._piper.config.sample_rate
        self._length_scale = self._piper.config.length_scale  # the voice's own pace

    def _new_resampler(self) -> soxr.ResampleStream:
        return soxr.ResampleStream(self.sample_rate_in, self.sample_rate_out, 1, dtype="float32")

    def _piece_audio(self, resampler: soxr.ResampleStream, piece: str, is_last: bool,
                     length_scale: float = 1.0) -> Iterator[np.ndarray]:
        """48 kHz int16 chunks of one piece; the last piece also flushes the resampler.
        `length_scale` below 1 speaks faster than the voice's own pace."""
        config = SynthesisConfig(length_scale=self._length_scale * length_scale)
        for chunk in self._piper.synthesize(piece, syn_config=config):
            out = resampler.resample_chunk(chunk.audio_float_array)
            if out.size:
                yield _to_int16(out)
        if is_last:
            tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
            if tail.size:
                yield _to_int16(tail)

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """int16 mono 48 kHz chunks, lazily: each piece is synthesized when it is asked for."""
        pieces = split_for_speech(text)
        resampler = self._new_resampler()
        for index, piece in enumerate(pieces):
            yield from self._piece_audio(resampler, piece, index == len(pieces) - 1)

    def _render(self, resampler: soxr.ResampleStream, piece: str, is_last: bool,
                length_scale: float) -> list[np.ndarray]:
        return list(self._piece_audio(resampler, piece, is_last, length_scale))

    async def stream(self, text: str, length_scale: float = 1.0) -> AsyncIterator[np.ndarray]:
        """Like `synthesize`, off the event loop; the next piece is synthesized while the
        consumer is still playing the current one, so pacing playback leaves no gap."""
        pieces = split_for_speech(text)
        if not pieces:
            return
        resampler = self._new_resampler()

        def start(index: int) -> asyncio.Future[list[np.ndarray]]:
            is_last = index == len(pieces) - 1
            return asyncio.ensure_future(asyncio.to_thread(self._render, resampler, pieces[index], is_last,
                                                           length_scale))

        pending = start(0)
        try:
            for index in range(len(pieces)):
                chunks = await pending
                # Pieces share the resampler, so the next one starts only after this one is done.
                if index + 1 < len(pieces):
                    pending = start(index + 1)
                for chunk in chunks:
                    yield chunk
        finally:
            pending.cancel()


class SpeechBank:
    """The Piper voices by language, each loaded once (at start with `load_all`, else on first use)."""

    def __init__(self, voices: dict[str, VoiceFiles], use_cuda: bool = False):
        self._voices = dict(voices)
        self._use_cuda = use_cuda
        self._loaded: dict[str, PiperSynthesizer] = {}
        self._lock = threading.Lock()

    def languages(self) -> list[str]:
        return sorted(self._voices)

    def load_all(self) -> None:
        for lang in self._voices:
            self.get(lang)

    def get(self, lang: str) -> PiperSynthesizer | None:
        """The synthesizer for `lang` ("es", "es_ES", "es-ES"); None when there is no voice."""
        code = language_code(lang)
        if code is None or code not in self._voices:
            return None
        with self._lock:
            if code not in self._loaded:
                self._loaded[code] = PiperSynthesizer(self._voices[code], use_cuda=self._use_cuda)
            return self._loaded[code]
