"""A language's speech lane keeps up: waiting units merge, speak faster, and skip past 3 s."""

from __future__ import annotations

import pytest

from hive_agent.events import SpeechEvent
from hive_agent.pipeline.outputs import SpeechAudio
from hive_agent.pipeline.speech import MIN_LENGTH_SCALE, SpeechLane, length_scale
from hive_agent.tts import PiperSynthesizer
from hive_agent.tts.voices import packaged_english_voice

SENTENCES = ["The meeting starts at nine.", "Please bring the report.", "We will discuss the budget."]


@pytest.fixture(scope="module")
def synth() -> PiperSynthesizer:
    return PiperSynthesizer(packaged_english_voice())


@pytest.mark.nomodels
def test_length_scale_falls_with_lag_to_the_bound():
    assert length_scale(0.0) == 1.0 and length_scale(-1.0) == 1.0
    assert length_scale(1.0) == pytest.approx((1.0 + MIN_LENGTH_SCALE) / 2)
    assert length_scale(10.0) == MIN_LENGTH_SCALE


async def speak(synth, clock_at: float, ready: list[float], paced: bool = True):
    """Queue the sentences at once (ready at `ready`), the lane's clock reading `clock_at`."""
    out, lags, skipped = [], [], []

    async def emit(item) -> None:
        out.append(item)

    lane = SpeechLane("en", synth, emit, lambda: clock_at, paced,
                      on_lag=lambda _l, s: lags.append(s), on_skip=skipped.append)
    for i, (text, wall) in enumerate(zip(SENTENCES, ready)):
        lane.say(f"u{i + 1}", text, wall)
    await lane.finish()
    starts = [(e.unit, e.wall) for e in out if isinstance(e, SpeechEvent) and e.event == "start"]
    audio_s = sum(a.duration_s for a in out if isinstance(a, SpeechAudio))
    return starts, audio_s, lags, skipped


async def test_units_waiting_together_are_one_faster_utterance(synth):
    # Piper's durations are random (noise_w): the voice's own pace is the shortest of three.
    own_pace_s = min(sum(len(chunk) for chunk in synth.synthesize(" ".join(SENTENCES))) / synth.sample_rate_out
                     for _ in range(3))
    starts, audio_s, lags, skipped = await speak(synth, 11.5, [10.0, 10.0, 10.0])  # 1.5 s behind
    assert [u for u, _ in starts] == ["u1", "u2", "u3"] and len({w for _, w in starts}) == 1
    assert lags[0] == pytest.approx(1.5) and not skipped
    # Faster than the voice's own pace: length scale 0.81 at 1.5 s behind; with the pauses
    # between sentences the whole is 12 % shorter (mean of ten runs each: 3.75 s vs 4.27 s).
    assert length_scale(1.5) < 0.85 and audio_s < own_pace_s * 0.97


async def test_speech_more_than_3_s_behind_skips_to_the_newest_unit(synth):
    starts, _, lags, skipped = await speak(synth, 14.0, [10.0, 10.5, 11.0])
    assert [u for u, _ in starts] == ["u3"] and skipped == ["en", "en"]
    assert lags[0] == pytest.approx(4.0)


async def test_an_unpaced_lane_speaks_each_unit_in_turn_and_speeds_up_by_its_schedule(synth):
    starts, _, lags, skipped = await speak(synth, 0.0, [0.0, 0.1, 0.2], paced=False)
    assert [u for u, _ in starts] == ["u1", "u2", "u3"] and not skipped
    assert starts[1][1] > starts[0][1] and lags[0] == 0.0 and lags[1] > 1.0  # u2 waited for u1's speech
