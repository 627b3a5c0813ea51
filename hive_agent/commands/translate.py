"""`python -m hive_agent translate FILE --to en[,es]`: the whole pipeline on a file, as a room
would run it: live captions in the source and target languages, caption files, translated
speech as wav, the event log, and at the end of a --realtime run the SLO table."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import numpy as np
import soundfile

from ..audio import read_audio
from ..captions import CaptionPrinter
from ..errors import SettingsError
from ..events import EventLog, TranslationEvent, WordsEvent
from ..file_source import RealtimeClock, feed_samples
from ..pipeline.engine import Engine
from ..pipeline.outputs import SPEECH_SAMPLE_RATE, SpeechAudio
from ..settings import load_settings
from ..slo import print_run_summary
from ..subtitles import cues_from_events, write_captions
from ..text import is_language_code

def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("translate", help="translate an audio file: live captions, caption files, speech")
    p.add_argument("file", type=Path, help="wav, flac or mp3")
    p.add_argument("--from", dest="source", default=None,
                   help="source language code or `auto` (default: HIVE_LANGUAGE, which defaults to auto)")
    p.add_argument("--to", required=True, help="target languages, comma separated, e.g. en or en,es")
    p.add_argument("--realtime", action="store_true", help="pace audio at wall-clock speed; compute time counts")
    p.add_argument("--captions", type=Path, help="write captions (.vtt or .srt); one file per target language "
                   "when several (NAME.LANG.vtt)")
    p.add_argument("--audio", type=Path, help="write translated speech (.wav, 48 kHz); NAME.LANG.wav when several")
    p.add_argument("--events", type=Path, help="write the metrics.md event log (JSONL)")
    p.set_defaults(run=run)


def per_language(path: Path, lang: str, several: bool) -> Path:
    return path.with_name(f"{path.stem}.{lang}{path.suffix}") if several else path


class SpeechTimeline:
    """Translated speech per language laid out on the wall-clock time it was played."""

    def __init__(self) -> None:
        self._chunks: dict[str, list[tuple[float, np.ndarray]]] = {}
        self._play: dict[str, float] = {}

    def add(self, chunk: SpeechAudio, start_wall: float | None) -> None:
        position = self._play.get(chunk.lang, 0.0) if start_wall is None else start_wall
        self._chunks.setdefault(chunk.lang, []).append((position, chunk.samples))
        self._play[chunk.lang] = position + chunk.duration_s

    def languages(self) -> list[str]:
        return sorted(self._chunks)

    def render(self, lang: str) -> np.ndarray:
        pieces = self._chunks[lang]
        end = max(t + len(a) / SPEECH_SAMPLE_RATE for t, a in pieces)
        out = np.zeros(int(end * SPEECH_SAMPLE_RATE) + 1, dtype=np.int16)
        for t, a in pieces:
            i = int(t * SPEECH_SAMPLE_RATE)
            out[i:i + len(a)] = a
        return out


async def translate_file(engine: Engine, file: Path, source: str, targets: list[str], realtime: bool,
                         log: EventLog, timeline: SpeechTimeline | None = None, show_captions: bool = True):
    data, rate = read_audio(file)
    clock = RealtimeClock() if realtime else None
    session = engine.new_session("file", source, targets, clock=clock, realtime=realtime)
    printer = CaptionPrinter(label="")
    speech_start: dict[tuple[str, str], float] = {}

    async def consume() -> None:
        async for out in session.outputs():
            if isinstance(out, SpeechAudio):
                if timeline is not None:
                    timeline.add(out, speech_start.pop((out.unit, out.lang), None))
                continue
            log.write(out)
            if out.type == "speech" and out.event == "start":
                speech_start[(out.unit, out.lang)] = out.wall
            if show_captions and isinstance(out, WordsEvent):
                printer.show(out)
            elif show_captions and isinstance(out, TranslationEvent):
                print(f"{out.wall:7.2f}s   -> [{out.lang}] {out.text}", flush=True)

    consumer = asyncio.create_task(consume())
    try:
        await feed_samples(data, rate, session.push_frame, clock)
        session.end_input()
        await consumer
    finally:
        consumer.cancel()
        await session.aclose()
    return session, len(data) / rate


def run(args: argparse.Namespace) -> int:
    targets = [t.strip().lower() for t in args.to.split(",") if t.strip()]
    if not targets or not all(is_language_code(t) for t in targets):
        raise SettingsError(f"--to {args.to!r}: give language codes, comma separated, e.g. --to en,es")
    if args.source not in (None, "auto") and not is_language_code(args.source):
        raise SettingsError(f"--from {args.source!r}: give `auto` or a language code such as de")
    read_audio(args.file)  # a missing or unreadable file fails before the models load
    settings = load_settings()
    source = args.source or settings.language
    engine = Engine.load(settings)
    missing = [t for t in targets if t not in engine.speech_languages()]
    if missing:
        print(f"note: no voice for {', '.join(missing)}: captions only (put Piper voices in "
              f"{settings.resolved_models_dir() / 'tts'})", file=sys.stderr)
    log = EventLog(args.events)
    timeline = SpeechTimeline()
    try:
        session, audio_s = asyncio.run(translate_file(engine, args.file, source, targets, args.realtime,
                                                      log, timeline))
    finally:
        log.close()
    several = len(targets) > 1
    if args.captions:
        for lang in targets:
            write_captions(per_language(args.captions, lang, several), cues_from_events(log.events, lang))
    if args.audio:
        for lang in timeline.languages():
            path = per_language(args.audio, lang, several)
            path.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(str(path), timeline.render(lang), SPEECH_SAMPLE_RATE, subtype="PCM_16")
    if args.realtime:
        print_run_summary(args.file.stem, log.events, audio_s, session.compute_s,
                          f"largest lag {session.max_lag_s:.2f} s, "
                          f"shed decodes {session.recognizer.stats.skipped_decodes}")
    return 0
