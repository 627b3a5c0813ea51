"""The operator's HTTP endpoints, queried with an HTTP client against the real application:
the real engine (Whisper base, Piper), a real clip through a real session, a real server."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest

from eval_data import clip
from pipeline_run import run_clip
from hive_agent.errors import SettingsError
from hive_agent.observability.http_server import BackgroundHttpServer, ServiceState, start_http_server, stop_http_server
from hive_agent.models import cuda_available
from hive_agent.observability.performance import Performance

ENDPOINTS = ("/health", "/health/stt", "/health/mt", "/health/tts", "/performance", "/trace/recent", "/metrics")


# --- Performance on its own ---------------------------------------------------------------------

@pytest.mark.nomodels
def test_stage_percentiles_cover_only_the_recent_window():
    perf = Performance(window=100)
    for ms in range(1, 201):  # 1..200 ms; the window keeps 101..200
        perf.record_stage("stt", ms / 1000)
    snap = perf.snapshot()
    recent = np.arange(101, 201)
    assert snap["processing_time_ms"] == {"p50": pytest.approx(np.percentile(recent, 50), abs=0.05),
                                          "p95": pytest.approx(np.percentile(recent, 95), abs=0.05), "n": 100}
    assert perf.latency_p95_ms("stt") == snap["processing_time_ms"]["p95"]
    assert snap["translation_time_ms"] == {"p50": None, "p95": None, "n": 0}
    assert perf.latency_p95_ms("tts") is None


@pytest.mark.nomodels
def test_retraction_rate_covers_the_recent_caption_events():
    perf = Performance(window=3)
    assert perf.snapshot()["word_retraction_rate"] is None  # nothing committed yet
    perf.record_words([0.9, 0.9, 0.9], retracted=9)  # falls out of the 3-event window below
    perf.record_words([0.9, 0.9], retracted=1)
    perf.record_words([], retracted=0)
    perf.record_words([0.9, 0.9, 0.9, 0.9], retracted=2)
    snap = perf.snapshot()
    assert snap["words"] == {"committed": 6, "retracted": 3}
    assert snap["word_retraction_rate"] == 0.5


@pytest.mark.nomodels
def test_confidence_distribution_of_the_recent_words():
    perf = Performance(window=6)
    perf.record_words([0.3, 0.3], retracted=0)  # the two oldest of eight words: out of the window
    perf.record_words([0.0, 0.05, 0.1, 0.55, 0.95, 1.0], retracted=0)
    confidence = perf.snapshot()["confidence"]
    assert list(confidence["buckets"]) == ["0.0-0.1", "0.1-0.2", "0.2-0.3", "0.3-0.4", "0.4-0.5",
                                           "0.5-0.6", "0.6-0.7", "0.7-0.8", "0.8-0.9", "0.9-1.0"]
    assert {k: v for k, v in confidence["buckets"].items() if v} == {"0.0-0.1": 2, "0.1-0.2": 1,
                                                                     "0.5-0.6": 1, "0.9-1.0": 2}
    assert confidence["n"] == 6 and confidence["mean"] == pytest.approx(2.65 / 6, abs=1e-4)


@pytest.mark.nomodels
def test_bad_samples_are_refused_with_the_reason():
    perf = Performance()
    with pytest.raises(ValueError, match="unknown stage 'asr'"):
        perf.record_stage("asr", 0.1)
    with pytest.raises(ValueError, match="finite number of seconds"):
        perf.record_stage("mt", float("nan"))
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        perf.record_words([0.5, 1.5], retracted=0)
    with pytest.raises(ValueError, match="retracted"):
        perf.record_words([0.5], retracted=-1)


# --- the real application -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def http_engine(settings):
    from hive_agent.pipeline.engine import Engine

    return Engine.load(settings)


@pytest.fixture(scope="module")
def server(http_engine):
    """The engine served the way the worker serves it: its own thread, a free port."""
    http = BackgroundHttpServer(ServiceState(engine=http_engine), "127.0.0.1", 0)
    http.start()
    yield f"http://127.0.0.1:{http.port}"
    http.close()


@pytest.fixture(scope="module")
def jfk_run(http_engine) -> list[dict]:
    """fw-jfk through a real session (deterministic pace), English captions and speech."""
    run = run_clip(http_engine, clip("fw-jfk")[0], ["en"])
    return [e for e in run.events if e["type"] == "words"]


async def test_metrics_answer_while_loading_and_come_from_the_engine_the_worker_loads(settings):
    from hive_agent.room.worker import SharedEngine

    state = ServiceState()
    http = BackgroundHttpServer(state, "127.0.0.1", 0)
    http.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http.port}") as client:
            loading = await client.get("/metrics")
            assert loading.status_code == 200
            assert all(f'hive_stage_up{{stage="{s}"}} 0.0' in loading.text for s in ("stt", "mt", "tts"))

            # as run_worker does: the engine loads into the telemetry already being served
            state.engine = await asyncio.to_thread(SharedEngine(settings, telemetry=state.telemetry).load)
            assert state.engine.telemetry is state.telemetry
            loaded = (await client.get("/metrics")).text
            assert all(f'hive_stage_up{{stage="{s}"}} 1.0' in loaded for s in ("stt", "mt", "tts"))
            assert 'hive_model_info{compute_type="int8",device="cpu",model="base",stage="stt"} 1.0' in loaded
    finally:
        http.close()


async def test_every_endpoint_says_loading_until_the_engine_is_handed_over(http_engine):
    state = ServiceState()
    http = BackgroundHttpServer(state, "127.0.0.1", 0)
    http.start()
    base = f"http://127.0.0.1:{http.port}"
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            for path in (p for p in ENDPOINTS if p != "/metrics"):  # metrics: the test above
                assert (await client.get(path)).status_code == 503, path
            assert (await client.get("/health")).json()["status"] == "loading"

            state.engine = http_engine
            ready = await client.get("/health")
            assert ready.status_code == 200
            assert ready.json()["status"] == "ready"
            assert ready.json()["stages"] == {"stt": "up", "mt": "up", "tts": "up"}
    finally:
        http.close()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=base) as client:
            await client.get("/health")


async def test_stage_health_names_models_devices_and_voices(server):
    gpu = cuda_available()
    async with httpx.AsyncClient(base_url=server) as client:
        stt = (await client.get("/health/stt")).json()
        mt = (await client.get("/health/mt")).json()
        tts = (await client.get("/health/tts")).json()
    assert stt["status"] == "up" and stt["model"] == "base"
    assert stt["gpu_available"] is gpu and stt["device"] == ("cuda" if gpu else "cpu")
    assert stt["multilingual"] is True
    # no Marian model in models/mt: translation reaches English only, by Whisper
    assert mt["status"] == "up" and mt["pairs"] == [] and mt["whisper_to_english"] is True
    assert "latency_p95_ms" in mt
    assert tts["status"] == "up" and tts["engines"] == ["piper"]
    assert list(tts["voices"]) == ["en"] and tts["voices"]["en"]["name"]


async def test_health_is_down_while_a_stage_is_marked_down(server, http_engine):
    async with httpx.AsyncClient(base_url=server) as client:
        http_engine.telemetry.set_stage_up("mt", False)
        try:
            down = await client.get("/health")
            mt = (await client.get("/health/mt")).json()
        finally:
            http_engine.telemetry.set_stage_up("mt", True)
        assert down.status_code == 503
        assert down.json()["status"] == "down" and "mt" in down.json()["reason"]
        assert mt["status"] == "down"
        assert (await client.get("/health")).status_code == 200


async def test_a_real_clip_shows_in_traces_performance_and_metrics(server, http_engine, jfk_run):
    committed = sum(len(event["committed"]) for event in jfk_run)
    assert committed >= 15  # "And so my fellow Americans ..." (22 words)
    async with httpx.AsyncClient(base_url=server) as client:
        traces = (await client.get("/trace/recent", params={"n": 50})).json()
        perf = (await client.get("/performance")).json()
        metrics = await client.get("/metrics")
        mt = (await client.get("/health/mt")).json()
        tts = (await client.get("/health/tts")).json()

    units = traces["units"]
    assert traces["n"] == len(units) >= 2
    assert all(u["lang"] == "en" and u["speaker"] == "test-speaker" and u["text"].strip() for u in units)
    assert all(u["stt_ms"] is not None and u["mt_ms"] == 0.0 for u in units)  # en->en: no MT call
    spoken = [u for u in units if u["tts_ms"] is not None]
    assert spoken and all(u["tts_ms"] > 0 and u["total_ms"] is not None for u in spoken)
    assert "fellow americans" in " ".join(u["text"] for u in units).lower()

    stt_requests = http_engine.telemetry.registry.get_sample_value("hive_stage_requests_total", {"stage": "stt"})
    processing = perf["processing_time_ms"]
    assert processing["n"] == stt_requests > 0  # every decode recorded, once
    assert 0 < processing["p50"] <= processing["p95"]
    synthesis = perf["synthesis_time_ms"]
    assert synthesis["n"] == len(spoken) and synthesis["p95"] >= synthesis["p50"] > 0
    assert perf["translation_time_ms"]["n"] == 0 and mt["latency_p95_ms"] is None
    assert tts["latency_p95_ms"] == synthesis["p95"]
    assert perf["words"]["committed"] == committed
    assert isinstance(perf["word_retraction_rate"], float) and perf["word_retraction_rate"] >= 0
    assert perf["confidence"]["n"] == committed == sum(perf["confidence"]["buckets"].values())
    assert 0.5 < perf["confidence"]["mean"] < 1.0  # clear speech: Whisper is mostly confident

    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert "hive_caption_latency_milliseconds_bucket" in metrics.text
    assert 'hive_stage_up{stage="stt"} 1.0' in metrics.text

    async with httpx.AsyncClient(base_url=server) as client:
        last = (await client.get("/trace/recent", params={"n": 1})).json()
        default = (await client.get("/trace/recent")).json()
    assert last["units"] == units[-1:]
    assert default["n"] == min(20, len(units))


@pytest.mark.parametrize("n", ["0", "-3", "201", "ten", "1.5", ""])
async def test_a_bad_trace_count_is_a_400_naming_the_range(server, n):
    async with httpx.AsyncClient(base_url=server) as client:
        response = await client.get("/trace/recent", params={"n": n})
    assert response.status_code == 400
    assert "n must be an integer from 1 to 200" in response.json()["error"]


async def test_serving_on_the_running_loop_and_a_taken_port(http_engine):
    runner = await start_http_server(ServiceState(engine=http_engine), "127.0.0.1", 0)
    try:
        port = runner.addresses[0][1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/health")).status_code == 200
        with pytest.raises(SettingsError, match=rf"127.0.0.1:{port}.*HIVE_HTTP_PORT"):
            await start_http_server(ServiceState(), "127.0.0.1", port)
    finally:
        await stop_http_server(runner)
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await client.get("/health")
