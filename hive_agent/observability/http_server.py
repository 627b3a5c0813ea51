"""The operator's HTTP endpoints of a worker: health per stage, recent performance, unit traces
and the Prometheus metrics.

The server starts before the models load, so `/health` answers 503 "loading" until the engine
is handed over (`ServiceState.engine`), then 200 "ready" while every stage is up, and 503 "down"
naming the stage while one is not (its calls keep failing: see `Telemetry.stage_up`). `/metrics`
answers from the start: the engine loads into the state's `Telemetry`, whose stages read 0
until their models are up, so a scrape during a load sees a worker that is down, not an error.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from ..errors import SettingsError
from ..models import cuda_available
from .telemetry import STAGES, Telemetry

if TYPE_CHECKING:
    from ..pipeline.engine import Engine

TRACE_DEFAULT_N = 20
TRACE_MAX_N = 200  # Engine.traces keeps the last 200 units
_START_TIMEOUT_S = 10.0


@dataclass
class ServiceState:
    """What the endpoints serve: the engine once loaded (None while loading), and the metrics
    the engine is to load into (`Engine.load(settings, telemetry=state.telemetry)`)."""

    engine: Engine | None = None
    telemetry: Telemetry = field(default_factory=Telemetry)
    started: float = field(default_factory=time.monotonic)

    def uptime_s(self) -> float:
        return round(time.monotonic() - self.started, 1)


STATE_KEY = web.AppKey("state", ServiceState)


def _json(body: dict, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _loading(state: ServiceState) -> web.Response:
    return _json({"status": "loading", "uptime_s": state.uptime_s()}, status=503)


def _voices(engine: Engine) -> dict[str, dict]:
    voices = {}
    for lang in engine.speech.languages():
        synth = engine.speech.get(lang)  # loaded by Engine.load: a lookup here
        if synth is not None:
            voices[lang] = {"name": synth.voice_name, "device": synth.device}
    return voices


def _down_reason(engine: Engine) -> str | None:
    """Why the worker cannot serve, or None when every stage is ready."""
    reasons = {stage: engine.telemetry.stage_down_reason(stage) for stage in STAGES}
    down = [f"stage {stage} marked down (hive_stage_up 0): {why}" for stage, why in reasons.items() if why]
    if down:
        return "; ".join(down)
    if not _voices(engine):
        return "no Piper voice loaded: add one under the models directory (see docs)"
    return None


def _stage_status(engine: Engine, stage: str) -> str:
    return "up" if engine.telemetry.stage_up(stage) else "down"


async def health(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    engine = state.engine
    if engine is None:
        return _loading(state)
    reason = _down_reason(engine)
    if reason is not None:
        return _json({"status": "down", "reason": reason, "uptime_s": state.uptime_s()}, status=503)
    return _json({"status": "ready", "uptime_s": state.uptime_s(),
                  "stages": {stage: _stage_status(engine, stage) for stage in STAGES}})


def needs_engine(handler: Callable[[web.Request, ServiceState, Engine], Awaitable[web.Response]]):
    """A stage endpoint: 503 "loading" until the engine is handed over."""
    @functools.wraps(handler)
    async def endpoint(request: web.Request) -> web.Response:
        state = request.app[STATE_KEY]
        if state.engine is None:
            return _loading(state)
        return await handler(request, state, state.engine)
    return endpoint


@needs_engine
async def health_stt(request: web.Request, state: ServiceState, engine: Engine) -> web.Response:
    whisper = engine.whisper
    return _json({"status": _stage_status(engine, "stt"), "model": whisper.name, "device": whisper.device,
                  "compute_type": whisper.compute_type, "multilingual": whisper.multilingual,
                  "gpu_available": await asyncio.to_thread(cuda_available),
                  "latency_p95_ms": engine.performance.latency_p95_ms("stt")})


@needs_engine
async def health_mt(request: web.Request, state: ServiceState, engine: Engine) -> web.Response:
    return _json({"status": _stage_status(engine, "mt"),
                  "pairs": [f"{src}-{tgt}" for src, tgt in engine.marian.available_pairs()],
                  "whisper_to_english": engine.whisper.multilingual,
                  "device": engine.marian.device,
                  "latency_p95_ms": engine.performance.latency_p95_ms("mt")})


@needs_engine
async def health_tts(request: web.Request, state: ServiceState, engine: Engine) -> web.Response:
    return _json({"status": _stage_status(engine, "tts"), "engines": ["piper"], "voices": _voices(engine),
                  "latency_p95_ms": engine.performance.latency_p95_ms("tts")})


@needs_engine
async def performance(request: web.Request, state: ServiceState, engine: Engine) -> web.Response:
    return _json({"uptime_s": state.uptime_s(), **engine.performance.snapshot()})


def _trace_count(raw: str | None) -> int | None:
    """The `n` query parameter, or None when it is not an integer from 1 to TRACE_MAX_N."""
    if raw is None:
        return TRACE_DEFAULT_N
    try:
        n = int(raw)
    except ValueError:
        return None
    return n if 1 <= n <= TRACE_MAX_N else None


def _rounded(fields: dict) -> dict:
    return {key: round(value, 1) if isinstance(value, float) else value for key, value in fields.items()}


@needs_engine
async def trace_recent(request: web.Request, state: ServiceState, engine: Engine) -> web.Response:
    raw = request.query.get("n")
    n = _trace_count(raw)
    if n is None:
        return _json({"error": f"n must be an integer from 1 to {TRACE_MAX_N}, got {raw!r}"}, status=400)
    traces = tuple(engine.traces)[-n:]  # one C-level copy: sessions append from other threads
    return _json({"n": len(traces), "units": [_rounded(asdict(trace)) for trace in traces]})


async def metrics(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    telemetry = state.engine.telemetry if state.engine is not None else state.telemetry
    # content_type carries a charset, which aiohttp's content_type argument refuses
    return web.Response(body=telemetry.exposition(), headers={"Content-Type": telemetry.content_type})


def build_app(state: ServiceState) -> web.Application:
    app = web.Application()
    app[STATE_KEY] = state
    app.router.add_get("/health", health)
    app.router.add_get("/health/stt", health_stt)
    app.router.add_get("/health/mt", health_mt)
    app.router.add_get("/health/tts", health_tts)
    app.router.add_get("/performance", performance)
    app.router.add_get("/trace/recent", trace_recent)
    app.router.add_get("/metrics", metrics)
    return app


async def start_http_server(state: ServiceState, host: str, port: int) -> web.AppRunner:
    """Serve the endpoints on the running loop; port 0 picks a free one (see `bound_port`)."""
    runner = web.AppRunner(build_app(state), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise SettingsError(f"cannot serve the HTTP endpoints on {host}:{port} ({exc.strerror or exc}): "
                            "set HIVE_HTTP_PORT to a free port (or HIVE_HTTP_HOST to a local address)") from None
    return runner


async def stop_http_server(runner: web.AppRunner) -> None:
    await runner.cleanup()


def bound_port(runner: web.AppRunner) -> int:
    return runner.addresses[0][1]


class BackgroundHttpServer:
    """The endpoints on a thread with their own event loop, for a process whose main loop is
    someone else's (livekit-agents' CLI runs the worker's)."""

    def __init__(self, state: ServiceState, host: str, port: int) -> None:
        self._state, self._host, self._port = state, host, port
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), name="hive-http", daemon=True)
        self.port: int | None = None

    def start(self) -> None:
        """Bind and serve; raises SettingsError when the address is taken."""
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S):
            raise RuntimeError(f"HTTP server on {self._host}:{self._port} did not start in {_START_TIMEOUT_S} s")
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(_START_TIMEOUT_S)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            runner = await start_http_server(self._state, self._host, self._port)
        except BaseException as exc:  # handed to the thread that called start()
            self._error = exc
            self._ready.set()
            return
        self.port = bound_port(runner)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await stop_http_server(runner)
