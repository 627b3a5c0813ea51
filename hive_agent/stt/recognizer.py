"""The streaming recognizer: push audio frames, iterate word events.

Per speaker it keeps the live audio buffer of the current utterance, decodes it every
`chunk_s` of new audio while the VAD hears speech, and commits words by LocalAgreement-2.
When the VAD hears the speech end, the tail is decoded once more and committed, so the last
words of an utterance are never held until the next one. Decoding runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import numpy as np

from ..audio import SAMPLE_RATE, AudioConverter
from ..events import Word, WordsEvent
from ..settings import HiveSettings
from ..text import ends_sentence, normalise_word
from .agreement import LocalAgreement
from .hypothesis import clean_hypothesis
from .vad import SpeechDetector, VadOptions
from .whisper_decoder import WhisperDecoder

log = logging.getLogger(__name__)
_END = object()
BLOCK = SAMPLE_RATE // 50  # 20 ms
LANGUAGE_SWITCH_PROBABILITY = 0.7
LANGUAGE_SWITCH_MIN_S = 1.0
LANGUAGE_REPEAT_PROBABILITY = 0.5  # a first guess this likely is taken when two detections agree
END_MARGIN_S = 0.2  # audio kept after the VAD's speech end in the final decode of an utterance
OVERLAP_S = 0.02  # a word ending this little after the last commit lies in committed audio
REPEAT_GAP_S = 0.1  # the last committed word said again this soon after it is a decoder echo


@dataclass(frozen=True)
class RecognizerOptions:
    language: str = "auto"  # or a fixed code
    chunk_s: float = 0.4
    pad_s: float = 1.0
    interim_words: int = 2
    interim_min_probability: float = 0.6
    interim_guard_s: float = 0.0
    prompt_chars: int = 200
    trim_s: float = 6.0
    max_buffer_s: float = 12.0
    max_tokens_per_s: float = 6.0
    no_speech_threshold: float = 0.6
    compression_ratio_threshold: float = 2.4
    vad: VadOptions = VadOptions()
    vad_pad_s: float = 0.3
    max_pause_s: float = 2.0  # a longer pause drops the previous words' audio from the buffer
    catch_up: bool = True  # True: decode only the newest audio (real time); False: every chunk (deterministic)

    @classmethod
    def from_settings(cls, s: HiveSettings, **overrides) -> "RecognizerOptions":
        fields = dict(
            language=s.language, chunk_s=s.chunk_s, pad_s=s.pad_s, interim_words=s.interim_words,
            interim_min_probability=s.interim_min_probability, interim_guard_s=s.interim_guard_s,
            prompt_chars=s.prompt_chars, trim_s=s.trim_s, max_buffer_s=s.max_buffer_s,
            max_tokens_per_s=s.max_tokens_per_s, no_speech_threshold=s.no_speech_threshold,
            compression_ratio_threshold=s.compression_ratio_threshold, vad_pad_s=s.vad_pad_s,
            vad=VadOptions(s.vad_threshold, s.vad_min_silence_s, s.vad_min_speech_s))
        fields.update(overrides)
        return cls(**fields)


@dataclass
class RecognizerStats:
    decodes: int = 0
    compute_s: float = 0.0
    skipped_decodes: int = 0  # decodes shed because audio arrived faster than we decoded
    max_buffer_s: float = 0.0


class StreamingRecognizer:
    def __init__(self, decoder: WhisperDecoder, options: RecognizerOptions,
                 clock: Callable[[], float] | None = None,
                 on_decode: Callable[[float], None] | None = None, on_shed: Callable[[], None] | None = None,
                 on_error: Callable[[], None] | None = None,
                 on_audio: Callable[[np.ndarray], None] | None = None):
        self.decoder = decoder
        self.options = options
        self._clock = clock
        self._on_decode = on_decode
        self._on_shed = on_shed
        self._on_error = on_error
        self._on_audio = on_audio  # sees the converted 16 kHz audio (the session keeps a history)
        self._converter = AudioConverter()
        self._unblocked = np.zeros(0, dtype=np.float32)
        self._vad = SpeechDetector(options.vad)
        self._agreement = LocalAgreement()
        self._inbox: asyncio.Queue = asyncio.Queue()
        self._outbox: asyncio.Queue = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self.stats = RecognizerStats()

        self._audio_s = 0.0  # stream seconds received so far
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0.0  # stream time of _buffer[0]
        self._in_buffer: list[Word] = []  # committed words whose audio is still in the buffer
        self._prompt = ""  # committed text that has left the buffer
        self._prompt_language: str | None = None
        self._language: str | None = None if options.language == "auto" else options.language
        self._utterance_language: str | None = self._language
        self._last_detected: str | None = None  # this utterance's previous detection, while unsure
        self._speaking = False
        self._utterance_start = 0.0
        self._context_language: str | None = None  # language of the committed words in the buffer
        self._since_decode = 0.0
        self._shown: list[Word] = []
        self._last_committed: Word | None = None  # stays when the buffer is trimmed
        self._last_committed_end = 0.0

    # ---------------------------------------------------------------- input side
    def push_frame(self, samples: np.ndarray, sample_rate: int, num_channels: int = 1) -> None:
        """Non-blocking: convert at the boundary (raises AudioFormatError) and queue.

        Audio is re-cut into fixed blocks so that the VAD and the decode schedule, and so the
        words, do not depend on how the source happens to frame its audio."""
        self._ensure_started()
        audio = self._converter.convert(samples, sample_rate, num_channels)
        if self._on_audio is not None:
            self._on_audio(audio)
        self._unblocked = np.concatenate([self._unblocked, audio])
        whole = len(self._unblocked) // BLOCK * BLOCK
        for offset in range(0, whole, BLOCK):
            self._inbox.put_nowait(self._unblocked[offset:offset + BLOCK])
        self._unblocked = self._unblocked[whole:]

    def end_input(self) -> None:
        """No more audio: the pending tail is decoded and committed, then iteration ends."""
        self._ensure_started()
        tail = np.concatenate([self._unblocked, self._converter.flush()])
        self._unblocked = tail[:0]
        if tail.size:
            self._inbox.put_nowait(tail)
        self._inbox.put_nowait(_END)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def __aiter__(self) -> AsyncIterator[WordsEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[WordsEvent]:
        self._ensure_started()
        while True:
            item = await self._outbox.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    @property
    def audio_seconds(self) -> float:
        return self._audio_s

    @property
    def buffer_seconds(self) -> float:
        return len(self._buffer) / SAMPLE_RATE

    def _ensure_started(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="recognizer")

    def _now(self) -> float:
        return self._clock() if self._clock is not None else self._audio_s

    # ---------------------------------------------------------------- worker
    async def _run(self) -> None:
        try:
            while True:
                item = await self._inbox.get()
                if item is _END:
                    if self._speaking or self._agreement.pending:
                        await self._decode(final=True)
                    break
                await self._ingest(item)
                if self._speaking and self._since_decode >= self.options.chunk_s:
                    if self.options.catch_up and not self._inbox.empty():
                        self.stats.skipped_decodes += 1  # newer audio waiting: decode that instead
                        if self._on_shed is not None:
                            self._on_shed()
                        continue
                    await self._decode(final=False)
            self._outbox.put_nowait(_END)
        except asyncio.CancelledError:
            self._outbox.put_nowait(_END)
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, who decides
            log.exception("recognizer failed")
            if self._on_error is not None:
                self._on_error()
            self._outbox.put_nowait(exc)

    async def _ingest(self, audio: np.ndarray) -> None:
        self._audio_s += len(audio) / SAMPLE_RATE
        self._buffer = np.concatenate([self._buffer, audio])
        if self._speaking:
            self._since_decode += len(audio) / SAMPLE_RATE
        for kind, t in self._vad.push(audio):
            if kind == "start":
                self._speaking = True
                self._utterance_start = max(self._buffer_start, t - self.options.vad_pad_s)
                self._since_decode = self._audio_s - t
            else:
                # The end is known min_silence_s after the speech stopped: flush the utterance,
                # decoding only up to the speech end so the silence cannot grow words.
                await self._decode(final=True, speech_end=t)
                self._speaking = False
        if not self._speaking and not self._agreement.pending \
                and self._audio_s - self._last_committed_end > self.options.max_pause_s:
            # After a long pause the previous words stop being useful context.
            self._cut_at(self._audio_s - self.options.vad_pad_s)

    async def _choose_language(self, final: bool) -> str | None:
        """Auto mode: detect the language of this utterance's own audio until words are committed
        in it. Detection on under a second of audio is unreliable, so a first guess must be
        confident, or likely and the same as the detection before (else wait for more audio,
        returning None), and the speaker's previous language holds unless the new one is
        confident; a switch drops the other language's context."""
        if self._utterance_language is not None:
            return self._utterance_language
        start = int(max(0.0, self._utterance_start - self._buffer_start) * SAMPLE_RATE)
        utterance = self._buffer[start:]
        language, probability = await asyncio.to_thread(self.decoder.detect_language, utterance)
        sure = probability >= LANGUAGE_SWITCH_PROBABILITY and len(utterance) >= LANGUAGE_SWITCH_MIN_S * SAMPLE_RATE
        previous = self._context_language or self._prompt_language
        if previous is None:
            repeated = language == self._last_detected and probability >= LANGUAGE_REPEAT_PROBABILITY
            self._last_detected = language
            return language if final or repeated or probability >= LANGUAGE_SWITCH_PROBABILITY else None
        if language != previous:
            if not sure:
                return previous
            self._cut_at(self._utterance_start)
        return language

    async def _decode(self, final: bool, speech_end: float | None = None) -> None:
        self._since_decode = 0.0
        if not len(self._buffer):
            return
        t0 = time.perf_counter()
        language = await self._choose_language(final)
        if language is None:
            return  # not sure of the language yet: decode when more audio has come
        audio = self._buffer
        if speech_end is not None:
            audio = audio[:int(max(0.0, speech_end + END_MARGIN_S - self._buffer_start) * SAMPLE_RATE)]
        result = await asyncio.to_thread(
            self.decoder.decode, audio, language=language,
            prompt=self._prompt[-self.options.prompt_chars:] if self.options.prompt_chars else "",
            prompt_language=self._prompt_language, prefix=" ".join(w.text for w in self._in_buffer),
            pad_s=self.options.pad_s, max_tokens_per_s=self.options.max_tokens_per_s)
        elapsed = time.perf_counter() - t0
        self.stats.compute_s += elapsed
        self.stats.decodes += 1
        if self._on_decode is not None:
            self._on_decode(elapsed)
        self.stats.max_buffer_s = max(self.stats.max_buffer_s, len(audio) / SAMPLE_RATE)

        words = clean_hypothesis(result, len(audio) / SAMPLE_RATE, self._in_buffer,
                                 self.options.no_speech_threshold, self.options.compression_ratio_threshold)
        committed = self._agreement.update(self._after_committed([self._to_stream_time(w) for w in words]))
        if final:
            committed += self._agreement.flush()
        if committed and self._utterance_language is None:
            self._utterance_language = result.language  # the utterance keeps the language it began in
        self._commit(committed, result.language)
        self._emit(committed, result.language, end_of_utterance=final)
        if final:
            self._shown = []
            if self._language is None:
                self._utterance_language = None  # detect afresh: the speaker may switch language
                self._last_detected = None
        self._trim()

    def _to_stream_time(self, w: Word) -> Word:
        return Word(w.text, self._buffer_start + w.start, self._buffer_start + w.end, w.probability)

    def _after_committed(self, tail: list[Word]) -> list[Word]:
        """Drop leading words the decoder says again although they are committed: words inside
        committed audio, and a repeat of the last committed word right where it ended (real
        speech rarely repeats a word with no pause; a decoder at the end of its audio often does).
        Keep word times after the last commit."""
        last = normalise_word(self._last_committed.text) if self._last_committed else None
        first = 0
        while first < len(tail):
            w = tail[first]
            inside = w.end <= self._last_committed_end + OVERLAP_S
            repeated = normalise_word(w.text) == last and w.start < self._last_committed_end + REPEAT_GAP_S
            if not (inside or repeated):
                break
            first += 1
        return [Word(w.text, max(w.start, self._last_committed_end), max(w.end, self._last_committed_end),
                     w.probability) for w in tail[first:]]

    def _commit(self, words: list[Word], language: str) -> None:
        if words:
            self._in_buffer.extend(words)
            self._last_committed = words[-1]
            self._last_committed_end = words[-1].end
            self._context_language = self._utterance_language or language

    def _interim(self) -> list[Word]:
        """The part of the uncommitted tail worth showing: its first words, while they are
        confident and not at the very end of the audio (where words are often cut short)."""
        shown = []
        for w in self._agreement.pending[:self.options.interim_words]:
            if w.probability < self.options.interim_min_probability \
                    or w.end > self._audio_s - self.options.interim_guard_s:
                break
            shown.append(w)
        return shown

    def _emit(self, committed: list[Word], language: str, end_of_utterance: bool) -> None:
        shown = self._interim()
        if not committed and not end_of_utterance and [w.text for w in shown] == [w.text for w in self._shown]:
            return
        self._shown = shown
        lang = self._utterance_language or self._context_language or language
        self._outbox.put_nowait(WordsEvent(self._now(), lang, committed, shown, end_of_utterance))

    def _trim(self) -> None:
        """Bound the buffer: cut at a committed sentence end past trim_s, at any committed word
        past max_buffer_s. Audio before the cut leaves; its words become the prompt."""
        length = len(self._buffer) / SAMPLE_RATE
        if length <= self.options.trim_s:
            return
        cut = None
        for w in self._in_buffer:
            if ends_sentence(w.text) or length > self.options.max_buffer_s:
                cut = w.end
        if cut is not None:
            self._cut_at(cut)
        if len(self._buffer) / SAMPLE_RATE > self.options.max_buffer_s:
            # Nothing committed for too long (noise, a loop): commit what is there, start over.
            committed = self._agreement.flush()
            self._commit(committed, self._utterance_language or "")
            self._emit(committed, self._utterance_language or "", end_of_utterance=False)
            self._cut_at(self._buffer_start + len(self._buffer) / SAMPLE_RATE - self.options.vad_pad_s)

    def _cut_at(self, stream_time: float) -> None:
        drop = int(max(0.0, stream_time - self._buffer_start) * SAMPLE_RATE)
        drop = min(drop, len(self._buffer))
        if not drop:
            return
        self._buffer = self._buffer[drop:]
        self._buffer_start += drop / SAMPLE_RATE
        gone = [w for w in self._in_buffer if w.end <= self._buffer_start + 1e-6]
        self._in_buffer = self._in_buffer[len(gone):]
        self._move_to_prompt(gone)

    def _move_to_prompt(self, words: list[Word]) -> None:
        if words:
            if self._context_language != self._prompt_language:
                self._prompt, self._prompt_language = "", self._context_language
            self._prompt = (self._prompt + " " + " ".join(w.text for w in words)).strip()[-1000:]
