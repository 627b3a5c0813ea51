"""`python -m hive_agent demo`: the main job on the embedded default, no LiveKit server needed.

The bundled German sample is translated into English at real-time pace, as a room would hear
it: live captions, then caption files, English speech and the event log under out/demo/, and
the SLO table."""

from __future__ import annotations

import argparse
from importlib.resources import files
from pathlib import Path

from . import translate

SAMPLE = Path(str(files("hive_agent") / "samples" / "mit-licence-de.flac"))


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="translate the bundled German sample into English in real time "
                                    "(captions, speech and metrics in out/demo/)")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = args.out
    code = translate.run(argparse.Namespace(
        file=SAMPLE, source="auto", to="en", realtime=True, captions=out / "captions.en.vtt",
        audio=out / "speech.en.wav", events=out / "events.jsonl"))
    print(f"\nwritten: {out}/captions.en.vtt, {out}/speech.en.wav, {out}/events.jsonl")
    return code
