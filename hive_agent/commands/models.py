"""`python -m hive_agent models prepare|check`: make the packaged models ready, list what is there."""

from __future__ import annotations

import argparse

from ..devices import plan_device
from ..models import resolve_whisper, silero_vad_path
from ..mt.marian import MarianModels
from ..settings import load_settings
from ..tts.voices import resolve_voices


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="prepare the packaged models (join Whisper base) and list local ones")
    p.add_argument("action", choices=["prepare", "check"],
                   help="prepare: join and verify the packaged Whisper base once; check: list every model found")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    models_dir = settings.resolved_models_dir()
    print(f"whisper {settings.whisper_model}: {resolve_whisper(settings.whisper_model, models_dir)}")
    if args.action == "prepare":
        return 0
    plan = plan_device(settings)
    print(f"device: {plan.device} ({plan.compute_type})")
    print(f"vad: {silero_vad_path()}")
    for lang, voice in sorted(resolve_voices(models_dir).items()):
        print(f"voice {lang}: {voice.name} ({voice.model})")
    pairs = MarianModels(models_dir, overrides=settings.mt_paths).available_pairs()
    print("mt pairs: " + (", ".join(f"{s}-{t}" for s, t in pairs) or
                          f"none in {models_dir / 'mt'} (Whisper's own translation serves English)"))
    return 0
