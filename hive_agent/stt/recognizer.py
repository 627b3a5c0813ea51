"""The streaming recognizer: push audio frames, iterate word events.

A thin async driver around `RecognizerCore` (the policy, in `core.py`), in the shape of
livekit-agents' `RecognizeStream`: frames are converted and re-cut into fixed blocks at the
boundary, one worker task feeds them to the core and runs its decode steps in a thread, and the
task's end closes the event channel, so iteration ends with the stream or re-raises its error.
The driver also owns timing: in real time, a `DecodeSchedule` (shared by all the streams of a
process) sets the interim cadence from the measured decode cost, and when audio still arrives
faster than decodes finish, the stale interim decodes are shed (never a commit).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

import numpy as np
from livekit.agents.utils import aio

from ..audio import SAMPLE_RATE, AudioConverter
from ..events import WordsEvent
from .core import RecognizerCore, RecognizerOptions, RecognizerStats
from .schedule import DecodeSchedule
from .whisper_decoder import EncodedAudio, WhisperDecoder

__all__ = ["RecognizerOptions", "RecognizerStats", "StreamingRecognizer"]

log = logging.getLogger(__name__)
BLOCK = SAMPLE_RATE // 50  # 20 ms


class StreamingRecognizer:
    def __init__(self, decoder: WhisperDecoder, options: RecognizerOptions,
                 clock: Callable[[], float] | None = None,
                 on_decode: Callable[[float], None] | None = None, on_shed: Callable[[], None] | None = None,
                 on_error: Callable[[], None] | None = None,
                 on_audio: Callable[[np.ndarray], None] | None = None,
                 on_too_quiet: Callable[[], None] | None = None,
                 on_encoded: Callable[[float, float, EncodedAudio], None] | None = None,
                 schedule: DecodeSchedule | None = None):
        """`schedule`: the process's shared decode schedule; a real-time stream without one
        gets its own. Deterministic streams (catch_up=False) decode every chunk_s. `on_encoded`:
        see `RecognizerCore` (called from the decode thread)."""
        self.options = options
        if schedule is None and options.catch_up:
            schedule = DecodeSchedule(options.chunk_s, options.decode_budget)
        self._schedule = schedule
        self._core = RecognizerCore(decoder, options, clock=clock, on_audio=on_audio, on_too_quiet=on_too_quiet,
                                    on_encoded=on_encoded)
        self._on_decode = on_decode
        self._on_shed = on_shed
        self._on_error = on_error
        self._converter = AudioConverter()
        self._unblocked = np.zeros(0, dtype=np.float32)
        self._input_ended = False
        # Made with the worker task, on the loop that runs it.
        self._blocks: aio.Chan[np.ndarray] | None = None
        self._events: aio.Chan[WordsEvent] | None = None
        self._task: asyncio.Task | None = None

    # ---------------------------------------------------------------- input side
    def push_frame(self, samples: np.ndarray, sample_rate: int, num_channels: int = 1) -> None:
        """Non-blocking: convert at the boundary (raises AudioFormatError) and queue.

        Audio is re-cut into fixed blocks so that the VAD and the decode schedule, and so the
        words, do not depend on how the source happens to frame its audio."""
        self._check_input_open()
        self._ensure_started()
        audio = self._converter.convert(samples, sample_rate, num_channels)
        self._unblocked = np.concatenate([self._unblocked, audio])
        whole = len(self._unblocked) // BLOCK * BLOCK
        for offset in range(0, whole, BLOCK):
            self._blocks.send_nowait(self._unblocked[offset:offset + BLOCK])
        self._unblocked = self._unblocked[whole:]

    def end_input(self) -> None:
        """No more audio: the pending tail is decoded and committed, then iteration ends."""
        self._check_input_open()
        self._ensure_started()
        tail = np.concatenate([self._unblocked, self._converter.flush()])
        self._unblocked = tail[:0]
        if tail.size:
            self._blocks.send_nowait(tail)
        self._input_ended = True
        self._blocks.close()

    async def aclose(self) -> None:
        self._input_ended = True
        if self._task is not None:
            self._blocks.close()
            await aio.cancel_and_wait(self._task)

    async def __aenter__(self) -> "StreamingRecognizer":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncIterator[WordsEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[WordsEvent]:
        self._ensure_started()
        async for event in self._events:
            yield event
        if self._task.done() and not self._task.cancelled() and self._task.exception() is not None:
            raise self._task.exception()

    @property
    def stats(self) -> RecognizerStats:
        return self._core.stats

    @property
    def audio_seconds(self) -> float:
        return self._core.audio_seconds

    @property
    def buffer_seconds(self) -> float:
        return self._core.buffer_seconds

    def _check_input_open(self) -> None:
        if self._input_ended:
            raise RuntimeError("the recognizer's input has ended: no audio can be pushed after end_input()")

    def _ensure_started(self) -> None:
        if self._task is None:
            self._blocks, self._events = aio.Chan(), aio.Chan()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="recognizer")
            self._task.add_done_callback(lambda _: self._events.close())

    # ---------------------------------------------------------------- worker
    async def _run(self) -> None:
        core = self._core
        try:
            async for block in self._blocks:
                core.ingest(block)
                if self._schedule is not None:
                    core.cadence_s = self._schedule.cadence_s
                if core.end_of_utterance_due:
                    await self._step(core.end_utterance)
                elif core.decode_due:
                    if self.options.catch_up and not self._blocks.empty():
                        core.stats.skipped_decodes += 1  # newer audio waiting: decode that instead
                        if self._on_shed is not None:
                            self._on_shed()
                        continue
                    await self._step(core.decode)
            await self._step(core.finish)
        except Exception:
            log.exception("recognizer failed")
            if self._on_error is not None:
                self._on_error()
            raise

    async def _step(self, step: Callable[[], list[WordsEvent]]) -> None:
        """Run one decode step of the core off the event loop and hand on its events."""
        decodes = self._core.stats.decodes
        t0 = time.perf_counter()
        events = await asyncio.to_thread(step)
        if self._core.stats.decodes > decodes:
            elapsed = time.perf_counter() - t0
            self._core.stats.compute_s += elapsed
            if self._schedule is not None:
                self._schedule.record(elapsed)
            if self._on_decode is not None:
                self._on_decode(elapsed)
        for event in events:
            self._events.send_nowait(event)
