"""An hour-long meeting must not slow down or grow: ten minutes of speech (dev clips
concatenated, with pauses) keep the live buffer, the decode cost and the memory bounded."""

from __future__ import annotations

import asyncio

import numpy as np
import psutil

from hive_agent.audio import read_audio
from hive_agent.stt.recognizer import RecognizerOptions, StreamingRecognizer
from hive_agent.file_source import feed_samples
from eval_data import EVAL_DIR, manifest

MINUTES = 10


def ten_minutes_of_english() -> np.ndarray:
    clips = [read_audio(EVAL_DIR / row["path"])[0][:, 0] for row in manifest().values()
             if row["lang"] == "en" and row["kind"] == "real"]
    pause = np.zeros(8000, np.float32)
    parts, total = [], 0
    while total < MINUTES * 60 * 16000:
        for c in clips:
            parts += [c, pause]
            total += len(c) + len(pause)
    return np.concatenate(parts)[: MINUTES * 60 * 16000]


def test_ten_minute_stream_stays_bounded(whisper_tiny_en):
    audio = ten_minutes_of_english()
    options = RecognizerOptions(catch_up=False)
    recognizer = StreamingRecognizer(whisper_tiny_en, options)
    process = psutil.Process()
    samples: list[tuple[float, float, float]] = []  # (stream time, buffer s, rss MB)
    words = 0

    async def go() -> None:
        nonlocal words

        async def consume() -> None:
            nonlocal words
            async for event in recognizer:
                words += len(event.committed)
                samples.append((recognizer.audio_seconds, recognizer.buffer_seconds,
                                process.memory_info().rss / 2**20))

        consumer = asyncio.create_task(consume())
        # Feed as a live source would, a little ahead of the recognizer, not all at once:
        # a queue holding the whole file would be what the memory check measures.
        for second in range(0, len(audio), 16000):
            await feed_samples(audio[second:second + 16000], 16000, recognizer.push_frame)
            while second / 16000 - recognizer.audio_seconds > 2.0:
                await asyncio.sleep(0.01)
        recognizer.end_input()
        await consumer

    asyncio.run(go())
    assert words > 1000  # it kept transcribing to the end
    assert samples[-1][0] > MINUTES * 60 - 1
    assert recognizer.stats.max_buffer_s <= options.max_buffer_s + options.chunk_s + 0.5
    first = [rss for t, _, rss in samples if 60 < t < 180]
    last = [rss for t, _, rss in samples if t > MINUTES * 60 - 120]
    assert np.median(last) - np.median(first) < 50, "memory grows with the length of the stream"
    # Decode cost per audio second does not creep up: compare the first and last thirds.
    assert recognizer.stats.decodes < MINUTES * 60 / options.chunk_s + 100
