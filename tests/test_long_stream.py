"""An hour-long meeting must not slow down or grow: ten minutes of speech (dev clips
concatenated, with pauses, streamed as `bench-long` does) keep the live buffer, the decode cost
and the memory bounded. The hour itself is `python -m hive_agent bench-long`."""

from __future__ import annotations

import asyncio

from hive_agent.audio import SAMPLE_RATE
from hive_agent.bench.long_stream import GROWTH_LIMIT_MB, load_clips, plan_stream, run_recognizer
from hive_agent.bench.run import load_manifest
from hive_agent.stt.recognizer import RecognizerOptions
from eval_data import EVAL_DIR

MINUTES = 10
PAUSE_S = 0.5


def test_ten_minute_stream_stays_bounded(whisper_tiny_en):
    english = [c for c in load_manifest(EVAL_DIR / "manifest.jsonl") if c.lang == "en" and c.kind == "real"]
    audio = load_clips(english)
    plan = plan_stream(english, {k: len(v) / SAMPLE_RATE for k, v in audio.items()}, MINUTES, PAUSE_S)
    options = RecognizerOptions(catch_up=False)
    run = asyncio.run(run_recognizer(whisper_tiny_en, options, plan, audio, PAUSE_S, keep_events=False,
                                     trace=False, progress=None))
    doc = run.document()
    assert doc["words"] > 1000  # it kept transcribing to the end
    assert run.stream_s > MINUTES * 60 - 1
    assert len(run.samples) == MINUTES
    assert run.stats.max_buffer_s <= options.max_buffer_s + options.chunk_s + 0.5
    assert doc["rss_growth_mb"] < GROWTH_LIMIT_MB, "memory grows with the length of the stream"
    assert run.stats.decodes < MINUTES * 60 / options.chunk_s + 100
