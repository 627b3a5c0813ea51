"""The decode schedule: the interim cadence follows the measured decode cost to the budget."""

from __future__ import annotations

import pytest

from hive_agent.stt.schedule import MIN_CADENCE_S, DecodeSchedule

pytestmark = pytest.mark.nomodels


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def settle(schedule: DecodeSchedule, clock: Clock, decode_s: float, streams: int, seconds: float = 30.0) -> None:
    """`streams` speakers decoding every `schedule.cadence_s` of audio, each decode `decode_s`."""
    end = clock.t + seconds
    while clock.t < end:
        step = schedule.cadence_s / streams
        clock.t += step
        schedule.record(decode_s)


def test_a_slow_machine_slows_interim_decodes_to_the_budget_but_not_past_one_extra_chunk():
    clock = Clock()
    schedule = DecodeSchedule(chunk_s=0.4, budget=0.5, clock=clock)
    settle(schedule, clock, decode_s=0.25, streams=1)
    assert schedule.cadence_s == pytest.approx(0.5, abs=0.05)  # 0.25 s of work per 0.5 s
    assert schedule.use == pytest.approx(0.5, abs=0.06)
    settle(schedule, clock, decode_s=0.25, streams=3)
    assert schedule.cadence_s == pytest.approx(0.8)  # capped: a commit waits at most one extra chunk


def test_a_fast_machine_decodes_more_often_down_to_the_floor():
    clock = Clock()
    schedule = DecodeSchedule(chunk_s=0.4, budget=0.5, clock=clock)
    settle(schedule, clock, decode_s=0.03, streams=1)
    assert schedule.cadence_s == pytest.approx(MIN_CADENCE_S)


def test_updates_are_reported_and_the_budget_is_checked():
    clock, seen = Clock(), []
    schedule = DecodeSchedule(chunk_s=0.4, budget=0.5, clock=clock, on_update=lambda c, u: seen.append((c, u)))
    clock.t = 1.0
    schedule.record(0.2)
    assert seen and seen[-1][1] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="budget"):
        DecodeSchedule(chunk_s=0.4, budget=0.0)
