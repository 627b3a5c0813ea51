"""How often streams decode, so that Whisper's work across all of them fits the machine.

Each decode reports its compute time. The schedule keeps the share of wall time spent decoding
over the last WINDOW_S (its `use`) and sets one interim cadence for every stream of the process:
slower when the use passes the budget, faster when there is room, down to MIN_CADENCE_S on a
fast CPU or a GPU. It never passes twice the configured chunk, so a commit (which needs the next
decode to agree) waits at most one extra chunk. End-of-utterance decodes are not scheduled: they
run when the speaker stops. Lag is bounded separately: the driver sheds stale interim decodes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 5.0
MIN_CADENCE_S = 0.2
SMOOTHING = 0.5  # how far one adjustment moves toward the cadence that would meet the budget


class DecodeSchedule:
    def __init__(self, chunk_s: float, budget: float, clock: Callable[[], float] = time.monotonic,
                 on_update: Callable[[float, float], None] | None = None):
        if not 0.0 < budget <= 1.0:
            raise ValueError(f"the decode budget is a share of wall time in (0, 1], got {budget}")
        self.budget = budget
        self.min_s = min(MIN_CADENCE_S, chunk_s)
        self.max_s = 2 * chunk_s
        self.cadence_s = chunk_s
        self._clock = clock
        self._on_update = on_update  # (cadence_s, use), e.g. for metrics
        self._decodes: deque[tuple[float, float]] = deque()  # (when it ended, compute seconds)
        self._since = clock()

    @property
    def use(self) -> float:
        """Share of the last WINDOW_S (or of the time since the start, if shorter) spent decoding."""
        now = self._clock()
        while self._decodes and self._decodes[0][0] < now - WINDOW_S:
            self._decodes.popleft()
        span = min(WINDOW_S, now - self._since)
        return sum(s for _, s in self._decodes) / span if span > 0 else 0.0

    def record(self, seconds: float) -> None:
        """One decode of any stream took `seconds`; adjust the cadence toward the budget."""
        self._decodes.append((self._clock(), seconds))
        use = self.use
        # Decodes per second go as 1 / cadence, so this cadence would bring the use to the budget.
        wanted = self.cadence_s * use / self.budget
        cadence = self.cadence_s + SMOOTHING * (wanted - self.cadence_s)
        self.cadence_s = min(self.max_s, max(self.min_s, cadence))
        if self._on_update is not None:
            self._on_update(self.cadence_s, use)
