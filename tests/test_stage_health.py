"""Stage health: the failure window on a fake clock, then the real engine with a failing model
call injected into each stage (Whisper decode, Marian translate_batch, Piper synthesis), seen
through the real HTTP server: /health 503 naming the stage and hive_stage_up 0, and 200 and 1
again once a call succeeds."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest

from eval_data import clip
from pipeline_run import run_clip
from hive_agent.audio import read_audio
from hive_agent.events import WordsEvent
from hive_agent.file_source import run_file
from hive_agent.observability.http_server import BackgroundHttpServer, ServiceState
from hive_agent.pipeline.outputs import SpeechAudio
from hive_agent.observability.stage_health import DOWN_AFTER_FAILURES, FAILURE_WINDOW_S, StageHealth
from hive_agent.observability.telemetry import STAGES, Telemetry

FIRST_UNIT_S = 3.5  # fw-jfk up to "And so my fellow Americans." (one unit)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the window, on a fake clock ------------------------------------------------------------

@pytest.mark.nomodels
def test_repeated_failures_within_the_window_mark_the_stage_failing():
    clock = FakeClock()
    health = StageHealth(STAGES, clock)
    assert health.failed("mt") is False
    clock.now += 10
    assert health.failed("mt") is False
    assert not health.failing("mt")
    clock.now += FAILURE_WINDOW_S - 10  # the third failure, exactly one window after the first
    assert DOWN_AFTER_FAILURES == 3
    assert health.failed("mt") is True
    assert health.failing("mt") and not health.failing("stt") and not health.failing("tts")
    assert health.failed("mt") is False  # already failing: no second transition


@pytest.mark.nomodels
def test_failures_spread_wider_than_the_window_do_not_mark_it_failing():
    clock = FakeClock()
    health = StageHealth(STAGES, clock)
    for _ in range(10):
        health.failed("tts")
        clock.now += FAILURE_WINDOW_S / 2 + 0.1  # never three within one window
    assert not health.failing("tts")


@pytest.mark.nomodels
def test_a_success_between_failures_starts_the_count_over():
    clock = FakeClock()
    health = StageHealth(STAGES, clock)
    health.failed("stt")
    health.failed("stt")
    assert health.succeeded("stt") is False  # it was not failing
    health.failed("stt")
    health.failed("stt")
    assert not health.failing("stt")
    health.failed("stt")
    assert health.failing("stt")


@pytest.mark.nomodels
def test_a_failing_stage_stays_failing_until_a_success():
    clock = FakeClock()
    health = StageHealth(STAGES, clock, failures=2, window_s=5)
    health.failed("mt")
    health.failed("mt")
    clock.now += 3600  # no calls for an hour: no evidence it works again
    assert health.failing("mt")
    assert health.succeeded("mt") is True
    assert not health.failing("mt")
    health.failed("mt")  # one failure after recovering: the old ones are forgotten
    assert not health.failing("mt")


@pytest.mark.nomodels
@pytest.mark.parametrize("failures, window_s, message", [
    (0, 30.0, "failures to mark a stage down must be from 1 to 100, got 0"),
    (101, 30.0, "from 1 to 100, got 101"),
    (3, 0.5, "failure window must be from 1 to 3600 s, got 0.5"),
    (3, 7200.0, "got 7200.0"),
])
def test_out_of_range_settings_are_refused_with_the_range(failures, window_s, message):
    with pytest.raises(ValueError, match=message):
        StageHealth(STAGES, FakeClock(), failures=failures, window_s=window_s)


@pytest.mark.nomodels
def test_telemetry_gauge_follows_load_failures_and_recovery():
    clock = FakeClock()
    t = Telemetry(clock=clock)

    def up(stage: str) -> float | None:
        return t.registry.get_sample_value("hive_stage_up", {"stage": stage})

    assert up("mt") == 0 and t.stage_down_reason("mt") == "its model is not loaded"
    t.set_stage_up("mt", True)
    assert up("mt") == 1 and t.stage_down_reason("mt") is None
    for _ in range(DOWN_AFTER_FAILURES):
        clock.now += 1
        t.stage_error("mt")
    assert up("mt") == 0 and not t.stage_up("mt")
    assert t.stage_down_reason("mt") == ("3 calls failed within 30 s and none has succeeded since "
                                         "(the worker log has the errors)")
    assert t.registry.get_sample_value("hive_stage_errors_total", {"stage": "mt"}) == DOWN_AFTER_FAILURES
    assert up("stt") == 0 and up("tts") == 0  # not loaded: their own state, untouched by mt
    t.observe_stage("mt", 0.05)
    assert up("mt") == 1 and t.stage_up("mt")

    t.set_stage_up("tts", True)
    t.observe_stage("stt", 0.1)  # a success cannot stand in for a model that is not loaded
    assert up("stt") == 0 and t.stage_down_reason("stt") == "its model is not loaded"


# --- the real engine, through the real HTTP server -----------------------------------------

@pytest.fixture(scope="module")
def server(engine):
    http = BackgroundHttpServer(ServiceState(engine=engine), "127.0.0.1", 0)
    http.start()
    yield f"http://127.0.0.1:{http.port}"
    http.close()


def get(server: str, path: str) -> httpx.Response:
    return httpx.get(server + path, timeout=10)


def stage_up_metric(server: str, stage: str) -> str:
    lines = [line for line in get(server, "/metrics").text.splitlines()
             if line.startswith(f'hive_stage_up{{stage="{stage}"}} ')]
    assert len(lines) == 1, lines
    return lines[0].split()[-1]


def errors(engine, stage: str) -> float:
    return engine.telemetry.registry.get_sample_value("hive_stage_errors_total", {"stage": stage})


def assert_down(server: str, stage: str) -> None:
    health = get(server, "/health")
    assert health.status_code == 503
    assert health.json()["status"] == "down"
    assert f"stage {stage} marked down (hive_stage_up 0): 3 calls failed within 30 s" in health.json()["reason"]
    assert get(server, f"/health/{stage}").json()["status"] == "down"
    assert stage_up_metric(server, stage) == "0.0"


def assert_up(server: str, stage: str) -> None:
    health = get(server, "/health")
    assert health.status_code == 200, health.text
    assert health.json()["stages"][stage] == "up"
    assert get(server, f"/health/{stage}").json()["status"] == "up"
    assert stage_up_metric(server, stage) == "1.0"


def failing_session_error(engine, seconds: float, targets=(), source: str = "en") -> BaseException:
    """One speaker's session on the start of fw-jfk whose outputs must raise; the exception."""
    data, rate = read_audio(clip("fw-jfk")[0])

    async def go() -> BaseException:
        session = engine.new_session("failing-speaker", source, set(targets), realtime=False)
        try:
            await run_file(session, data[: int(seconds * rate)], rate, lambda out: None)
        except Exception as exc:  # the failure under test
            return exc
        raise AssertionError("the session ended without the injected failure")

    return asyncio.run(go())


