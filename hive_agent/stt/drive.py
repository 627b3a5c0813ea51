"""Drive a recognizer from samples already in memory (files, tests, benchmarks)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..events import WordsEvent
from ..file_source import RealtimeClock, run_file
from .recognizer import StreamingRecognizer


async def recognize(recognizer: StreamingRecognizer, data: np.ndarray, rate: int,
                    clock: RealtimeClock | None = None,
                    on_event: Callable[[WordsEvent], None] | None = None) -> list[WordsEvent]:
    """Feed `data` ((frames, channels) or mono) in 20 ms frames, end the input, collect events."""
    events: list[WordsEvent] = []

    def keep(event: WordsEvent) -> None:
        events.append(event)
        if on_event is not None:
            on_event(event)

    await run_file(recognizer, data, rate, keep, clock)
    return events


def committed_text(events: list[WordsEvent]) -> str:
    return " ".join(w.text for e in events for w in e.committed)
