"""Scoring benchmark runs (metrics.md) and writing them up: per clip, overall, per concurrency
level; a JSON document and PNG figures (matplotlib's Agg canvas, no display needed).

Overall latencies pool the samples of every clip and take percentiles of the pool; they are not
means of per-clip percentiles. A concurrency level is *bounded* when every stream's largest lag
stays under `LAG_BOUND_S` and no stream's lag grows over its run: the mean lag over the last
third of the run exceeds the mean over the first third by less than `LAG_GROWTH_LIMIT_S`.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..file_source import FRAME_S
from ..observability.slo import (CAPTION_P95_TARGET_S, END_TO_END_TARGET_S, TTFT_P95_TARGET_S, LatencyStats,
                                 SloReport, committed_words, compute_report, format_columns)
from ..pipeline.engine import Engine
from ..text import normalise
from .quality import align_reference_ends, chrf, wer
from .run import BenchRuns, StreamRun

LAG_BOUND_S = 2.0
LAG_GROWTH_LIMIT_S = 0.5
POOLING = ("overall latencies are percentiles of the samples of all clips pooled together, "
           "not means of per-clip percentiles")
BOUNDED = (f"largest lag of every stream < {LAG_BOUND_S:g} s and mean lag over the last third of "
           f"each run < mean over the first third + {LAG_GROWTH_LIMIT_S:g} s")


@dataclass
class LatencySamples:
    """Raw latency samples in seconds, poolable across clips (unit ids repeat between clips)."""

    caption: list[float] = field(default_factory=list)
    commit: list[float] = field(default_factory=list)
    ttft: list[float] = field(default_factory=list)
    end_to_end: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, report: SloReport) -> LatencySamples:
        return cls(list(report.caption.samples), list(report.commit.samples),
                   list(report.ttft.samples), list(report.end_to_end.samples))

    def extend(self, other: LatencySamples) -> None:
        for name in ("caption", "commit", "ttft", "end_to_end"):
            getattr(self, name).extend(getattr(other, name))


@dataclass
class ClipScore:
    run: StreamRun
    report: SloReport
    samples: LatencySamples
    reference_words: int  # words of the offline reference pass
    alignment_matched_share: float  # committed words matched to a reference word
    wer: float | None  # against the manifest transcript, when there is one
    transcript_words: int  # normalised words of that transcript (weights the pooled WER)
    chrf: float | None  # of the target-language translation, when there is a reference
    translation: str
    translation_reference: str | None

    @property
    def rtf(self) -> float:
        return self.run.compute_s / self.run.audio_s


def score_clip(run: StreamRun, reference: Sequence[dict], target: str) -> ClipScore:
    """Latencies against the reference word ends, WER of the committed text, chrF of the translation."""
    words = committed_words(run.events)
    ends, matched = align_reference_ends(reference, words)
    report = compute_report(run.events, audio_s=run.audio_s, compute_s=run.compute_s, reference_ends=ends)
    clip = run.clip
    hypothesis = " ".join(w["text"] for w in words)
    transcript_words = len(normalise(clip.text).split()) if clip.text else 0
    translation = report.translated_text.get(target, "")
    translation_reference = clip.reference_translation(target)
    return ClipScore(
        run=run, report=report, samples=LatencySamples.of(report), reference_words=len(reference),
        alignment_matched_share=matched,
        wer=wer(clip.text, hypothesis) if transcript_words else None, transcript_words=transcript_words,
        chrf=chrf(translation, translation_reference) if translation_reference else None,
        translation=translation, translation_reference=translation_reference)


def pooled(scores: Sequence[ClipScore]) -> tuple[SloReport, LatencySamples]:
    """One report over the pooled samples and counts of all `scores`."""
    samples = LatencySamples()
    for s in scores:
        samples.extend(s.samples)
    reports = [s.report for s in scores]

    def stats(values: list[float], name: str) -> LatencyStats:
        return LatencyStats.of(values, sum(getattr(r, name).unmatched for r in reports))

    committed = sum(r.committed_words for r in reports)
    retracted = sum(r.retracted_words for r in reports)
    audio_s = sum(s.run.audio_s for s in scores)
    compute_s = sum(s.run.compute_s for s in scores)
    return SloReport(
        caption=stats(samples.caption, "caption"), commit=stats(samples.commit, "commit"),
        committed_words=committed, retracted_words=retracted,
        retraction_rate=retracted / committed if committed else None,
        ttft=stats(samples.ttft, "ttft"), end_to_end=stats(samples.end_to_end, "end_to_end"),
        uncommitted_words=sum(r.uncommitted_words for r in reports),
        audio_s=audio_s, compute_s=compute_s, rtf=compute_s / audio_s if audio_s else None,
    ), samples


def pooled_quality(scores: Sequence[ClipScore]) -> dict:
    """Corpus WER (word errors over transcript words) and corpus chrF, with clip counts."""
    with_text = [s for s in scores if s.wer is not None]
    with_ref = [s for s in scores if s.chrf is not None]
    words = sum(s.transcript_words for s in with_text)
    return {
        "wer": sum(s.wer * s.transcript_words for s in with_text) / words if words else None,
        "wer_clips": len(with_text),
        "chrf": chrf([s.translation for s in with_ref], [s.translation_reference for s in with_ref])
        if with_ref else None,
        "chrf_clips": len(with_ref),
    }


# ------------------------------------------------------------------ concurrency
def lag_growth(trace: Sequence[tuple[float, float]]) -> float:
    """Mean lag over the last third of a run minus the mean over its first third."""
    third = len(trace) // 3
    if third == 0:
        return 0.0
    first = [lag for _, lag in trace[:third]]
    last = [lag for _, lag in trace[-third:]]
    return sum(last) / third - sum(first) / third


@dataclass
class StreamLevel:
    n: int
    scores: list[ClipScore]

    @property
    def largest_lag_s(self) -> float:
        return max(s.run.max_lag_s for s in self.scores)

    @property
    def lag_growth_s(self) -> float:
        return max(lag_growth(s.run.lag_trace) for s in self.scores)

    @property
    def bounded(self) -> bool:
        return self.largest_lag_s < LAG_BOUND_S and self.lag_growth_s < LAG_GROWTH_LIMIT_S

    def as_dict(self) -> dict:
        report, _ = pooled(self.scores)
        rtfs = [s.rtf for s in self.scores]
        return {
            "n": self.n,
            "clips": [s.run.clip.id for s in self.scores],
            "caption_latency": report.caption.as_dict(),
            "commit_latency": report.commit.as_dict(),
            "largest_lag_s": self.largest_lag_s,
            "lag_growth_s": self.lag_growth_s,
            "rtf_per_stream": rtfs,
            "rtf_per_stream_mean": sum(rtfs) / len(rtfs),
            "shed_decodes": sum(s.run.shed_decodes for s in self.scores),
            "peak_rss_mb": max(s.run.peak_rss_mb for s in self.scores),
            "bounded": self.bounded,
        }


def max_bounded_streams(levels: Sequence[StreamLevel]) -> int:
    """The largest tested N such that it and every smaller tested N are bounded (0: none)."""
    best = 0
    for level in sorted(levels, key=lambda lv: lv.n):
        if not level.bounded:
            break
        best = level.n
    return best


# ------------------------------------------------------------------ the document
def machine_info(engine: Engine) -> dict:
    settings = engine.settings
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "whisper_model": settings.whisper_model,
        "device": engine.whisper.device,
        "compute_type": engine.whisper.compute_type,
        "mt_pairs": [f"{s}-{t}" for s, t in engine.marian.available_pairs()],
        "voices": sorted(engine.speech_languages()),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def clip_entry(score: ClipScore) -> dict:
    run = score.run
    return {
        "lang": run.clip.lang,
        "source_language": run.source,
        "kind": run.clip.kind,
        "audio_s": run.audio_s,
        "slo": score.report.as_dict(),
        "alignment": {"reference_words": score.reference_words,
                      "matched_share": score.alignment_matched_share},
        "wer": score.wer,
        "chrf": score.chrf,
        "translation_reference": score.translation_reference,
        "rtf": score.rtf,
        "largest_lag_s": run.max_lag_s,
        "shed_decodes": run.shed_decodes,
        "peak_rss_mb": run.peak_rss_mb,
    }


@dataclass
class Benchmark:
    """Everything the command prints and saves."""

    clips: list[ClipScore]
    overall: SloReport
    overall_samples: LatencySamples
    levels: list[StreamLevel]

    @classmethod
    def score(cls, runs: BenchRuns, target: str) -> Benchmark:
        clips = [score_clip(run, runs.references[run.clip.id], target) for run in runs.clips]
        overall, samples = pooled(clips)
        levels = [StreamLevel(n, [score_clip(run, runs.references[run.clip.id], target) for run in level])
                  for n, level in sorted(runs.streams.items())]
        return cls(clips, overall, samples, levels)

    def document(self, engine: Engine, manifest: Path, target: str, source: str) -> dict:
        doc = {
            "manifest": str(manifest),
            "target": target,
            "source": source,  # `manifest`: each clip's own language
            "pace": f"real time ({FRAME_S * 1000:.0f} ms frames; compute time counts)",
            "word_ends": "offline Whisper pass over each whole file (the engine's model, word timestamps), "
                         "matched to committed words in order; matched_share says how many had one",
            "machine": machine_info(engine),
            "settings": engine.settings.model_dump(mode="json"),
            "clips": {s.run.clip.id: clip_entry(s) for s in self.clips},
            "overall": {
                "pooling": POOLING,
                "clips": len(self.clips),
                "slo": self.overall.as_dict(),
                **pooled_quality(self.clips),
                "largest_lag_s": max((s.run.max_lag_s for s in self.clips), default=None),
                "shed_decodes": sum(s.run.shed_decodes for s in self.clips),
                "peak_rss_mb": max((s.run.peak_rss_mb for s in self.clips), default=None),
            },
        }
        if self.levels:
            doc["streams"] = {
                "bounded_means": BOUNDED,
                "levels": [level.as_dict() for level in self.levels],
                "max_bounded_streams": max_bounded_streams(self.levels),
                "all_tested_bounded": all(level.bounded for level in self.levels),
            }
        return doc


# ------------------------------------------------------------------ text
def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def format_clip_table(scores: Sequence[ClipScore], overall: Mapping) -> str:
    """What the SLO table leaves out: quality, alignment, cost per clip."""
    rows = [["", "lang", "audio s", "WER", "chrF", "matched", "largest lag s", "shed", "RTF", "peak RSS MB"]]
    for s in scores:
        rows.append([s.run.clip.id, s.run.clip.lang, f"{s.run.audio_s:.1f}", _num(s.wer, ".2f"),
                     _num(s.chrf, ".1f"), f"{s.alignment_matched_share * 100:.0f} %", f"{s.run.max_lag_s:.2f}",
                     str(s.run.shed_decodes), f"{s.rtf:.2f}", f"{s.run.peak_rss_mb:.0f}"])
    slo = overall["slo"]
    rows.append(["overall (pooled)", "", f"{slo['audio_s']:.1f}",
                 f"{_num(overall['wer'], '.2f')} ({overall['wer_clips']})",
                 f"{_num(overall['chrf'], '.1f')} ({overall['chrf_clips']})", "",
                 _num(overall["largest_lag_s"], ".2f"), str(overall["shed_decodes"]),
                 _num(slo["rtf"], ".2f"), _num(overall["peak_rss_mb"], ".0f")])
    return format_columns(rows)


def format_streams_table(streams: Mapping) -> str:
    rows = [["streams", "caption p95 ms (n)", "commit p95 ms (n)", "largest lag s", "lag growth s",
             "RTF/stream", "shed", "bounded"]]
    for lv in streams["levels"]:
        def p95(stats: dict) -> str:
            return "-" if stats["p95_s"] is None else f"{stats['p95_s'] * 1000:.0f} ({stats['n']})"
        rows.append([str(lv["n"]), p95(lv["caption_latency"]), p95(lv["commit_latency"]),
                     f"{lv['largest_lag_s']:.2f}", f"{lv['lag_growth_s']:+.2f}",
                     f"{lv['rtf_per_stream_mean']:.2f}", str(lv["shed_decodes"]), "yes" if lv["bounded"] else "no"])
    n = streams["max_bounded_streams"]
    verdict = (f"largest N with bounded lag on this machine: {n}"
               + (" (every level tested was bounded; more may fit)" if streams["all_tested_bounded"] else ""))
    return f"{format_columns(rows)}\nbounded = {BOUNDED}\n{verdict}"


# ------------------------------------------------------------------ figures
_PANELS = [("caption", "caption latency", CAPTION_P95_TARGET_S), ("commit", "commit latency", None),
           ("ttft", "translation TTFT", TTFT_P95_TARGET_S), ("end_to_end", "end-to-end", END_TO_END_TARGET_S)]


def plot_latencies(samples: LatencySamples, path: Path, title: str) -> None:
    """Empirical CDFs of the pooled latencies, with the SLO p95 targets marked."""
    from matplotlib.figure import Figure  # matplotlib takes a second to import: only for figures

    fig = Figure(figsize=(11, 8), layout="constrained")
    for ax, (name, label, target) in zip(fig.subplots(2, 2).flat, _PANELS):
        values = sorted(v * 1000 for v in getattr(samples, name))
        ax.set_title(f"{label} (n={len(values)})")
        ax.set_xlabel("ms")
        ax.set_ylabel("share of samples")
        ax.grid(alpha=0.3)
        if values:
            ax.step(values, [(i + 1) / len(values) for i in range(len(values))], where="post")
        else:
            ax.text(0.5, 0.5, "no samples", ha="center", va="center", transform=ax.transAxes)
        ax.axhline(0.95, color="grey", linestyle=":", linewidth=1)
        ax.set_ylim(0, 1.02)
        if target is not None:
            ax.axvline(target * 1000, color="red", linestyle="--", label=f"SLO p95 target {target * 1000:.0f} ms")
            ax.legend(loc="lower right")
    fig.suptitle(title)
    fig.savefig(path, dpi=100)


def plot_streams(streams: Mapping, path: Path) -> None:
    """Lag and p95 latencies against the number of concurrent streams."""
    levels = streams["levels"]
    ns = [lv["n"] for lv in levels]

    def ms(stats: dict) -> float:
        return float("nan") if stats["p95_s"] is None else stats["p95_s"] * 1000

    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    lag_ax, latency_ax = fig.subplots(1, 2)
    lag_ax.plot(ns, [lv["largest_lag_s"] for lv in levels], marker="o", label="largest lag")
    lag_ax.plot(ns, [lv["lag_growth_s"] for lv in levels], marker="s", label="lag growth (last - first third)")
    lag_ax.axhline(LAG_BOUND_S, color="red", linestyle="--", label=f"largest-lag bound {LAG_BOUND_S:g} s")
    lag_ax.axhline(LAG_GROWTH_LIMIT_S, color="orange", linestyle=":", label=f"growth bound {LAG_GROWTH_LIMIT_S:g} s")
    lag_ax.set_xlabel("concurrent streams")
    lag_ax.set_ylabel("s")
    lag_ax.set_title(f"lag (largest bounded N: {streams['max_bounded_streams']})")
    latency_ax.plot(ns, [ms(lv["caption_latency"]) for lv in levels], marker="o", label="caption p95")
    latency_ax.plot(ns, [ms(lv["commit_latency"]) for lv in levels], marker="s", label="commit p95")
    latency_ax.axhline(CAPTION_P95_TARGET_S * 1000, color="red", linestyle="--", label="caption SLO p95")
    latency_ax.set_xlabel("concurrent streams")
    latency_ax.set_ylabel("ms")
    latency_ax.set_title("p95 latency")
    for ax in (lag_ax, latency_ax):
        ax.set_xticks(ns)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.savefig(path, dpi=100)


def reports_for_table(scores: Iterable[ClipScore], overall: SloReport) -> list[tuple[str, SloReport]]:
    return [(s.run.clip.id, s.report) for s in scores] + [("overall (pooled)", overall)]