def injected(*args, **kwargs):
    raise RuntimeError("injected model failure")


def test_failing_whisper_decodes_mark_stt_down_until_one_succeeds(engine, server, monkeypatch):
    assert_up(server, "stt")
    before = errors(engine, "stt")
    monkeypatch.setattr(engine.whisper, "decode", injected)
    for n in range(DOWN_AFTER_FAILURES):  # as a room restarts a failed speaker pipeline
        if n:
            assert get(server, "/health").status_code == 200  # fewer failures than the rule needs
        assert "injected model failure" in str(failing_session_error(engine, seconds=2.0))
    assert errors(engine, "stt") == before + DOWN_AFTER_FAILURES
    assert_down(server, "stt")

    monkeypatch.undo()
    run = run_clip(engine, clip("fw-jfk")[0], [], source="en", seconds=FIRST_UNIT_S)
    assert run.of("words")
    assert_up(server, "stt")


def test_failing_marian_calls_mark_mt_down_until_one_succeeds(engine, server, monkeypatch):
    assert_up(server, "mt")
    before = errors(engine, "mt")
    monkeypatch.setattr(engine.marian.get("en", "es"), "translate_batch", injected)
    for _ in range(DOWN_AFTER_FAILURES):
        assert "injected model failure" in str(failing_session_error(engine, FIRST_UNIT_S, targets=["es"]))
    assert errors(engine, "mt") == before + DOWN_AFTER_FAILURES
    assert_down(server, "mt")

    monkeypatch.undo()
    run = run_clip(engine, clip("fw-jfk")[0], ["es"], source="en", seconds=FIRST_UNIT_S)
    assert run.of("translation", lang="es")
    assert_up(server, "mt")


def test_failing_piper_synthesis_marks_tts_down_and_the_speaker_keeps_captions(engine, server, monkeypatch):
    assert_up(server, "tts")
    before = errors(engine, "tts")
    monkeypatch.setattr(engine.speech.get("en"), "_render", injected)
    run = run_clip(engine, clip("fw-jfk")[0], ["en"], source="en")  # completes: speech failures are per unit
    units = run.of("translation", lang="en")
    assert len(units) >= DOWN_AFTER_FAILURES
    assert not run.audio and not run.of("speech")
    assert errors(engine, "tts") == before + len(units)  # every unit was tried, each failed
    assert_down(server, "tts")

    monkeypatch.undo()
    run = run_clip(engine, clip("fw-jfk")[0], ["en"], source="en", seconds=FIRST_UNIT_S)
    assert run.audio and run.of("speech")
    assert_up(server, "tts")


def test_one_speakers_failing_recognizer_does_not_stop_another_speaker(engine):
    data, rate = read_audio(clip("fw-jfk")[0])
    data = data[: int(FIRST_UNIT_S * rate)]

    class FailingDecoder:
        def __getattr__(self, name):
            return getattr(engine.whisper, name)

        decode = staticmethod(injected)

    # alice's engine shares everything with bob's (telemetry included) but its Whisper decoder
    failing_engine = dataclasses.replace(engine, whisper=FailingDecoder())

    async def speaker(name: str, fail: bool) -> list:
        session = (failing_engine if fail else engine).new_session(name, "en", {"en"}, realtime=False)
        outputs = []
        await run_file(session, data, rate, outputs.append)
        return outputs

    async def go():
        return await asyncio.gather(speaker("alice", fail=True), speaker("bob", fail=False),
                                    return_exceptions=True)

    alice, bob = asyncio.run(go())
    assert isinstance(alice, RuntimeError) and "injected model failure" in str(alice)
    assert not isinstance(bob, BaseException)
    words = " ".join(w.text for out in bob if isinstance(out, WordsEvent) for w in out.committed)
    assert "fellow Americans" in words  # bob's captions came through
    assert any(isinstance(out, SpeechAudio) for out in bob)  # and his speech
    assert engine.telemetry.stage_up("stt")  # one failure among successes is not an outage
