"""Running eval clips through the real pipeline for the benchmark.

Every clip gets a fresh `SpeakerSession` on one shared `Engine`, fed in 20 ms frames at
real-time pace (its compute time counts, as in a room). Word end times to measure latency
against come from an offline Whisper pass over each whole file, done before any real-time run
so it cannot disturb the timing. The concurrency sweep runs N sessions at once in one event
loop, clips taken in manifest order and cycling.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import numpy as np

from ..audio import read_audio, to_pipeline_rate
from ..errors import SettingsError
from ..events import EventLog
from ..file_source import RealtimeClock, run_file
from ..observability.slo import peak_rss_mb
from ..pipeline.engine import Engine
from ..pipeline.outputs import Output, SpeechAudio
from ..text import is_language_code
from .quality import reference_words

MANIFEST_LANGUAGE = "manifest"  # source language: each clip's `lang` from the manifest
Progress = Callable[[str], None]


def default_manifest() -> Path:
    """The bundled samples' manifest (hive_agent/samples, 13 clips of the dev eval set)."""
    return Path(str(files("hive_agent") / "samples" / "manifest.jsonl"))


@dataclass(frozen=True)
class Clip:
    id: str
    path: Path  # absolute
    lang: str  # spoken language; `en+de` for a clip that switches
    text: str | None  # reference transcript
    en: str | None  # English reference
    refs: dict[str, str] = field(default_factory=dict)  # reference translations by language
    kind: str = ""

    def reference_translation(self, target: str) -> str | None:
        """The reference to score a translation into `target` with; None for same-language clips."""
        if self.lang == target:
            return None
        if target == "en":
            return self.en or self.refs.get("en")
        return self.refs.get(target)

    @property
    def single_language(self) -> str | None:
        return self.lang if is_language_code(self.lang) else None

    def session_language(self, source: str) -> str:
        """`manifest`: the clip's own language (`auto` for a clip that switches); else `source`."""
        if source == MANIFEST_LANGUAGE:
            return self.single_language or "auto"
        return source


def load_manifest(path: Path) -> list[Clip]:
    """Clips of a manifest (JSONL, see hive_agent/samples/README.md); paths relative to its folder."""
    path = Path(path)
    if not path.is_file():
        raise SettingsError(f"manifest not found: {path}. Fix: pass --manifest PATH to a manifest.jsonl "
                            "(one JSON object per clip with id, path, lang, text, en, refs)")
    clips = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                clips.append(Clip(id=str(row["id"]), path=(path.parent / row["path"]).resolve(),
                                  lang=str(row["lang"]), text=row.get("text"), en=row.get("en"),
                                  refs=dict(row.get("refs") or {}), kind=str(row.get("kind", ""))))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise SettingsError(f"manifest {path} line {number} is not a clip record ({exc!r}). "
                                    "Fix: each line needs a JSON object with at least id, path and lang"
                                    ) from None
    if not clips:
        raise SettingsError(f"manifest {path} lists no clips")
    return clips


def select_clips(clips: Sequence[Clip], ids: Iterable[str] | None = None, limit: int | None = None) -> list[Clip]:
    """The clips named by `ids` (in manifest order), or all, then the first `limit` of them."""
    chosen = list(clips)
    if ids is not None:
        wanted = set(ids)
        unknown = sorted(wanted - {c.id for c in clips})
        if unknown:
            raise SettingsError(f"--clips names ids not in the manifest: {', '.join(unknown)}. "
                                f"Fix: use ids from the manifest, e.g. {', '.join(c.id for c in clips[:3])}")
        chosen = [c for c in clips if c.id in wanted]
    if limit is not None:
        if limit < 1:
            raise SettingsError(f"--limit must be a positive number of clips, got {limit}")
        chosen = chosen[:limit]
    return chosen


def cycled(clips: Sequence[Clip], n: int) -> list[Clip]:
    """`n` clips in manifest order, starting over when the list runs out."""
    return [clips[k % len(clips)] for k in range(n)]


