"""The long-stream benchmark: manifest clips back to back with a pause between them, cycled up to
N minutes, streamed as fast as the machine decodes (deterministic, not paced) through either the
recognizer alone (what `transcribe` runs) or a room speaker's `SpeakerSession`.

Resident memory is sampled at every stream minute; memory is *flat* when it grows by less than
`GROWTH_LIMIT_MB` from minute `BASELINE_MINUTE` to the end. Each committed word belongs to the clip
whose audio (or the pause after it) holds the word's middle, so every clip gets its words and the
languages they were labelled with.
"""

from __future__ import annotations

import asyncio
import bisect
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import psutil

from ..audio import SAMPLE_RATE
from ..events import EventLog, WordsEvent
from ..file_source import Push, feed_and_drain, feed_samples
from ..pipeline.engine import Engine
from ..pipeline.outputs import Output
from ..stt.recognizer import RecognizerOptions, RecognizerStats, StreamingRecognizer
from ..stt.whisper_decoder import WhisperDecoder
from .run import Clip, Progress, clip_audio

BASELINE_MINUTE = 5
GROWTH_LIMIT_MB = 50.0
AHEAD_S = 2.0  # audio fed ahead of the recognizer: a live source's pace, not a queue of the whole stream


@dataclass(frozen=True)
class Placement:
    """One clip's place in the stream: its audio from `start_s` to `end_s`, then a pause."""

    clip: Clip
    start_s: float
    end_s: float


def plan_stream(clips: Sequence[Clip], durations: dict[str, float], minutes: float,
                pause_s: float) -> list[Placement]:
    """Clips in manifest order, starting over when the list runs out, until `minutes` are filled
    (the last clip is kept whole)."""
    plan: list[Placement] = []
    t = 0.0
    while t < minutes * 60:
        clip = clips[len(plan) % len(clips)]
        plan.append(Placement(clip, t, t + durations[clip.id]))
        t += durations[clip.id] + pause_s
    return plan


@dataclass
class MinuteSample:
    minute: int
    rss_mb: float
    python_mb: float | None  # tracemalloc's traced Python memory; None when not tracing
    stores: dict[str, int]  # items held by the session's growing structures


@dataclass
class ClipWords:
    clip: Clip
    words: int = 0
    labels: Counter = field(default_factory=Counter)  # language label -> words
    text: list[str] = field(default_factory=list)  # the committed words

    @property
    def wrong_language_words(self) -> int:
        allowed = set(self.clip.lang.split("+"))  # `en+de`: a clip that switches
        return sum(n for lang, n in self.labels.items() if lang not in allowed)

    def as_dict(self) -> dict:
        return {"id": self.clip.id, "lang": self.clip.lang, "words": self.words,
                "labels": dict(self.labels), "wrong_language_words": self.wrong_language_words,
                "text": " ".join(self.text), "reference": self.clip.text}


class WordAttribution:
    """Committed words to the clips they were spoken in (one entry per clip placement)."""

    def __init__(self, plan: Sequence[Placement]):
        self._starts = [p.start_s for p in plan]
        self.clips = [ClipWords(p.clip) for p in plan]

    def add(self, event: WordsEvent) -> None:
        for word in event.committed:
            k = max(0, bisect.bisect_right(self._starts, (word.start + word.end) / 2) - 1)
            self.clips[k].words += 1
            self.clips[k].labels[event.lang] += 1
            self.clips[k].text.append(word.text)


