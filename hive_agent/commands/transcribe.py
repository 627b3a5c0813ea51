"""`python -m hive_agent transcribe FILE`: stream a file through the recognizer."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from ..captions import CaptionPrinter
from ..stt.whisper_decoder import load_whisper
from ..events import EventLog
from ..audio import read_audio
from ..file_source import RealtimeClock
from ..settings import load_settings
from ..slo import print_run_summary
from ..stt.drive import recognize
from ..stt.recognizer import RecognizerOptions, StreamingRecognizer


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transcribe", help="stream an audio file through the recognizer with live captions")
    p.add_argument("file", type=Path, help="wav, flac or mp3")
    p.add_argument("--language", default=None, help="source language code or `auto` (default: HIVE_LANGUAGE)")
    p.add_argument("--realtime", action="store_true", help="pace audio at wall-clock speed; compute time counts")
    p.add_argument("--events", type=Path, help="write the metrics.md event log (JSONL) here")
    p.set_defaults(run=run)


async def transcribe(file: Path, settings, realtime: bool, events: EventLog,
                     printer: CaptionPrinter | None = None) -> tuple[StreamingRecognizer, float]:
    data, rate = read_audio(file)
    clock = RealtimeClock() if realtime else None
    recognizer = StreamingRecognizer(load_whisper(settings),
                                     RecognizerOptions.from_settings(settings, catch_up=realtime), clock=clock)

    def on_event(event) -> None:
        events.write(event)
        if printer is not None:
            printer.show(event)

    await recognize(recognizer, data, rate, clock, on_event)
    return recognizer, len(data) / rate


def run(args: argparse.Namespace) -> int:
    overrides = {"language": args.language} if args.language else {}
    settings = load_settings(**overrides)
    log = EventLog(args.events)
    try:
        recognizer, audio_s = asyncio.run(transcribe(args.file, settings, args.realtime, log, CaptionPrinter()))
    finally:
        log.close()
    if args.realtime:
        stats = recognizer.stats
        print_run_summary(args.file.stem, log.events, audio_s, stats.compute_s,
                          f"decodes {stats.decodes}, shed {stats.skipped_decodes}, "
                          f"largest buffer {stats.max_buffer_s:.1f} s")
    return 0
