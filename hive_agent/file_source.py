"""Feed audio into a pipeline as a live source would: small frames, optionally paced
at wall-clock speed (then the pipeline's compute time counts, as in a room), and drain what
comes out (`run_file`: what the commands, the benchmarks and the tests run)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol, TypeVar

import numpy as np

FRAME_S = 0.02
Push = Callable[[np.ndarray, int, int], None]  # (samples, sample rate, channels)
T = TypeVar("T", covariant=True)


class RealtimeClock:
    """Monotonic seconds since the first frame was fed (the event log's `wall`)."""

    def __init__(self) -> None:
        self._t0: float | None = None

    def start(self) -> None:
        self._t0 = time.monotonic()

    def __call__(self) -> float:
        return 0.0 if self._t0 is None else time.monotonic() - self._t0


async def feed_samples(data: np.ndarray, rate: int, push: Push,
                       clock: RealtimeClock | None = None) -> float:
    """Push `data` ((frames, channels) or mono) in 20 ms frames; paced when `clock` is given.
    Returns the seconds of audio fed."""
    channels = data.shape[1] if data.ndim == 2 else 1
    step = int(rate * FRAME_S)
    if clock is not None:
        clock.start()
    for i in range(0, len(data), step):
        frame = data[i:i + step]
        push(np.ascontiguousarray(frame.reshape(-1)), rate, channels)  # interleaved, like rtc.AudioFrame
        if clock is not None:
            delay = (i + len(frame)) / rate - clock()
            if delay > 0:
                await asyncio.sleep(delay)
        else:
            await asyncio.sleep(0)  # let the worker run: deterministic order, no pacing
    return len(data) / rate


class AudioStream(Protocol[T]):
    """A pipeline stream (`StreamingRecognizer`, `SpeakerSession`): frames in, outputs out."""

    def push_frame(self, samples: np.ndarray, sample_rate: int, num_channels: int = 1) -> None: ...

    def end_input(self) -> None: ...

    def __aiter__(self) -> AsyncIterator[T]: ...

    async def __aenter__(self) -> AudioStream[T]: ...

    async def __aexit__(self, *exc) -> None: ...


async def feed_and_drain(stream: AudioStream[T], feed: Awaitable[float], on_output: Callable[[T], None]) -> float:
    """Run `feed` (it pushes the audio into `stream`), end the input, hand every output to
    `on_output` until the stream ends, and close the stream. Raises the stream's error.
    Returns what `feed` returned (seconds of audio fed)."""

    from livekit.agents.utils import aio  # a second to import: not for commands that fail on bad input

    async def consume() -> None:
        async for out in stream:
            on_output(out)

    async with stream:
        consumer = asyncio.create_task(consume())
        feeder = asyncio.ensure_future(feed)
        try:
            # A stream that fails while it is fed ends the run with its error at once (a feeder
            # pacing itself by what the stream has heard would otherwise wait forever).
            await asyncio.wait({consumer, feeder}, return_when=asyncio.FIRST_COMPLETED)
            if not feeder.done():
                await consumer
                raise RuntimeError("the stream ended before its input did")
            fed_s = feeder.result()
            stream.end_input()
            await consumer
        finally:
            await aio.cancel_and_wait(consumer, feeder)
    return fed_s


async def run_file(stream: AudioStream[T], data: np.ndarray, rate: int, on_output: Callable[[T], None],
                   clock: RealtimeClock | None = None, push: Push | None = None) -> float:
    """`data` through `stream` as a live source would send it (`feed_samples`), every output to
    `on_output`; `push` wraps the stream's own `push_frame` (e.g. to sample its lag)."""
    return await feed_and_drain(stream, feed_samples(data, rate, push or stream.push_frame, clock), on_output)