@dataclass
class StreamRun:
    """One session's real-time run of one clip."""

    clip: Clip
    source: str  # the source language the session was given (`auto`: detected)
    events: list[dict]
    audio_s: float
    compute_s: float
    max_lag_s: float
    shed_decodes: int
    lag_trace: list[tuple[float, float]]  # (stream seconds fed, lag seconds) after each frame
    peak_rss_mb: float  # the process's peak resident memory when the run ended


def clip_audio(clip: Clip) -> np.ndarray:
    """The whole clip as 16 kHz mono float32."""
    data, rate = read_audio(clip.path)
    return to_pipeline_rate(data, rate)


def reference_alignment_words(engine: Engine, clip: Clip) -> list[dict]:
    """Offline pass over the whole clip with the engine's own Whisper model (word timestamps)."""
    return reference_words(clip_audio(clip), engine.whisper.model, language=clip.single_language)


async def run_stream(engine: Engine, clip: Clip, target: str, source: str, speaker: str) -> StreamRun:
    """Feed `clip` at real-time pace into a fresh session translating into `target`.
    `source`: a language code, `auto`, or `manifest` (the clip's own language)."""
    data, rate = read_audio(clip.path)
    clock = RealtimeClock()
    source = clip.session_language(source)
    session = engine.new_session(speaker, source, [target], clock=clock, realtime=True)
    log = EventLog()
    lag_trace: list[tuple[float, float]] = []
    fed_s = 0.0

    def push(samples: np.ndarray, sample_rate: int, num_channels: int) -> None:
        nonlocal fed_s
        session.push_frame(samples, sample_rate, num_channels)
        fed_s += len(samples) / num_channels / sample_rate
        lag_trace.append((fed_s, session.lag_s))

    def keep(out: Output) -> None:
        if not isinstance(out, SpeechAudio):  # the speech itself is not needed, its events are
            log.write(out)

    audio_s = await run_file(session, data, rate, keep, clock, push)
    return StreamRun(clip, source, log.events, audio_s, session.compute_s, session.max_lag_s,
                     session.recognizer.stats.skipped_decodes, lag_trace, peak_rss_mb())


async def run_concurrently(engine: Engine, clips: Sequence[Clip], target: str, source: str,
                           label: str) -> list[StreamRun]:
    """All `clips` at once, one session each, started together."""
    return list(await asyncio.gather(*(
        run_stream(engine, clip, target, source, speaker=f"bench-{label}-{k}-{clip.id}")
        for k, clip in enumerate(clips))))


@dataclass
class BenchRuns:
    references: dict[str, list[dict]]  # clip id -> reference words
    clips: list[StreamRun]  # one independent run per clip
    streams: dict[int, list[StreamRun]]  # N -> the N concurrent runs


def run_benchmark(engine: Engine, clips: Sequence[Clip], target: str, source: str,
                  stream_counts: Sequence[int] = (), progress: Progress = print) -> BenchRuns:
    """Reference passes first (offline), then every clip alone, then each concurrency level."""
    references = {}  # the sweep cycles through the same clips, so these cover it too
    for i, clip in enumerate(clips, 1):
        progress(f"reference pass {i}/{len(clips)}: {clip.id}")
        references[clip.id] = reference_alignment_words(engine, clip)

    async def realtime_runs() -> tuple[list[StreamRun], dict[int, list[StreamRun]]]:
        singles = []
        for i, clip in enumerate(clips, 1):
            progress(f"real-time run {i}/{len(clips)}: {clip.id} ({clip.lang})")
            singles.append(await run_stream(engine, clip, target, source, speaker=f"bench-{clip.id}"))
        sweeps = {}
        for n in stream_counts:
            progress(f"{n} concurrent stream(s): {', '.join(c.id for c in cycled(clips, n))}")
            sweeps[n] = await run_concurrently(engine, cycled(clips, n), target, source, label=f"n{n}")
        return singles, sweeps

    singles, sweeps = asyncio.run(realtime_runs())
    return BenchRuns(references, singles, sweeps)
