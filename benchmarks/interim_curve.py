"""Caption latency against retraction over the interim-caption knobs.

Usage: python benchmarks/interim_curve.py [--realtime] [--manifest PATH] [--clips fw-jfk,fw-mit-en]
       [--out out/interim_curve.json]

Without --realtime the recognizer runs in deterministic mode (compute time not counted): the
hypotheses are the same for every knob setting, so the retraction rate is exact and the caption
latency is the algorithmic part. With --realtime each point is a paced run (slow: clip length).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
from pathlib import Path

from hive_agent.audio import read_audio
from hive_agent.bench.run import default_manifest, load_manifest, select_clips
from hive_agent.file_source import RealtimeClock
from hive_agent.observability.slo import compute_report
from hive_agent.settings import load_settings
from hive_agent.stt.drive import recognize
from hive_agent.stt.recognizer import RecognizerOptions, StreamingRecognizer
from hive_agent.stt.whisper_decoder import load_whisper

GRID = {
    "interim_words": [0, 1, 2, 3, 4],
    "interim_min_probability": [0.0, 0.4, 0.6],
    "interim_guard_s": [0.0, 0.2],
}


async def one(decoder, settings, path: Path, knobs: dict, realtime: bool) -> dict:
    data, rate = read_audio(path)
    clock = RealtimeClock() if realtime else None
    options = RecognizerOptions.from_settings(settings, catch_up=realtime, **knobs)
    recognizer = StreamingRecognizer(decoder, options, clock=clock)
    events = await recognize(recognizer, data, rate, clock)
    report = compute_report([e.as_json() for e in events], audio_s=len(data) / rate,
                            compute_s=recognizer.stats.compute_s)
    return {"caption_p50_ms": report.caption.p50_s * 1000, "caption_p95_ms": report.caption.p95_s * 1000,
            "commit_p95_ms": report.commit.p95_s * 1000, "retraction": report.retraction_rate,
            "words": report.committed_words, "rtf": report.rtf}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--realtime", action="store_true")
    ap.add_argument("--manifest", type=Path, default=default_manifest(), help="default: the bundled samples")
    ap.add_argument("--clips", default="fw-jfk,fw-mit-en")
    ap.add_argument("--model", default="base")
    ap.add_argument("--out", type=Path, default=Path("out/interim_curve.json"))
    args = ap.parse_args()
    settings = load_settings(whisper_model=args.model)
    decoder = load_whisper(settings)
    clips = select_clips(load_manifest(args.manifest), args.clips.split(","))
    rows = []
    for values in itertools.product(*GRID.values()):
        knobs = dict(zip(GRID, values))
        if knobs["interim_words"] == 0 and (knobs["interim_min_probability"] or knobs["interim_guard_s"]):
            continue
        per_clip = {c.id: asyncio.run(one(decoder, settings, c.path, knobs, args.realtime)) for c in clips}
        words = sum(r["words"] for r in per_clip.values())
        retraction = sum(r["retraction"] * r["words"] for r in per_clip.values()) / max(1, words)
        worst_caption = max(r["caption_p95_ms"] for r in per_clip.values())
        rows.append({"knobs": knobs, "retraction": retraction, "worst_caption_p95_ms": worst_caption,
                     "clips": per_clip})
        print(f"{knobs}  retraction {retraction:6.1%}  caption p95 (worst clip) {worst_caption:6.0f} ms", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    ok = [r for r in rows if r["retraction"] < 0.05]
    if ok:
        best = min(ok, key=lambda r: r["worst_caption_p95_ms"])
        print("lowest caption p95 with retraction < 5 %:", best["knobs"], f"{best['worst_caption_p95_ms']:.0f} ms",
              f"{best['retraction']:.1%}")


if __name__ == "__main__":
    main()