@dataclass
class LongRun:
    mode: str
    stream_s: float
    compute_s: float  # wall time of the whole stream
    samples: list[MinuteSample]
    clips: list[ClipWords]
    stores: dict[str, int]  # at the end
    stats: RecognizerStats
    top_growth: list[str]  # tracemalloc: the lines whose Python memory grew most after the baseline

    def sample_at(self, minute: int) -> MinuteSample | None:
        return next((s for s in self.samples if s.minute == minute), None)

    def document(self) -> dict:
        baseline = self.sample_at(BASELINE_MINUTE)
        end = self.samples[-1] if self.samples else None
        growth = end.rss_mb - baseline.rss_mb if baseline and end else None
        return {
            "mode": self.mode,
            "stream_minutes": round(self.stream_s / 60, 2),
            "compute_s": round(self.compute_s, 1),
            "decodes": self.stats.decodes,
            "largest_buffer_s": round(self.stats.max_buffer_s, 2),
            "rss_at_baseline_mb": baseline and round(baseline.rss_mb, 1),
            "baseline_minute": BASELINE_MINUTE,
            "rss_end_mb": end and round(end.rss_mb, 1),
            "rss_growth_mb": None if growth is None else round(growth, 1),
            "growth_limit_mb": GROWTH_LIMIT_MB,
            "memory_flat": None if growth is None else growth < GROWTH_LIMIT_MB,
            "words": sum(c.words for c in self.clips),
            "clips_streamed": len(self.clips),
            "clips_without_words": [c.clip.id for c in self.clips if c.words == 0],
            "clips_in_wrong_language": [c.clip.id for c in self.clips if c.wrong_language_words],
            "stores_at_end": self.stores,
            "python_memory_top_growth": self.top_growth,
            "minutes": [{"minute": s.minute, "rss_mb": round(s.rss_mb, 1),
                         "python_mb": None if s.python_mb is None else round(s.python_mb, 1),
                         "stores": s.stores} for s in self.samples],
            "clips": [c.as_dict() for c in self.clips],
        }


class MemoryProbe:
    """RSS (and, when tracing, Python-heap) samples at each whole stream minute."""

    def __init__(self, stores: Callable[[], dict[str, int]], trace: bool, progress: Progress | None = None):
        self._process = psutil.Process()
        self._stores = stores
        self._trace = trace
        self._progress = progress
        self._baseline: tracemalloc.Snapshot | None = None
        self.samples: list[MinuteSample] = []

    def at(self, stream_s: float) -> None:
        """Take the samples of every minute the stream has passed since the last call."""
        while (len(self.samples) + 1) * 60 <= stream_s:
            minute = len(self.samples) + 1
            python_mb = tracemalloc.get_traced_memory()[0] / 2**20 if self._trace else None
            sample = MinuteSample(minute, self._process.memory_info().rss / 2**20, python_mb, self._stores())
            self.samples.append(sample)
            if self._progress is not None:
                python = "" if python_mb is None else f", Python heap {python_mb:.1f} MB"
                self._progress(f"minute {minute}: RSS {sample.rss_mb:.0f} MB{python}, {sample.stores}")
            if self._trace and minute == BASELINE_MINUTE:
                self._baseline = tracemalloc.take_snapshot()

    def top_growth(self, n: int = 10) -> list[str]:
        if self._baseline is None:
            return []
        diff = tracemalloc.take_snapshot().compare_to(self._baseline, "lineno")
        return [str(stat) for stat in diff if stat.size_diff > 0][:n]


def stream_pieces(plan: Sequence[Placement], audio: dict[str, np.ndarray], pause_s: float) -> Iterator[np.ndarray]:
    """The stream in pieces of at most one second, never built whole (an hour is 230 MB)."""
    pause = np.zeros(int(pause_s * SAMPLE_RATE), np.float32)
    for placement in plan:
        for part in (audio[placement.clip.id], pause):
            for i in range(0, len(part), SAMPLE_RATE):
                yield part[i:i + SAMPLE_RATE]


async def feed_stream(pieces: Iterator[np.ndarray], push: Push, heard_s: Callable[[], float],
                      probe: MemoryProbe) -> float:
    """Push the pieces in 20 ms frames, at most `AHEAD_S` ahead of what the recognizer has heard."""
    fed_s = 0.0
    for piece in pieces:
        fed_s += await feed_samples(piece, SAMPLE_RATE, push)
        while fed_s - heard_s() > AHEAD_S:
            await asyncio.sleep(0.01)
        probe.at(heard_s())
    return fed_s


def load_clips(clips: Sequence[Clip]) -> dict[str, np.ndarray]:
    """Every distinct clip once, before streaming starts, so the cache is not counted as growth."""
    return {clip.id: clip_audio(clip) for clip in clips}


