"""Prometheus metrics for one HIVE worker: SLO latencies, stage health and load.

Every latency is passed in seconds (the pipeline's clock) and stored in milliseconds, the unit
the SLOs are written in (see docs/metrics.md). Each `Telemetry` owns its registry, so a test or a
second worker in the same process gets independent metrics.

A stage is up (`hive_stage_up` 1) while its model is loaded and its calls are not failing: the
outcomes that `observe_stage` and `stage_error` report go through `StageHealth`, which marks a
stage down after repeated failures and up again on its next success.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from .stage_health import StageHealth

log = logging.getLogger(__name__)

STAGES = ("stt", "mt", "tts")

# 0-5000 ms, dense where the SLO thresholds sit (250/300 ms captions, 450/500 ms TTFT,
# 500/600 ms end to end) so histogram_quantile interpolates inside narrow buckets there.
LATENCY_BUCKETS_MS = (
    10, 25, 50, 75, 100, 125, 150, 175, 200, 225, 250, 275, 300, 350, 400, 450, 500,
    550, 600, 700, 800, 1000, 1250, 1500, 2000, 3000, 5000,
)


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _check_stage(stage: str) -> str:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)}")
    return stage


class Telemetry:
    """The worker's metrics; call the methods as things happen, serve `exposition()`.

    `clock` times stage failures (see `StageHealth`); sessions on several threads may report."""

    content_type: str = CONTENT_TYPE_LATEST

    def __init__(self, registry: CollectorRegistry | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry

        self._caption_latency = Histogram(
            "hive_caption_latency_milliseconds",
            "Per source word: wall time of the first caption showing it minus its audio end.",
            buckets=LATENCY_BUCKETS_MS, registry=r)
        self._commit_latency = Histogram(
            "hive_commit_latency_milliseconds",
            "Per source word: wall time of the caption committing it minus its audio end.",
            buckets=LATENCY_BUCKETS_MS, registry=r)
        self._ttft = Histogram(
            "hive_translation_ttft_milliseconds",
            "Per translation unit: first translated text minus the end of its last source word.",
            ["lang"], buckets=LATENCY_BUCKETS_MS, registry=r)
        self._end_to_end = Histogram(
            "hive_end_to_end_latency_milliseconds",
            "Per translation unit: first translated speech frame minus the end of its last source word.",
            ["lang"], buckets=LATENCY_BUCKETS_MS, registry=r)
        self._stage_processing = Histogram(
            "hive_stage_processing_milliseconds",
            "Compute time of one stage request (STT decode, MT segment, TTS to first audio).",
            ["stage"], buckets=LATENCY_BUCKETS_MS, registry=r)

        self._words_committed = Counter(
            "hive_words_committed", "Source words committed (final captions).", registry=r)
        self._words_retracted = Counter(
            "hive_words_retracted",
            "Words shown in an interim caption and later removed or replaced.", registry=r)
        self._stage_requests = Counter(
            "hive_stage_requests", "Stage requests, successful or failed.", ["stage"], registry=r)
        self._stage_errors = Counter(
            "hive_stage_errors", "Stage requests that failed.", ["stage"], registry=r)
        self._shed_work = Counter(
            "hive_shed_work", "Work skipped to keep up with real time, by kind.", ["kind"], registry=r)
        self._decode_cadence = Gauge(
            "hive_stt_decode_cadence_seconds",
            "Audio seconds between two interim decodes of a speaker, as the decode schedule set it.",
            registry=r)
        self._decode_budget_use = Gauge(
            "hive_stt_decode_budget_use",
            "Share of wall time spent in recognition decodes over the last 5 s (all speakers).",
            registry=r)
        self._speech_lag = Gauge(
            "hive_tts_speech_lag_seconds",
            "How far translated speech starts behind its text being ready, per language "
            "(the lane speaks faster from 0 s and skips to the newest unit past 3 s).",
            ["lang"], registry=r)
        self._too_quiet = Counter(
            "hive_stt_too_quiet_streams",
            "Times a speaker's audio turned too quiet to recognise even after the automatic gain.",
            registry=r)

        self._retraction_ratio = Gauge(
            "hive_word_retraction_ratio",
            "Retracted words divided by committed words since the worker started.", registry=r)
        self._sessions = Gauge(
            "hive_concurrent_translation_sessions", "Translation sessions running now.", registry=r)
        self._queue_depth = Gauge(
            "hive_stage_queue_depth", "Items waiting in front of a stage.", ["stage"], registry=r)
        self._lag = Gauge(
            "hive_lag_behind_realtime_seconds",
            "How far a session's processing trails the live audio.", ["session"], registry=r)
        self._stage_up = Gauge(
            "hive_stage_up", "1 when the stage's model is loaded and its calls are not failing, else 0.",
            ["stage"], registry=r)
        self._model_info = Gauge(
            "hive_model_info", "The model each stage runs (value is always 1).",
            ["stage", "model", "device", "compute_type"], registry=r)

        # Series that exist from the start, so rates and dashboards show 0 rather than nothing.
        for stage in STAGES:
            self._stage_requests.labels(stage=stage)
            self._stage_errors.labels(stage=stage)
            self._queue_depth.labels(stage=stage)
            self._stage_up.labels(stage=stage).set(0)  # down until its model has loaded

        self._committed = 0
        self._retracted = 0
        self._active_sessions: set[str] = set()
        self._model_labels: dict[str, tuple[str, str, str, str]] = {}
        self._loaded: set[str] = set()
        self._health = StageHealth(STAGES, clock)
        self._health_lock = threading.Lock()  # a decision and its gauge change together

    # --- SLO latencies (seconds in, milliseconds stored) ---------------------------------

    def observe_caption_latency(self, seconds: float) -> None:
        self._caption_latency.observe(_ms(seconds))

    def observe_commit_latency(self, seconds: float) -> None:
        self._commit_latency.observe(_ms(seconds))

    def observe_ttft(self, lang: str, seconds: float) -> None:
        self._ttft.labels(lang=lang).observe(_ms(seconds))

    def observe_end_to_end(self, lang: str, seconds: float) -> None:
        self._end_to_end.labels(lang=lang).observe(_ms(seconds))

    # --- caption stability ---------------------------------------------------------------

    def count_words(self, committed: int, retracted: int) -> None:
        """Add words committed and retracted by one caption event; updates the ratio gauge."""
        if committed < 0 or retracted < 0:
            raise ValueError(f"word counts must be >= 0, got committed={committed}, retracted={retracted}")
        self._committed += committed
        self._retracted += retracted
        self._words_committed.inc(committed)
        self._words_retracted.inc(retracted)
        if self._committed:
            self._retraction_ratio.set(self._retracted / self._committed)

    # --- stages --------------------------------------------------------------------------

    def observe_stage(self, stage: str, seconds: float) -> None:
        """A stage request completed in `seconds` of compute; a failing stage is up again."""
        _check_stage(stage)
        self._stage_requests.labels(stage=stage).inc()
        self._stage_processing.labels(stage=stage).observe(_ms(seconds))
        with self._health_lock:
            if self._health.succeeded(stage):
                log.info("stage %s is up again: a call succeeded", stage)
            self._publish_stage_up(stage)

    def stage_error(self, stage: str) -> None:
        """A stage request failed; it counts as a request too, so errors/requests <= 1.
        Repeated failures mark the stage down (see `StageHealth`)."""
        _check_stage(stage)
        self._stage_requests.labels(stage=stage).inc()
        self._stage_errors.labels(stage=stage).inc()
        with self._health_lock:
            if self._health.failed(stage):
                log.error("stage %s marked down: %s", stage, self._failing_reason())
            self._publish_stage_up(stage)

    def set_queue_depth(self, stage: str, n: int) -> None:
        self._queue_depth.labels(stage=_check_stage(stage)).set(n)

    def set_stage_up(self, stage: str, up: bool) -> None:
        """The stage's model is loaded (`up`) or not; a loaded stage still reads 0 while failing."""
        _check_stage(stage)
        with self._health_lock:
            if up:
                self._loaded.add(stage)
            else:
                self._loaded.discard(stage)
            self._publish_stage_up(stage)

    def stage_up(self, stage: str) -> bool:
        """What `hive_stage_up` shows: loaded and not failing."""
        return _check_stage(stage) in self._loaded and not self._health.failing(stage)

    def stage_down_reason(self, stage: str) -> str | None:
        """Why the stage is down, or None while it is up."""
        if _check_stage(stage) not in self._loaded:
            return "its model is not loaded"
        if self._health.failing(stage):
            return self._failing_reason()
        return None

    def _failing_reason(self) -> str:
        return (f"{self._health.failures} calls failed within {self._health.window_s:g} s "
                "and none has succeeded since (the worker log has the errors)")

    def _publish_stage_up(self, stage: str) -> None:
        self._stage_up.labels(stage=stage).set(1 if self.stage_up(stage) else 0)

    def set_model_info(self, stage: str, model: str, device: str, compute_type: str) -> None:
        """Record the model a stage runs; replaces the stage's previous model series."""
        _check_stage(stage)
        previous = self._model_labels.get(stage)
        if previous is not None:
            self._model_info.remove(*previous)
        labels = (stage, model, device, compute_type)
        self._model_info.labels(*labels).set(1)
        self._model_labels[stage] = labels

    # --- load ----------------------------------------------------------------------------

    def shed(self, kind: str) -> None:
        """Work skipped to keep real time, e.g. `interim_decode` or `no_voice_es`."""
        if not kind:
            raise ValueError("shed kind must be a non-empty name such as 'interim_decode'")
        self._shed_work.labels(kind=kind).inc()

    def set_decode_schedule(self, cadence_s: float, use: float) -> None:
        self._decode_cadence.set(cadence_s)
        self._decode_budget_use.set(use)

    def set_speech_lag(self, lang: str, seconds: float) -> None:
        self._speech_lag.labels(lang=lang).set(max(0.0, seconds))

    def too_quiet(self) -> None:
        """A speaker's audio turned too quiet to recognise, even after the automatic gain."""
        self._too_quiet.inc()

    def session_started(self, session: str) -> None:
        self._active_sessions.add(session)
        self._sessions.set(len(self._active_sessions))

    def session_ended(self, session: str) -> None:
        """Forget the session: its lag series is removed so ended sessions do not linger."""
        self._active_sessions.discard(session)
        self._sessions.set(len(self._active_sessions))
        self._lag.remove(session)  # a no-op when the session never reported lag

    def set_lag(self, session: str, seconds: float) -> None:
        self._lag.labels(session=session).set(seconds)

    # --- serving -------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format (serve with `content_type`)."""
        return generate_latest(self.registry)
