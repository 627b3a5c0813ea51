"""Feed audio into a pipeline as a live source would: small frames, optionally paced
at wall-clock speed (then the pipeline's compute time counts, as in a room)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np

FRAME_S = 0.02


class RealtimeClock:
    """Monotonic seconds since the first frame was fed (the event log's `wall`)."""

    def __init__(self) -> None:
        self._t0: float | None = None

    def start(self) -> None:
        self._t0 = time.monotonic()

    def __call__(self) -> float:
        return 0.0 if self._t0 is None else time.monotonic() - self._t0




async def feed_samples(data: np.ndarray, rate: int, push: Callable[[np.ndarray, int, int], None],
                       clock: RealtimeClock | None = None) -> float:
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
