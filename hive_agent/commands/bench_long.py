"""`python -m hive_agent bench-long`: an hour-long stream through `transcribe`'s recognizer and a
room's session, as fast as the machine decodes; does memory stay flat and does every clip come out
in its own language? Prints the figures and writes bench-long.json and memory.png; exits with 1
when memory grows or a clip gets no words or words in another language."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tracemalloc
from pathlib import Path

from ..audio import SAMPLE_RATE
from ..bench.run import default_manifest, load_manifest
from ..errors import SettingsError
from ..pipeline.engine import Engine
from ..settings import load_settings
from .bench import language_code

MODES = {"recognizer": ("recognizer",), "session": ("session",), "both": ("recognizer", "session")}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench-long", help="long-stream benchmark: memory and per-clip words over N minutes")
    p.add_argument("--minutes", type=float, default=60.0, help="stream length in minutes (default 60)")
    p.add_argument("--mode", choices=sorted(MODES), default="both",
                   help="recognizer (what transcribe runs), session (what a room runs), or both (default)")
    p.add_argument("--manifest", type=Path, default=default_manifest(),
                   help="clips to cycle through (JSONL; clip paths relative to its folder)")
    p.add_argument("--pause", type=float, default=1.5, help="seconds of silence between clips (default 1.5)")
    p.add_argument("--to", default="en", help="session target languages, comma separated (default en)")
    p.add_argument("--any-language", action="store_true",
                   help="detect among every language Whisper knows (default: the manifest's languages, "
                        "as an operator who names the room's languages in HIVE_SPOKEN_LANGUAGES; that "
                        "variable, when set, wins)")
    p.add_argument("--out", type=Path, default=Path("out/bench-long"), help="output folder (default out/bench-long)")
    p.add_argument("--tracemalloc", action="store_true",
                   help="also trace Python memory: per-minute heap size and the lines that grew most")
    p.add_argument("--no-event-log", action="store_true",
                   help="recognizer mode: do not keep the events in memory as transcribe does")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # The recognizer brings livekit-agents, a second to import: `--help` and other commands skip it.
    from ..bench.long_stream import (BASELINE_MINUTE, load_clips, plan_stream, plot_memory, run_recognizer,
                                     run_session)
    from ..stt.recognizer import RecognizerOptions
    from ..stt.whisper_decoder import load_whisper

    if not args.minutes > BASELINE_MINUTE:
        raise SettingsError(f"--minutes must exceed the baseline minute {BASELINE_MINUTE} to measure growth, "
                            f"got {args.minutes:g}")
    if args.pause < 0:
        raise SettingsError(f"--pause takes seconds of silence >= 0, got {args.pause:g}")
    targets = [language_code(t, "--to") for t in args.to.split(",") if t.strip()]
    clips = load_manifest(args.manifest)
    settings = load_settings()
    if not settings.spoken_languages and not args.any_language:
        settings = load_settings(spoken_languages=",".join(
            sorted({lang for clip in clips for lang in clip.lang.split("+")})))
    modes = MODES[args.mode]
    engine = Engine.load(settings) if "session" in modes else None
    whisper = engine.whisper if engine is not None else load_whisper(settings)
    audio = load_clips(clips)
    plan = plan_stream(clips, {k: len(v) / SAMPLE_RATE for k, v in audio.items()}, args.minutes, args.pause)
    print(f"{len(plan)} clips ({len(clips)} distinct) over {plan[-1].end_s / 60:.1f} min, "
          f"whisper {settings.whisper_model}, spoken languages {settings.spoken_languages or 'any'}, "
          f"modes {', '.join(modes)}")
    if args.tracemalloc:
        tracemalloc.start()
    docs = []
    for mode in modes:
        if mode == "recognizer":
            options = RecognizerOptions.from_settings(settings, catch_up=False)
            long_run = asyncio.run(run_recognizer(whisper, options, plan, audio, args.pause,
                                                  keep_events=not args.no_event_log, trace=args.tracemalloc))
        else:
            long_run = asyncio.run(run_session(engine, targets, plan, audio, args.pause, trace=args.tracemalloc))
        doc = long_run.document()
        docs.append(doc)
        print_summary(doc)

    args.out.mkdir(parents=True, exist_ok=True)
    document = {"manifest": str(args.manifest), "whisper_model": settings.whisper_model,
                "minutes": args.minutes, "pause_s": args.pause, "targets": targets,
                "spoken_languages": settings.spoken_languages or "any",
                "cpu_count": os.cpu_count(), "runs": docs}
    (args.out / "bench-long.json").write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    plot_memory(docs, args.out / "memory.png",
                f"{args.minutes:g} min of {args.manifest.name}, whisper {settings.whisper_model}, "
                f"{os.cpu_count()} CPUs")
    print(f"\nwritten: {args.out / 'bench-long.json'}, {args.out / 'memory.png'}")
    passed = all(d["memory_flat"] and not d["clips_without_words"] and not d["clips_in_wrong_language"]
                 for d in docs)
    return 0 if passed else 1


def print_summary(doc: dict) -> None:
    print(f"\n{doc['mode']}: {doc['stream_minutes']} min streamed in {doc['compute_s']:.0f} s, "
          f"{doc['words']} words")
    print(f"  RSS at minute {doc['baseline_minute']}: {doc['rss_at_baseline_mb']} MB, at the end: "
          f"{doc['rss_end_mb']} MB, growth {doc['rss_growth_mb']} MB (limit {doc['growth_limit_mb']:g}): "
          f"{'flat' if doc['memory_flat'] else 'GROWS'}")
    print(f"  clips without words ({len(doc['clips_without_words'])}): {', '.join(doc['clips_without_words']) or '-'}")
    print(f"  clips with words in a wrong language ({len(doc['clips_in_wrong_language'])}): "
          f"{', '.join(doc['clips_in_wrong_language']) or '-'}")
    print(f"  stores at the end: {doc['stores_at_end']}")
    for line in doc["python_memory_top_growth"]:
        print(f"  python growth: {line}")
