"""Recent stage timings and caption quality for the operator's `/performance` and `/health/*`.

Prometheus keeps the long view in histograms; this keeps exact recent samples (bounded rolling
windows), so p50/p95 here are true percentiles of the last `window` samples. Thread-safe: the
sessions record from their event loops while the HTTP server reads from its own.
"""

from __future__ import annotations

import math
import threading
from collections import deque

from .slo import percentile
from .telemetry import STAGES

DEFAULT_WINDOW = 1000
CONFIDENCE_BUCKETS = 10  # 0.0-0.1, 0.1-0.2, ..., 0.9-1.0
_STAGE_KEYS = {"stt": "processing_time_ms", "mt": "translation_time_ms", "tts": "synthesis_time_ms"}


def _bucket_label(i: int) -> str:
    return f"{i / CONFIDENCE_BUCKETS:.1f}-{(i + 1) / CONFIDENCE_BUCKETS:.1f}"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class Performance:
    """Rolling windows: the last `window` compute times (ms) of each stage, the confidences of
    the last `window` committed words, and the committed/retracted counts of the last `window`
    caption events (the retraction rate)."""

    def __init__(self, window: int = DEFAULT_WINDOW) -> None:
        if window < 1:
            raise ValueError(f"performance window must be >= 1 sample, got {window}")
        self.window = window
        self._lock = threading.Lock()
        self._stage_ms: dict[str, deque[float]] = {stage: deque(maxlen=window) for stage in STAGES}
        self._confidences: deque[float] = deque(maxlen=window)
        self._word_events: deque[tuple[int, int]] = deque(maxlen=window)  # (committed, retracted)
        self._committed = 0  # sums over _word_events
        self._retracted = 0

    def record_stage(self, stage: str, seconds: float) -> None:
        """One stt decode, mt call or tts time-to-first-audio took `seconds` of compute."""
        if stage not in _STAGE_KEYS:
            raise ValueError(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)}")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"stage time must be a finite number of seconds >= 0, got {seconds!r}")
        with self._lock:
            self._stage_ms[stage].append(seconds * 1000.0)

    def record_words(self, probabilities: list[float], retracted: int) -> None:
        """One caption event: the confidences of the words it committed and how many shown
        interim words it retracted."""
        if retracted < 0:
            raise ValueError(f"retracted word count must be >= 0, got {retracted}")
        bad = [p for p in probabilities if not 0.0 <= p <= 1.0]  # also catches NaN
        if bad:
            raise ValueError(f"word probabilities must lie in [0, 1], got {bad[:3]}")
        with self._lock:
            if len(self._word_events) == self.window:
                old_committed, old_retracted = self._word_events[0]
                self._committed -= old_committed
                self._retracted -= old_retracted
            self._word_events.append((len(probabilities), retracted))
            self._committed += len(probabilities)
            self._retracted += retracted
            self._confidences.extend(probabilities)

    @property
    def stored_items(self) -> int:
        """Samples held in memory: at most `window` per stage, confidence and caption event."""
        with self._lock:
            return sum(map(len, self._stage_ms.values())) + len(self._confidences) + len(self._word_events)

    def latency_p95_ms(self, stage: str) -> float | None:
        """p95 of the stage's recent compute times in ms; None before the first sample."""
        if stage not in _STAGE_KEYS:
            raise ValueError(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)}")
        with self._lock:
            samples = list(self._stage_ms[stage])
        return _round(percentile(samples, 95))

    def snapshot(self) -> dict:
        with self._lock:
            stage_ms = {stage: list(samples) for stage, samples in self._stage_ms.items()}
            confidences = list(self._confidences)
            committed, retracted = self._committed, self._retracted
        snap: dict = {"window": self.window}
        for stage, key in _STAGE_KEYS.items():
            samples = stage_ms[stage]
            snap[key] = {"p50": _round(percentile(samples, 50)), "p95": _round(percentile(samples, 95)),
                         "n": len(samples)}
        snap["word_retraction_rate"] = round(retracted / committed, 4) if committed else None
        snap["words"] = {"committed": committed, "retracted": retracted}
        counts = [0] * CONFIDENCE_BUCKETS
        for p in confidences:
            counts[min(int(p * CONFIDENCE_BUCKETS), CONFIDENCE_BUCKETS - 1)] += 1
        snap["confidence"] = {
            "buckets": {_bucket_label(i): n for i, n in enumerate(counts)},
            "mean": round(sum(confidences) / len(confidences), 4) if confidences else None,
            "n": len(confidences),
        }
        return snap
