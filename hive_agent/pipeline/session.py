"""One speaker's pipeline: recognizer -> translation units -> translators -> synthesizers.

Source captions are the recognizer's word events. Committed words are cut into units; each unit
is translated once into every wanted language by its route (identity, Marian, or Whisper's own
speech translation into English of the unit's audio) and spoken by that language's speech lane. When the machine falls behind, the recognizer skips
interim decodes of stale audio (counted as shed work); committed words and final units are
never dropped.

The stream's life follows livekit-agents' `RecognizeStream`: one worker task runs the stages, its
end closes the output channel, so iterating the session ends with it or re-raises its error;
`aclose` cancels and awaits every task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable

import numpy as np
from livekit.agents.utils import aio

from ..events import SpeechEvent, TranslationEvent, WordsEvent
from ..file_source import RealtimeClock
from ..observability.slo import SloTracker
from ..stt.recognizer import RecognizerOptions, StreamingRecognizer
from .audio_history import AudioHistory
from .engine import Engine, UnitTrace
from .outputs import Output, SpeechAudio
from .speech import SpeechLane
from .units import Unit, UnitBuilder
from .whisper_translation import MARGIN_S, RecentEncodings

log = logging.getLogger(__name__)


class SpeakerSession:
    def __init__(self, engine: Engine, speaker: str, source_language: str, targets: set[str],
                 clock: Callable[[], float] | None, realtime: bool):
        self.engine = engine
        self.speaker = speaker
        self.source_language = source_language
        self.realtime = realtime
        self._wall_clock = clock or RealtimeClock()
        self._outputs: aio.Chan[Output] = aio.Chan()
        self._tracker = SloTracker()
        self._units = UnitBuilder()
        self._history = AudioHistory()
        self._last_english = ""  # prompt for Whisper's translation of the next unit
        self._encodings = RecentEncodings()  # the recognizer's, for Whisper's translation to reuse
        self._previous_unit_end = 0.0  # stream time the unit before the one being translated ended
        self._lanes: dict[str, SpeechLane] = {}
        self._dropped_lanes: list[asyncio.Task] = []  # cancelled, awaited by aclose
        self._targets: set[str] = set()
        self._pushed_s = 0.0
        self.max_lag_s = 0.0
        self.mt_s = 0.0  # compute spent translating
        self._started = False
        self._traces: dict[tuple[str, str], UnitTrace] = {}  # (unit, lang) until its speech started
        self._units_in: aio.Chan[tuple[Unit, float]] = aio.Chan()
        self._recognizer = self._new_recognizer(language=source_language)
        engine.telemetry.session_started(speaker)
        self.set_targets(targets)
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"session-{speaker}")
        self._task.add_done_callback(lambda _: self._outputs.close())

    # ---------------------------------------------------------------- control
    def push_frame(self, samples: np.ndarray, sample_rate: int, num_channels: int = 1) -> None:
        """Non-blocking; raises AudioFormatError for audio that cannot be converted."""
        if not self._started and isinstance(self._wall_clock, RealtimeClock):
            self._wall_clock.start()
        self._started = True
        self._recognizer.push_frame(samples, sample_rate, num_channels)
        self._pushed_s += len(samples) / num_channels / sample_rate
        self._report_load()

    def set_targets(self, targets: Iterable[str]) -> None:
        """Translate into exactly these languages from now on."""
        targets = set(targets)
        for lang in self._targets - targets:
            lane = self._lanes.pop(lang, None)
            if lane is not None:
                lane.task.cancel()  # nobody listens to this language any more
                self._dropped_lanes = [t for t in self._dropped_lanes if not t.done()] + [lane.task]
        self._targets = targets
        for lang in targets - set(self._lanes):
            synth = self.engine.speech.get(lang)
            if synth is None:
                self.engine.warn_once(f"voice:{lang}", f"no voice for {lang}: captions only",
                                      lambda lang=lang: self.engine.telemetry.shed(f"no_voice_{lang}"))
                continue
            self._lanes[lang] = SpeechLane(lang, synth, self._emit, self._clock, self.realtime,
                                           on_first_audio=self._first_audio,
                                           on_error=lambda: self.engine.telemetry.stage_error("tts"),
                                           on_lag=self.engine.telemetry.set_speech_lag,
                                           on_skip=lambda _lang: self.engine.telemetry.shed("speech_unit"))

    def end_input(self) -> None:
        """The speaker is gone: finish what was heard (translated and spoken), then end outputs."""
        self._recognizer.end_input()

    async def aclose(self) -> None:
        """Stop now: every task of the session is cancelled and awaited."""
        await aio.cancel_and_wait(self._task, *(lane.task for lane in self._lanes.values()), *self._dropped_lanes)
        self._dropped_lanes.clear()
        await self._recognizer.aclose()
        self.engine.telemetry.session_ended(self.speaker)

    async def __aenter__(self) -> "SpeakerSession":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncIterator[Output]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Output]:
        """Outputs (events and speech) until every stage is done; the session's error is raised."""
        async for item in self._outputs:
            yield item
        if self._task.done() and not self._task.cancelled() and self._task.exception() is not None:
            raise self._task.exception()

    @property
    def lag_s(self) -> float:
        """Audio received but not yet heard by the recognizer."""
        return max(0.0, self._pushed_s - self._recognizer.audio_seconds)

    @property
    def speech_languages(self) -> set[str]:
        """The wanted languages that have a voice: the ones this session speaks."""
        return set(self._lanes)

    @property
    def recognizer(self) -> StreamingRecognizer:
        return self._recognizer

    @property
    def compute_s(self) -> float:
        """Compute spent on this speaker: recognition, translation, synthesis."""
        return self._recognizer.stats.compute_s + self.mt_s + sum(lane.synthesis_s for lane in self._lanes.values())

    # ---------------------------------------------------------------- stages
    def _clock(self) -> float:
        return self._wall_clock()

    def _new_recognizer(self, **options) -> StreamingRecognizer:
        return StreamingRecognizer(
            self.engine.whisper,
            RecognizerOptions.from_settings(self.engine.settings, catch_up=self.realtime, **options),
            clock=self._clock if self.realtime else None,
            on_decode=lambda seconds: self._stage_time("stt", seconds),
            on_shed=lambda: self.engine.telemetry.shed("interim_decode"),
            on_error=lambda: self.engine.telemetry.stage_error("stt"),
            on_audio=self._history.append,
            on_too_quiet=self.engine.telemetry.too_quiet,
            on_encoded=self._encodings.add,
            schedule=self.engine.decode_schedule if self.realtime else None)

    def _stage_time(self, stage: str, seconds: float) -> None:
        self.engine.telemetry.observe_stage(stage, seconds)
        self.engine.performance.record_stage(stage, seconds)

    async def _run(self) -> None:
        """Recognition and translation side by side (captions never wait for MT); when both are
        done (input ended and drained), every lane speaks what it was given."""
        loop = asyncio.get_running_loop()
        stages = [loop.create_task(self._follow_source(), name=f"source-{self.speaker}"),
                  loop.create_task(self._translate_units(), name=f"translate-{self.speaker}")]
        try:
            await asyncio.gather(*stages)
            for lane in list(self._lanes.values()):
                await lane.finish()
        except Exception:
            log.exception("pipeline of %s failed", self.speaker)  # the consumer decides (a room restarts it)
            await aio.cancel_and_wait(*(lane.task for lane in self._lanes.values()))  # nothing emits after the end
            raise
        finally:
            await aio.cancel_and_wait(*stages)

    async def _follow_source(self) -> None:
        try:
            async for event in self._recognizer:
                await self._emit(event)
                for unit in self._units.push(event):
                    self._units_in.send_nowait((unit, event.wall))
        finally:
            self._units_in.close()

    async def _translate_units(self) -> None:
        """Units in the order they were committed, each into every wanted language."""
        async for item in self._units_in:
            await self._translate(*item)

    async def _translate(self, unit: Unit, wall: float) -> None:
        after, self._previous_unit_end = self._previous_unit_end, unit.source_end

        async def one(lang: str) -> None:
            route = self.engine.route(unit.source_lang, lang)
            if route == "identity":
                await self._publish_translation(unit, lang, unit.text, wall, mt_s=0.0)
            elif route in ("marian", "whisper"):
                t0 = time.perf_counter()
                try:
                    text = await self._machine_translate(unit, lang, route, after)
                except Exception:
                    self.engine.telemetry.stage_error("mt")
                    raise
                mt_s = time.perf_counter() - t0
                self.mt_s += mt_s
                self._stage_time("mt", mt_s)
                await self._publish_translation(unit, lang, text, wall, mt_s)
            elif route is None:
                self.engine.warn_missing_route(unit.source_lang, lang)

        await asyncio.gather(*(one(lang) for lang in sorted(self._targets)))

    async def _machine_translate(self, unit: Unit, lang: str, route: str, after: float) -> str:
        """`after`: where the previous unit ended; Whisper hears only this unit's audio."""
        if route == "marian":
            return await self.engine.translator(unit.source_lang, lang).translate(unit.text)
        audio = self._encodings.covering(unit.source_start, unit.source_end, after)
        if audio is None:
            audio = self._history.span(unit.source_start - MARGIN_S, unit.source_end + MARGIN_S)
        text = await self.engine.speech_translator.translate(audio, unit.source_lang, self._last_english)
        self._last_english = text
        return text

    async def _publish_translation(self, unit: Unit, lang: str, text: str, wall: float, mt_s: float) -> None:
        """`wall`: when the unit's source was committed; in deterministic runs the event's time."""
        at = self._clock() if self.realtime else wall
        await self._emit(TranslationEvent(at, unit.id, lang, text, unit.source_end, unit.source_lang,
                                          unit.source_start))
        trace = UnitTrace(unit.id, lang, self.speaker, text, (wall - unit.source_end) * 1000, mt_s * 1000)
        self.engine.traces.append(trace)
        lane = self._lanes.get(lang)
        if lane is not None and text.strip():
            self._traces[(unit.id, lang)] = trace  # completed when its speech starts
            lane.say(unit.id, text, at)

    async def _emit(self, item: Output) -> None:
        if not isinstance(item, SpeechAudio):
            self._observe(item)
        self._outputs.send_nowait(item)

    def _observe(self, event: WordsEvent | TranslationEvent | SpeechEvent) -> None:
        telemetry = self.engine.telemetry
        seen = self._tracker.observe(event.as_json())
        for s in seen.caption_latency_s:
            telemetry.observe_caption_latency(s)
        for s in seen.commit_latency_s:
            telemetry.observe_commit_latency(s)
        telemetry.count_words(seen.committed, seen.retracted)
        if isinstance(event, WordsEvent):
            self.engine.performance.record_words([min(1.0, max(0.0, w.probability)) for w in event.committed],
                                                 seen.retracted)
        for (_, lang), s in seen.ttft_s.items():
            telemetry.observe_ttft(lang, s)
        for key, s in seen.end_to_end_s.items():
            telemetry.observe_end_to_end(key[1], s)
            if (trace := self._traces.pop(key, None)) is not None:
                trace.total_ms = s * 1000

    def _first_audio(self, unit: str, lang: str, seconds: float) -> None:
        self._stage_time("tts", seconds)
        if (trace := self._traces.get((unit, lang))) is not None:
            trace.tts_ms = seconds * 1000

    def _report_load(self) -> None:
        telemetry = self.engine.telemetry
        lag = self.lag_s
        self.max_lag_s = max(self.max_lag_s, lag)
        telemetry.set_lag(self.speaker, lag)
        telemetry.set_queue_depth("tts", sum(lane.depth for lane in self._lanes.values()))
