"""One language's spoken output: units synthesized in order, never overlapping, keeping up.

Translated speech is often longer than its source (German -> English), so units queue. When they
do, the lane catches up: units waiting together are merged into one utterance, spoken faster the
further speech lags behind (Piper's length scale down to MIN_LENGTH_SCALE at FULL_SPEED_LAG_S),
and past MAX_LAG_S it skips to the newest unit. Captions are never skipped; only speech is.

Audio is released as a real-time sink would play it: in a paced lane a unit starts when the
previous one has finished playing, so `speech` events carry the wall time the listener hears
the first frame. Unpaced (deterministic runs) the same schedule is computed, not waited for.
A unit whose synthesis fails is logged, reported to `on_error` and skipped; the lane goes on
with the next unit, so a failing voice keeps being tried (and its stage health sees it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from collections.abc import Awaitable, Callable

import numpy as np
from livekit.agents.utils import aio

from ..events import SpeechEvent
from ..tts.piper_synth import PiperSynthesizer
from .outputs import SpeechAudio

Emit = Callable[[object], Awaitable[None]]
log = logging.getLogger(__name__)
MIN_LENGTH_SCALE = 0.75  # a third faster: still clear speech
FULL_SPEED_LAG_S = 2.0
MAX_LAG_S = 3.0


@dataclass(frozen=True)
class _Queued:
    unit: str
    text: str
    ready_wall: float


def length_scale(lag_s: float) -> float:
    """Piper length scale for speech that lags `lag_s` behind its text: 1 on time, falling
    linearly to MIN_LENGTH_SCALE at FULL_SPEED_LAG_S."""
    return 1.0 - (1.0 - MIN_LENGTH_SCALE) * min(1.0, max(0.0, lag_s) / FULL_SPEED_LAG_S)


class SpeechLane:
    def __init__(self, lang: str, synthesizer: PiperSynthesizer, emit: Emit, clock: Callable[[], float],
                 paced: bool, on_first_audio: Callable[[str, str, float], None] | None = None,
                 on_error: Callable[[], None] | None = None,
                 on_lag: Callable[[str, float], None] | None = None,
                 on_skip: Callable[[str], None] | None = None):
        self.lang = lang
        self.synthesizer = synthesizer
        self._emit = emit
        self._clock = clock
        self._paced = paced
        self._on_first_audio = on_first_audio
        self._on_error = on_error
        self._on_lag = on_lag  # (lang, seconds the next speech starts after its text was ready)
        self._on_skip = on_skip  # (lang): a unit's speech skipped to catch up
        self._queue: aio.Chan[_Queued] = aio.Chan()
        self._play_end = 0.0  # wall time the audio released so far finishes playing
        self.synthesis_s = 0.0  # time spent waiting for synthesized audio
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"speech-{lang}")

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def say(self, unit: str, text: str, ready_wall: float) -> None:
        """Queue a unit's translated text, ready at `ready_wall` (used when not paced)."""
        self._queue.send_nowait(_Queued(unit, text, ready_wall))

    async def finish(self) -> None:
        """Speak everything queued, then stop."""
        self._queue.close()
        await self.task

    async def _run(self) -> None:
        async for first in self._queue:
            waiting = [first]
            # Only a paced lane merges: unpaced, what has arrived depends on thread timing, and
            # deterministic runs must not.
            while self._paced and not self._queue.empty():
                waiting.append(self._queue.recv_nowait())
            lag = max(self._now(waiting[-1]), self._play_end) - waiting[0].ready_wall
            if self._on_lag is not None:
                self._on_lag(self.lang, lag)
            if lag > MAX_LAG_S and len(waiting) > 1:
                for skipped in waiting[:-1]:
                    log.info("speech of unit %s in %s skipped: %.1f s behind", skipped.unit, self.lang, lag)
                    if self._on_skip is not None:
                        self._on_skip(self.lang)
                waiting = waiting[-1:]
                lag = max(self._now(waiting[0]), self._play_end) - waiting[0].ready_wall
            try:
                await self._speak(waiting, length_scale(lag))
            except Exception:  # one utterance's speech is lost, not the language's
                log.exception("speech of unit(s) %s in %s failed", ", ".join(q.unit for q in waiting), self.lang)
                if self._on_error is not None:
                    self._on_error()

    def _now(self, item: _Queued) -> float:
        return self._clock() if self._paced else item.ready_wall

    async def _speak(self, units: list[_Queued], scale: float) -> None:
        """The units as one utterance. Each chunk goes out as soon as it is synthesized (the first
        clause first); an empty chunk marks the utterance's end, so no chunk waits for the next
        to be known as the last. Every merged unit gets its own speech start and end."""
        audio_s = 0.0
        ready_wall = units[-1].ready_wall
        t0 = time.perf_counter()
        async for samples in self.synthesizer.stream(" ".join(q.text for q in units), length_scale=scale):
            self.synthesis_s += time.perf_counter() - t0
            first = audio_s == 0.0
            if first and self._on_first_audio is not None:
                for q in units:
                    self._on_first_audio(q.unit, self.lang, time.perf_counter() - t0)
            chunk = SpeechAudio(units[0].unit, self.lang, samples, last=False)
            await self._release([q.unit for q in units] if first else [], chunk, ready_wall)
            audio_s += chunk.duration_s
            t0 = time.perf_counter()
        if audio_s:
            await self._emit(SpeechAudio(units[0].unit, self.lang, np.zeros(0, np.int16), last=True))
            for q in units:
                await self._emit(SpeechEvent(self._play_end, q.unit, self.lang, "end", audio_s))

    async def _release(self, starting: list[str], chunk: SpeechAudio, ready_wall: float) -> None:
        """Release a chunk when the sink has played what came before; `starting`: the units whose
        speech starts with this chunk."""
        now = self._clock() if self._paced else ready_wall
        start = max(now, self._play_end)
        if self._paced and start > now:
            await asyncio.sleep(start - now)  # the sink is still playing the previous audio
        for unit in starting:
            await self._emit(SpeechEvent(start, unit, self.lang, "start"))
        await self._emit(chunk)
        self._play_end = start + chunk.duration_s
