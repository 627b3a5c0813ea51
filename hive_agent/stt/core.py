"""The recognizer's policy, synchronous and free of threads and models.

Like whisper_streaming's `OnlineASRProcessor`, it takes 16 kHz audio blocks and a `Decoder`
(Whisper, or scripted results in tests) and owns the live buffer of the current utterance, the
language choice, LocalAgreement-2, commits, trimming and the end of utterance. The async driver
in `recognizer.py` decides when the decode steps run (and in which thread); this class decides
what they do. Every step returns the `WordsEvent`s it produced.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..audio import SAMPLE_RATE
from ..events import Word, WordsEvent
from ..settings import HiveSettings
from ..text import ends_clause, ends_sentence, normalise_word
from .agreement import LocalAgreement
from .gain import AutomaticGain
from .hypothesis import clean_hypothesis
from .language import UtteranceLanguage
from .vad import SpeechDetector, VadOptions
from .whisper_decoder import DecodeResult, EncodedAudio

log = logging.getLogger(__name__)
END_MARGIN_S = 0.2  # audio kept after the VAD's speech end in the final decode of an utterance
MIN_DECODE_S = 0.1  # less audio holds no word (and Whisper's word alignment fails on it)
OVERLAP_S = 0.02  # a word ending this little after the last commit lies in committed audio
REPEAT_GAP_S = 0.1  # the last committed word said again this soon after it is a decoder echo
RECENT_WORDS = 40  # committed words a new hypothesis must not loop back into
# Words the end-of-utterance flush commits without a second hypothesis agreeing must stand on
# their own: fw-jfk's invented closing "Great." had p 0.17, and the VAD's probability under it.
FLUSH_MIN_PROBABILITY = 0.3
FLUSH_VOUCH_PROBABILITY = 0.7  # ... unless a word this likely follows it
LONE_WORD_MAX_S = 0.3  # a short word standing alone after a sentence end ...
LONE_WORD_MIN_PROBABILITY = 0.7  # ... is flushed only when Whisper is this sure of it
TOO_QUIET_REPORT_S = 3.0


class Decoder(Protocol):
    def detect_language(self, audio: np.ndarray, candidates: Sequence[str] = ()) -> tuple[str, float]: ...

    def decode(self, audio: np.ndarray, *, language: str, prompt: str, prompt_language: str | None,
               prefix: str, prefix_end_s: float, pad_s: float, max_tokens_per_s: float) -> DecodeResult: ...


@dataclass(frozen=True)
class RecognizerOptions:
    language: str = "auto"  # or a fixed code
    spoken_languages: tuple[str, ...] = ()  # auto: the languages detection chooses among; () = any
    chunk_s: float = 0.4
    pad_s: float = 1.0
    interim_words: int = 2
    interim_min_probability: float = 0.6
    interim_guard_s: float = 0.3  # a word at the very end of the audio is often cut short
    prompt_chars: int = 200
    trim_s: float = 3.0
    max_buffer_s: float = 12.0
    max_tokens_per_s: float = 6.0
    no_speech_threshold: float = 0.6
    compression_ratio_threshold: float = 2.4
    vad: VadOptions = VadOptions()
    vad_pad_s: float = 0.3
    max_pause_s: float = 2.0  # a longer pause drops the previous words' audio from the buffer
    catch_up: bool = True  # True: decode only the newest audio (real time); False: every chunk (deterministic)
    decode_budget: float = 0.5  # real time: share of wall time all streams' decodes may take

    @classmethod
    def from_settings(cls, s: HiveSettings, **overrides) -> "RecognizerOptions":
        fields = dict(
            language=s.language, spoken_languages=s.spoken_language_codes, chunk_s=s.chunk_s, pad_s=s.pad_s,
            interim_words=s.interim_words,
            interim_min_probability=s.interim_min_probability, interim_guard_s=s.interim_guard_s,
            prompt_chars=s.prompt_chars, trim_s=s.trim_s, max_buffer_s=s.max_buffer_s,
            max_tokens_per_s=s.max_tokens_per_s, no_speech_threshold=s.no_speech_threshold,
            compression_ratio_threshold=s.compression_ratio_threshold, vad_pad_s=s.vad_pad_s,
            decode_budget=s.decode_budget,
            vad=VadOptions(s.vad_threshold, s.vad_min_silence_s, s.vad_min_speech_s))
        fields.update(overrides)
        return cls(**fields)


@dataclass
class RecognizerStats:
    decodes: int = 0
    compute_s: float = 0.0
    skipped_decodes: int = 0  # decodes shed because audio arrived faster than we decoded
    max_buffer_s: float = 0.0
    too_quiet_s: float = 0.0  # audio heard too quiet to recognise even after the gain


class RecognizerCore:
    def __init__(self, decoder: Decoder, options: RecognizerOptions, vad: SpeechDetector | None = None,
                 clock: Callable[[], float] | None = None,
                 on_audio: Callable[[np.ndarray], None] | None = None,
                 on_too_quiet: Callable[[], None] | None = None,
                 on_encoded: Callable[[float, float, EncodedAudio], None] | None = None):
        """`on_encoded(start, end, encoded)`: the encoding of each utterance's last decode, with
        the stream times it covers, for a translation of that audio to reuse."""
        self.decoder = decoder
        self.options = options
        self.stats = RecognizerStats()
        self._clock = clock
        self._on_audio = on_audio  # sees the audio as recognised, after the gain
        self._on_too_quiet = on_too_quiet
        self._on_encoded = on_encoded
        self._gain = AutomaticGain(SAMPLE_RATE)
        self._quiet_run_s = 0.0  # how long the audio has been too quiet, after the gain
        self._vad = vad if vad is not None else SpeechDetector(options.vad)
        self._agreement = LocalAgreement()

        self._audio_s = 0.0  # stream seconds received so far
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0.0  # stream time of _buffer[0]
        self._in_buffer: list[Word] = []  # committed words whose audio is still in the buffer
        self._recent: list[str] = []  # the last RECENT_WORDS committed words, normalised
        self._prompt = ""  # committed text that has left the buffer
        self._prompt_language: str | None = None
        self._language: str | None = None if options.language == "auto" else options.language
        self._utterance_language: str | None = self._language
        self._languages = UtteranceLanguage()
        self._speaking = False
        self._speech_end: float | None = None  # the VAD heard speech end here; the flush is due
        self._utterance_start = 0.0
        self._context_language: str | None = None  # language of the committed words in the buffer
        self._since_decode = 0.0
        self.cadence_s = options.chunk_s  # audio between interim decodes; the driver may adapt it
        self._decoded_at = -1.0  # stream time of the last decode
        self._shown: list[Word] = []
        self._last_committed: Word | None = None  # stays when the buffer is trimmed
        self._last_committed_end = 0.0
        self._events: list[WordsEvent] = []

    # ---------------------------------------------------------------- state the driver reads
    @property
    def audio_seconds(self) -> float:
        return self._audio_s

    @property
    def buffer_seconds(self) -> float:
        return len(self._buffer) / SAMPLE_RATE

    @property
    def end_of_utterance_due(self) -> bool:
        return self._speech_end is not None

    @property
    def decode_due(self) -> bool:
        return self._speaking and self._since_decode >= self.cadence_s

    @property
    def has_pending_words(self) -> bool:
        return self._speaking or bool(self._agreement.pending)

    # ---------------------------------------------------------------- steps
    def ingest(self, block: np.ndarray) -> None:
        """Take the next audio block: level it, buffer it, run the VAD. Cheap; never decodes."""
        block = self._gain.apply(block)
        self._report_level(len(block) / SAMPLE_RATE)
        if self._on_audio is not None:
            self._on_audio(block)
        self._audio_s += len(block) / SAMPLE_RATE
        self._buffer = np.concatenate([self._buffer, block])
        if self._speaking:
            self._since_decode += len(block) / SAMPLE_RATE
        for kind, t in self._vad.push(block):
            if kind == "start":
                self._speaking = True
                self._utterance_start = max(self._buffer_start, t - self.options.vad_pad_s)
                self._since_decode = self._audio_s - t
            else:
                self._speech_end = t
        if not self._speaking and not self._agreement.pending \
                and self._audio_s - self._last_committed_end > self.options.max_pause_s:
            # After a long pause the previous words stop being useful context.
            self._cut_at(self._audio_s - self.options.vad_pad_s)

    def decode(self) -> list[WordsEvent]:
        """An interim decode of the live buffer: commits what two hypotheses agree on."""
        self._decode(final=False)
        return self._take_events()

    def end_utterance(self) -> list[WordsEvent]:
        """The VAD heard the speech end: decode only up to it, so the silence cannot grow words,
        and commit the utterance."""
        speech_end, self._speech_end = self._speech_end, None
        self._decode(final=True, speech_end=speech_end)
        self._speaking = False
        return self._take_events()

    def finish(self) -> list[WordsEvent]:
        """No more audio: commit what is pending."""
        if self._speech_end is not None:
            return self.end_utterance()
        if self.has_pending_words:
            self._decode(final=True)
        return self._take_events()

    # ---------------------------------------------------------------- internals
    def _now(self) -> float:
        return self._clock() if self._clock is not None else self._audio_s

    def _take_events(self) -> list[WordsEvent]:
        events, self._events = self._events, []
        return events

    def _report_level(self, seconds: float) -> None:
        """Warn once (and call on_too_quiet) when the audio stays too quiet to recognise for
        TOO_QUIET_REPORT_S even after the gain; the onset of quiet speech is often briefly so."""
        if not self._gain.too_quiet:
            self._quiet_run_s = 0.0
            return
        self.stats.too_quiet_s += seconds
        self._quiet_run_s += seconds
        if self._quiet_run_s - seconds < TOO_QUIET_REPORT_S <= self._quiet_run_s:
            log.warning("audio too quiet to recognise even after %.0f dB of gain, at %.1f s of the stream",
                        self._gain.gain_db, self._audio_s)
            if self._on_too_quiet is not None:
                self._on_too_quiet()

    def _choose_language(self, final: bool) -> str | None:
        """Auto mode: detect the language of this utterance's own audio until words are committed
        in it (`language.UtteranceLanguage` decides); None means "not sure yet"."""
        if self._utterance_language is not None:
            return self._utterance_language
        start = int(max(0.0, self._utterance_start - self._buffer_start) * SAMPLE_RATE)
        utterance = self._buffer[start:]
        choice = self._languages.choose(self.decoder.detect_language(utterance, self.options.spoken_languages),
                                        len(utterance) / SAMPLE_RATE,
                                        self._context_language or self._prompt_language, final)
        if choice.switched:
            self._cut_at(self._utterance_start)
        return choice.language

    def _decode(self, final: bool, speech_end: float | None = None) -> None:
        self._since_decode = 0.0
        if not len(self._buffer):
            return
        if final and speech_end is None and self._audio_s == self._decoded_at:
            # No audio since the last decode: a second hypothesis of the same audio would agree
            # with the first and prove nothing (fw-jfk's invented "Great." at the end of input).
            committed, language = [], self._utterance_language or self._context_language or ""
        else:
            language = self._choose_language(final)
            if language is None:
                return
            committed = self._agreement.update(self._hypothesis(language, speech_end, final))
        if final:
            committed += self._heard(self._agreement.flush(), committed, speech_end)
        if committed and self._utterance_language is None:
            self._utterance_language = language  # the utterance keeps the language it began in
        self._commit(committed, language)
        self._emit(committed, language, end_of_utterance=final)
        if final:
            self._shown = []
            if self._language is None:
                self._utterance_language = None  # detect afresh: the speaker may switch language
                self._languages.reset()
        self._trim(utterance_ended=final)

    def _hypothesis(self, language: str, speech_end: float | None, final: bool) -> list[Word]:
        """Decode the buffer (up to the speech end, if given): the new words, cleaned, in stream time.
        The encoding of a final decode is handed on with the stream times it covers."""
        audio = self._buffer
        if speech_end is not None:
            audio = audio[:int(max(0.0, speech_end + END_MARGIN_S - self._buffer_start) * SAMPLE_RATE)]
        if len(audio) < MIN_DECODE_S * SAMPLE_RATE:
            return []  # a trim left only a sliver before the speech end
        result = self.decoder.decode(
            audio, language=language,
            prompt=self._prompt[-self.options.prompt_chars:] if self.options.prompt_chars else "",
            prompt_language=self._prompt_language, prefix=" ".join(w.text for w in self._in_buffer),
            prefix_end_s=self._in_buffer[-1].end - self._buffer_start if self._in_buffer else 0.0,
            pad_s=self.options.pad_s, max_tokens_per_s=self.options.max_tokens_per_s)
        self._decoded_at = self._audio_s
        if final and result.encoded is not None and self._on_encoded is not None:
            self._on_encoded(self._buffer_start, self._buffer_start + len(audio) / SAMPLE_RATE, result.encoded)
        self.stats.decodes += 1
        self.stats.max_buffer_s = max(self.stats.max_buffer_s, len(audio) / SAMPLE_RATE)
        words = clean_hypothesis(result, len(audio) / SAMPLE_RATE, self._in_buffer,
                                 self.options.no_speech_threshold, self.options.compression_ratio_threshold,
                                 recent=self._recent)
        return self._after_committed([self._to_stream_time(w) for w in words])

    def _heard(self, flushed: list[Word], agreed: list[Word], speech_end: float | None) -> list[Word]:
        """The flushed words up to the first that may not have been heard: one that starts after
        the speech ended, has no speech under it by the VAD, is unlikely, or is a short word
        standing alone after a sentence end (what a decoder says to audio that has stopped).
        An unlikely word that a confident, audible word follows is kept: Whisper is often unsure
        of a short word whose audio its alignment misplaces (fw-jfk cut at 6.5 s: "What" p 0.18,
        "your" p 0.15, "country" p 0.99), while an invented word ends what it says."""
        before = agreed[-1] if agreed else self._last_committed
        after_sentence = before is not None and ends_sentence(before.text)
        audible = [self._audible(w, speech_end) for w in flushed]
        vouched_until = max((i for i, w in enumerate(flushed)
                             if audible[i] and w.probability >= FLUSH_VOUCH_PROBABILITY), default=-1)
        kept = []
        for i, w in enumerate(flushed):
            lone = after_sentence and len(flushed) == 1 and w.end - w.start < LONE_WORD_MAX_S
            if not audible[i] \
                    or (w.probability < FLUSH_MIN_PROBABILITY and i > vouched_until) \
                    or (lone and w.probability < LONE_WORD_MIN_PROBABILITY):
                log.debug("end-of-utterance word %r (%.2f-%.2f s, p %.2f) not committed: not heard",
                          w.text, w.start, w.end, w.probability)
                break
            kept.append(w)
        return kept

    def _audible(self, w: Word, speech_end: float | None) -> bool:
        """Whether the word lies in speech: before the speech end, with speech under it by the VAD."""
        return (speech_end is None or w.start < speech_end) \
            and self._vad.speech_probability(w.start, w.end) >= self._vad.end_threshold

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
            self._recent = (self._recent + [normalise_word(w.text) for w in words])[-RECENT_WORDS:]
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
        self._events.append(WordsEvent(self._now(), lang, committed, shown, end_of_utterance))

    def _trim(self, utterance_ended: bool) -> None:
        """Bound the buffer, so that decodes stay short: past trim_s cut at the last committed
        sentence or clause end, past max_buffer_s at any committed word. Audio before the cut
        leaves; its words become the prompt. (Cutting after every finished sentence as well
        measured no better, and lost the words after "Ask not." on fw-jfk cut at 6.5 s.)

        Mid-utterance, a sentence or clause end counts only once a committed word follows it:
        Whisper puts a full stop where the audio it was given stops, so a stop on the last word
        may sit mid-word (pv-en: "the Middle Class." of "classes", cut there, was heard again as
        "Apostles")."""
        length = len(self._buffer) / SAMPLE_RATE
        if length <= self.options.trim_s:
            return
        cut = None
        for i, w in enumerate(self._in_buffer):
            followed = utterance_ended or i + 1 < len(self._in_buffer)
            if (followed and (ends_sentence(w.text) or ends_clause(w.text))) \
                    or length > self.options.max_buffer_s:
                cut = w.end
        if cut is not None:
            self._cut_at(cut)
        if len(self._buffer) / SAMPLE_RATE > self.options.max_buffer_s:
            # Nothing committed for too long (noise, a loop, no agreement): commit what was heard
            # and cut after it, so the rest is decoded again; with nothing heard, start over.
            committed = self._heard(self._agreement.flush(), [], None)
            self._commit(committed, self._utterance_language or "")
            self._emit(committed, self._utterance_language or "", end_of_utterance=False)
            end = self._buffer_start + len(self._buffer) / SAMPLE_RATE
            self._cut_at(committed[-1].end if committed else end - self.options.vad_pad_s)

    def _cut_at(self, stream_time: float) -> None:
        drop = int(max(0.0, stream_time - self._buffer_start) * SAMPLE_RATE)
        drop = min(drop, len(self._buffer))
        if not drop:
            return
        self._buffer = self._buffer[drop:]
        self._buffer_start += drop / SAMPLE_RATE
        # The cut rounds down to a whole sample: a word ending within one sample of it has gone.
        gone = [w for w in self._in_buffer if w.end <= self._buffer_start + 1 / SAMPLE_RATE]
        self._in_buffer = self._in_buffer[len(gone):]
        self._move_to_prompt(gone)

    def _move_to_prompt(self, words: list[Word]) -> None:
        if words:
            if self._context_language != self._prompt_language:
                self._prompt, self._prompt_language = "", self._context_language
            self._prompt = (self._prompt + " " + " ".join(w.text for w in words)).strip()[-1000:]
