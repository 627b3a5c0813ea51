"""`python -m hive_agent bench`: the SLO benchmark (metrics.md) over an eval manifest.

Every clip runs alone at real-time pace through the real pipeline (one engine, a fresh session
per clip); `--streams` then runs 1..N clips at once to find how many real-time streams this
machine sustains. Prints the SLO table and writes bench.json, latency.png (and streams.png)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..bench.report import (Benchmark, format_clip_table, format_streams_table, plot_latencies, plot_streams,
                            reports_for_table)
from ..bench.run import MANIFEST_LANGUAGE, default_manifest, load_manifest, run_benchmark, select_clips
from ..errors import LanguageError, SettingsError
from ..pipeline.engine import Engine
from ..settings import load_settings
from ..observability.slo import format_table
from ..text import parse_language


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="SLO benchmark: eval clips at real-time pace, latency/quality/cost report")
    p.add_argument("--manifest", type=Path, default=default_manifest(),
                   help="eval manifest (JSONL; clip paths relative to its folder); default: the bundled samples")
    p.add_argument("--from", dest="source", default=MANIFEST_LANGUAGE,
                   help="source language: `manifest` (each clip's own, default), `auto` (detected), or a code")
    p.add_argument("--to", default="en", help="target language (default en)")
    p.add_argument("--out", type=Path, default=Path("out/bench"), help="output folder (default out/bench)")
    p.add_argument("--clips", help="only these clip ids, comma separated")
    p.add_argument("--limit", type=int, help="only the first K clips")
    p.add_argument("--streams", help="concurrency sweep: N (runs 1..N streams) or a list such as 1,2,4")
    p.set_defaults(run=run)


def stream_counts(spec: str | None) -> list[int]:
    """`3` -> [1, 2, 3]; `1,4` -> [1, 4]; None -> no sweep."""
    if spec is None:
        return []
    try:
        values = [int(part) for part in spec.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise SettingsError(f"--streams takes a positive number N or a list such as 1,2,4; got {spec!r}")
    return list(range(1, values[0] + 1)) if len(values) == 1 else sorted(set(values))


def language_code(spec: str, option: str) -> str:
    try:
        return parse_language(spec, option)
    except LanguageError as exc:
        raise SettingsError(f"{exc} ({option} takes one language)") from None


def source_language(spec: str) -> str:
    value = spec.strip().lower()
    return value if value in (MANIFEST_LANGUAGE, "auto") else language_code(spec, "--from")


def run(args: argparse.Namespace) -> int:
    target = language_code(args.to, "--to")
    source = source_language(args.source)
    counts = stream_counts(args.streams)
    ids = [i.strip() for i in args.clips.split(",") if i.strip()] if args.clips else None
    clips = select_clips(load_manifest(args.manifest), ids, args.limit)
    settings = load_settings()
    engine = Engine.load(settings)
    runs = run_benchmark(engine, clips, target, source, counts)
    bench = Benchmark.score(runs, target)
    doc = bench.document(engine, args.manifest, target, source)

    args.out.mkdir(parents=True, exist_ok=True)
    plot_latencies(bench.overall_samples, args.out / "latency.png",
                   f"{len(clips)} clips, {doc['overall']['slo']['audio_s']:.0f} s of audio, "
                   f"{doc['machine']['cpu_count']} CPUs, whisper {settings.whisper_model} on "
                   f"{engine.whisper.device} (pooled samples)")
    if "streams" in doc:
        plot_streams(doc["streams"], args.out / "streams.png")
    (args.out / "bench.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")

    print()
    print(format_table(reports_for_table(bench.clips, bench.overall)))
    print(f"(overall: {doc['overall']['pooling']}; latencies against reference word ends, "
          "(n of m) = n samples had one)")
    print()
    print(format_clip_table(bench.clips, doc["overall"]))
    if "streams" in doc:
        print()
        print(format_streams_table(doc["streams"]))
    print(f"\nwritten: {args.out / 'bench.json'}, {args.out / 'latency.png'}"
          + (f", {args.out / 'streams.png'}" if "streams" in doc else ""))
    return 0
