"""One language's spoken output: units synthesized in order, never overlapping.

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

from collections.abc import Awaitable, Callable

import numpy as np
from livekit.agents.utils import aio

from ..events import SpeechEvent
from ..tts.piper_synth import PiperSynthesizer
from .outputs import SpeechAudio

Emit = Callable[[object], Awaitable[None]]
log = logging.getLogger(__name__)


class SpeechLane:
    def __init__(self, lang: str, synthesizer: PiperSynthesizer, emit: Emit, clock: Callable[[], float],
                 paced: bool, on_first_audio: Callable[[str, str, float], None] | None = None,
                 on_error: Callable[[], None] | None = None):
        self.lang = lang
        self.synthesizer = synthesizer
        self._emit = emit
        self._clock = clock
        self._paced = paced
        self._on_first_audio = on_first_audio
        self._on_error = on_error
        self._queue: aio.Chan[tuple[str, str, float]] = aio.Chan()
        self._play_end = 0.0  # wall time the audio released so far finishes playing
        self.synthesis_s = 0.0  # time spent waiting for synthesized audio
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"speech-{lang}")

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def say(self, unit: str, text: str, ready_wall: float) -> None:
        """Queue a unit's translated text, ready at `ready_wall` (used when not paced)."""
        self._queue.send_nowait((unit, text, ready_wall))

    async def finish(self) -> None:
        """Speak everything queued, then stop."""
        self._queue.close()
        await self.task

    async def _run(self) -> None:
        async for item in self._queue:
            try:
                await self._speak(*item)
            except Exception:  # one unit's speech is lost, not the language's
                log.exception("speech of unit %s in %s failed", item[0], self.lang)
                if self._on_error is not None:
                    self._on_error()

    async def _speak(self, unit: str, text: str, ready_wall: float) -> None:
        """Each chunk goes out as soon as it is synthesized (the first clause first); an empty
        chunk marks the unit's end, so no chunk waits for the next to be known as the last."""
        audio_s = 0.0
        t0 = time.perf_counter()
        async for samples in self.synthesizer.stream(text):
            self.synthesis_s += time.perf_counter() - t0
            if audio_s == 0.0 and self._on_first_audio is not None:
                self._on_first_audio(unit, self.lang, time.perf_counter() - t0)
            chunk = SpeechAudio(unit, self.lang, samples, last=False)
            await self._release(unit, chunk, ready_wall, first=audio_s == 0.0)
            audio_s += chunk.duration_s
            t0 = time.perf_counter()
        if audio_s:
            await self._emit(SpeechAudio(unit, self.lang, np.zeros(0, np.int16), last=True))
            await self._emit(SpeechEvent(self._play_end, unit, self.lang, "end", audio_s))

    async def _release(self, unit: str, chunk: SpeechAudio, ready_wall: float, first: bool) -> None:
        now = self._clock() if self._paced else ready_wall
        start = max(now, self._play_end)
        if self._paced and start > now:
            await asyncio.sleep(start - now)  # the sink is still playing the previous audio
        if first:
            await self._emit(SpeechEvent(start, unit, self.lang, "start"))
        await self._emit(chunk)
        self._play_end = start + chunk.duration_s
