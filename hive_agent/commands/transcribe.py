"""`python -m hive_agent transcribe FILE`: stream a file through the recognizer."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from ..audio import AudioFile, open_audio
from ..errors import AudioFormatError
from ..events import EventLog
from ..file_source import RealtimeClock
from ..observability.slo import print_run_summary
from ..settings import load_settings
from ..text import parse_language
from .captions import CaptionPrinter

if TYPE_CHECKING:
    from ..stt.recognizer import StreamingRecognizer


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transcribe", help="stream an audio file through the recognizer with live captions")
    p.add_argument("file", type=Path, help="wav, flac or mp3")
    p.add_argument("--language", default=None, help="source language code or `auto` (default: HIVE_LANGUAGE)")
    p.add_argument("--realtime", action="store_true", help="pace audio at wall-clock speed; compute time counts")
    p.add_argument("--events", type=Path, help="write the metrics.md event log (JSONL) here")
    p.set_defaults(run=run)


async def transcribe(audio: AudioFile, settings, realtime: bool, events: EventLog,
                     printer: CaptionPrinter | None = None) -> tuple[StreamingRecognizer, float]:
    # The recognizer brings livekit-agents, a second to import: only once the input is known good.
    from ..stt.drive import recognize
    from ..stt.recognizer import RecognizerOptions, StreamingRecognizer
    from ..stt.whisper_decoder import load_whisper

    data, rate = audio.samples, audio.rate
    clock = RealtimeClock() if realtime else None
    recognizer = StreamingRecognizer(load_whisper(settings),
                                     RecognizerOptions.from_settings(settings, catch_up=realtime), clock=clock)

    def on_event(event) -> None:
        events.write(event)
        if printer is not None:
            printer.show(event)

    await recognize(recognizer, data, rate, clock, on_event)
    return recognizer, len(data) / rate


def fail_if_truncated_and_silent(path: Path, audio: AudioFile, events: list[dict]) -> None:
    """A cut-off file is read as far as it goes; it only counts as done if words came out of it."""
    if audio.truncated and not any(e["type"] == "words" and e["committed"] for e in events):
        raise AudioFormatError(f"{path} is truncated and no speech was recognised in the part that is there")


def run(args: argparse.Namespace) -> int:
    language = args.language and args.language.strip().lower()
    if language and language != "auto":
        language = parse_language(args.language, "--language")
    audio = open_audio(args.file)  # a bad file fails before the model loads
    settings = load_settings(**({"language": language} if language else {}))
    log = EventLog(args.events)
    try:
        recognizer, audio_s = asyncio.run(transcribe(audio, settings, args.realtime, log, CaptionPrinter()))
    finally:
        log.close()
    fail_if_truncated_and_silent(args.file, audio, log.events)
    if args.realtime:
        stats = recognizer.stats
        print_run_summary(args.file.stem, log.events, audio_s, stats.compute_s,
                          f"decodes {stats.decodes}, shed {stats.skipped_decodes}, "
                          f"largest buffer {stats.max_buffer_s:.1f} s")
    return 0