async def run_recognizer(whisper: WhisperDecoder, options: RecognizerOptions, plan: Sequence[Placement],
                         audio: dict[str, np.ndarray], pause_s: float, keep_events: bool,
                         trace: bool, progress: Progress | None = print) -> LongRun:
    """What `transcribe` does with a file, as a stream: the recognizer, every event into an in-memory
    event log (`keep_events`; transcribe keeps it for its summary)."""
    recognizer = StreamingRecognizer(whisper, options)
    log = EventLog()
    kept: list[WordsEvent] = []  # `stt.drive.recognize` also returns the event objects
    attribution = WordAttribution(plan)
    probe = MemoryProbe(lambda: {"events_kept": len(kept), "event_log_records": len(log.events),
                                 "buffer_ms": round(recognizer.buffer_seconds * 1000)}, trace, progress)

    def take(event: WordsEvent) -> None:
        attribution.add(event)
        if keep_events:
            kept.append(event)
            log.write(event)

    t0 = time.perf_counter()
    await feed_and_drain(recognizer, feed_stream(stream_pieces(plan, audio, pause_s), recognizer.push_frame,
                                                 lambda: recognizer.audio_seconds, probe), take)
    probe.at(recognizer.audio_seconds)  # the minutes the recognizer heard after the last piece was fed
    return LongRun("recognizer", recognizer.audio_seconds, time.perf_counter() - t0, probe.samples,
                   attribution.clips, probe.samples[-1].stores if probe.samples else {}, recognizer.stats,
                   probe.top_growth())


def session_stores(engine: Engine, session) -> dict[str, int]:
    """Items held by what a room session grows per unit (private parts of the session included:
    this benchmark exists to watch them)."""
    return {"slo_tracker": session._tracker.stored_items, "pending_traces": len(session._traces),
            "engine_traces": len(engine.traces), "performance": engine.performance.stored_items}


async def run_session(engine: Engine, targets: Sequence[str], plan: Sequence[Placement],
                      audio: dict[str, np.ndarray], pause_s: float, trace: bool,
                      progress: Progress | None = print) -> LongRun:
    """What a room does with a speaker: a `SpeakerSession` (auto language) whose outputs, speech
    included, are consumed and dropped (the room publishes them; it keeps no log)."""
    session = engine.new_session("long-stream", "auto", targets, realtime=False)
    attribution = WordAttribution(plan)
    probe = MemoryProbe(lambda: session_stores(engine, session), trace, progress)

    def take(out: Output) -> None:
        if isinstance(out, WordsEvent):
            attribution.add(out)

    t0 = time.perf_counter()
    await feed_and_drain(session, feed_stream(stream_pieces(plan, audio, pause_s), session.push_frame,
                                              lambda: session.recognizer.audio_seconds, probe), take)
    probe.at(session.recognizer.audio_seconds)  # the minutes heard after the last piece was fed
    return LongRun("session", session.recognizer.audio_seconds, time.perf_counter() - t0, probe.samples,
                   attribution.clips, session_stores(engine, session), session.recognizer.stats,
                   probe.top_growth())


def plot_memory(documents: Sequence[dict], path, title: str) -> None:
    """RSS against stream minute, one line per run, with the baseline minute and the growth limit."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.subplots()
    for doc in documents:
        minutes = [m["minute"] for m in doc["minutes"]]
        ax.plot(minutes, [m["rss_mb"] for m in doc["minutes"]], marker=".",
                label=f"{doc['mode']}: growth {doc['rss_growth_mb']} MB after minute {BASELINE_MINUTE}")
        if doc["rss_at_baseline_mb"] is not None:
            ax.axhline(doc["rss_at_baseline_mb"] + GROWTH_LIMIT_MB, color="grey", linestyle=":", linewidth=1)
    ax.axvline(BASELINE_MINUTE, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("stream minute")
    ax.set_ylabel("resident memory (MB)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title)
    fig.savefig(path, dpi=100)
