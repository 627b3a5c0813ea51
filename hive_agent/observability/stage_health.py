"""Whether a stage's calls keep failing: the rule that marks a loaded stage down and up again.

A stage is failing once DOWN_AFTER_FAILURES of its calls have failed within FAILURE_WINDOW_S
with no success after them, and stays failing until one of its calls succeeds. A single failure,
or failures spread out between successes, leave it up. Time comes from an injectable clock.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

DOWN_AFTER_FAILURES = 3
FAILURE_WINDOW_S = 30.0
FAILURES_RANGE = (1, 100)
WINDOW_RANGE_S = (1.0, 3600.0)


class StageHealth:
    """Call outcomes per stage. Not thread-safe: the owner serializes calls (`Telemetry` does)."""

    def __init__(self, stages: Iterable[str], clock: Callable[[], float] = time.monotonic,
                 failures: int = DOWN_AFTER_FAILURES, window_s: float = FAILURE_WINDOW_S):
        if not FAILURES_RANGE[0] <= failures <= FAILURES_RANGE[1]:
            raise ValueError(f"failures to mark a stage down must be from {FAILURES_RANGE[0]} to "
                             f"{FAILURES_RANGE[1]}, got {failures}")
        if not WINDOW_RANGE_S[0] <= window_s <= WINDOW_RANGE_S[1]:
            raise ValueError(f"failure window must be from {WINDOW_RANGE_S[0]:g} to {WINDOW_RANGE_S[1]:g} s, "
                             f"got {window_s}")
        self.failures = failures
        self.window_s = window_s
        self._clock = clock
        self._recent: dict[str, deque[float]] = {stage: deque() for stage in stages}
        self._failing: set[str] = set()

    def failed(self, stage: str) -> bool:
        """Record a failed call; True when this failure marks the stage as failing."""
        now = self._clock()
        recent = self._recent[stage]
        recent.append(now)
        while now - recent[0] > self.window_s:
            recent.popleft()
        if stage in self._failing or len(recent) < self.failures:
            return False
        self._failing.add(stage)
        return True

    def succeeded(self, stage: str) -> bool:
        """Record a successful call; True when it ends a failing spell."""
        self._recent[stage].clear()
        if stage not in self._failing:
            return False
        self._failing.discard(stage)
        return True

    def failing(self, stage: str) -> bool:
        return stage in self._failing
