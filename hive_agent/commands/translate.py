"""`python -m hive_agent translate FILE --to en[,es]`: the whole pipeline on a file, as a room
would run it: live captions in the source and target languages, caption files, translated
speech as wav, the event log, and at the end of a --realtime run the SLO table."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path

import numpy as np
import soundfile

from ..audio import SPEECH_SAMPLE_RATE, AudioFile, open_audio
from ..errors import LanguageError, SettingsError
from ..events import EventLog, TranslationEvent, WordsEvent
from ..file_source import RealtimeClock, run_file
from ..mt.marian import converter_command
from ..observability.slo import print_run_summary
from ..pipeline.engine import Engine
from ..pipeline.outputs import Output, SpeechAudio
from ..settings import load_settings
from ..text import parse_language, whisper_languages
from .captions import CaptionPrinter
from .subtitles import cues_from_events, write_captions
from .transcribe import fail_if_truncated_and_silent

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


async def translate_file(engine: Engine, audio: AudioFile, source: str, targets: list[str], realtime: bool,
                         log: EventLog, timeline: SpeechTimeline | None = None, show_captions: bool = True):
    data, rate = audio.samples, audio.rate
    clock = RealtimeClock() if realtime else None
    session = engine.new_session("file", source, targets, clock=clock, realtime=realtime)
    printer = CaptionPrinter(label="")
    speech_start: dict[tuple[str, str], float] = {}

    def show(out: Output) -> None:
        if isinstance(out, SpeechAudio):
            if timeline is not None:
                timeline.add(out, speech_start.pop((out.unit, out.lang), None))
            return
        log.write(out)
        if out.type == "speech" and out.event == "start":
            speech_start[(out.unit, out.lang)] = out.wall
        if show_captions and isinstance(out, WordsEvent):
            printer.show(out)
        elif show_captions and isinstance(out, TranslationEvent):
            print(f"{out.wall:7.2f}s   -> [{out.lang}] {out.text}", flush=True)

    audio_s = await run_file(session, data, rate, show, clock)
    return session, audio_s


def parse_targets(spec: str) -> list[str]:
    try:
        targets = [parse_language(t, "--to", known_only=False) for t in spec.split(",") if t.strip()]
    except LanguageError as exc:
        raise SettingsError(f"{exc}; several are comma separated, e.g. --to en,es") from None
    if not targets:
        raise SettingsError(f"--to {spec!r}: give language codes, comma separated, e.g. --to en,es")
    return list(dict.fromkeys(targets))


def check_routes(engine: Engine, source: str, targets: list[str]) -> None:
    """A target that nothing translates into would end in empty captions: refuse it up front."""
    sources = sorted(whisper_languages()) if source == "auto" else [source]
    for target in targets:
        if any(engine.route(s, target) for s in sources):
            continue
        try:
            parse_language(target, "--to")
        except LanguageError as exc:
            raise SettingsError(f"{exc} (or add a Marian model that translates into it)") from None
        raise SettingsError(
            f"--to {target}: nothing translates {source} speech into {target} (Whisper translates only "
            f"into English); add a Marian model: "
            f"{converter_command(source, target, engine.marian.model_dir(source, target))}")


async def until_signal(work: Coroutine) -> tuple[int | None, object]:
    """Run `work`; SIGINT or SIGTERM cancels it. (signal number or None, its result or None)."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    try:
        return None, await task
    except asyncio.CancelledError:
        if not received:
            raise
        return received[0], None
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def write_outputs(args: argparse.Namespace, targets: list[str], log: EventLog, timeline: SpeechTimeline) -> None:
    several = len(targets) > 1
    if args.captions:
        for lang in targets:
            write_captions(per_language(args.captions, lang, several), cues_from_events(log.events, lang))
    if args.audio:
        for lang in timeline.languages():
            path = per_language(args.audio, lang, several)
            path.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(str(path), timeline.render(lang), SPEECH_SAMPLE_RATE, subtype="PCM_16")


def run(args: argparse.Namespace) -> int:
    targets = parse_targets(args.to)
    source = None if args.source is None else args.source.strip().lower()
    if source not in (None, "auto"):
        source = parse_language(args.source, "--from")
    audio = open_audio(args.file)  # a bad file fails before the models load
    settings = load_settings()
    source = source or settings.language
    engine = Engine.load(settings)
    check_routes(engine, source, targets)
    missing = [t for t in targets if t not in engine.speech_languages()]
    if missing:
        print(f"note: no voice for {', '.join(missing)}: captions only (put Piper voices in "
              f"{settings.resolved_models_dir() / 'tts'})", file=sys.stderr)
    log = EventLog(args.events)
    timeline = SpeechTimeline()
    try:
        signum, result = asyncio.run(until_signal(translate_file(engine, audio, source, targets, args.realtime,
                                                                 log, timeline)))
    finally:
        log.close()
    write_outputs(args, targets, log, timeline)
    if signum is not None:
        print(f"stopped by {signal.Signals(signum).name}: wrote what was translated so far", file=sys.stderr)
        return 128 + signum
    fail_if_truncated_and_silent(args.file, audio, log.events)
    session, audio_s = result
    if args.realtime:
        print_run_summary(args.file.stem, log.events, audio_s, session.compute_s,
                          f"largest lag {session.max_lag_s:.2f} s, "
                          f"shed decodes {session.recognizer.stats.skipped_decodes}")
    return 0
