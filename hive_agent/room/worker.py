"""livekit-agents worker glue: the shared engine, the AgentServer, start/dev/connect.

Jobs run as threads of this one process (`JobExecutorType.THREAD`), each on its own event loop,
so every job shares the models that `SharedEngine` loads once, before the worker registers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import HiveError
from ..settings import HiveSettings
from .access import LiveKitConfig
from .agent import DRAIN_TIMEOUT_S, ENGINE_KEY, entrypoint, on_session_end

if TYPE_CHECKING:
    from livekit.agents import AgentServer, JobProcess
    from livekit.agents.cli.proto import CliArgs

    from ..observability.telemetry import Telemetry
    from ..pipeline.engine import Engine

log = logging.getLogger(__name__)

SERVER_CHECK_TIMEOUT_S = 5.0


async def check_server(config: LiveKitConfig, timeout: float = SERVER_CHECK_TIMEOUT_S) -> None:
    """Fail early and clearly when the server is down or refuses the credentials."""
    import aiohttp
    from livekit import api

    try:
        async with api.LiveKitAPI(config.url, config.api_key, config.api_secret,
                                  timeout=aiohttp.ClientTimeout(total=timeout)) as lk:
            await lk.room.list_rooms(api.ListRoomsRequest())
    except api.TwirpError as exc:
        if exc.status in (401, 403):
            raise HiveError(f"the LiveKit server at {config.url} rejected LIVEKIT_API_KEY / "
                            f"LIVEKIT_API_SECRET ({exc.message}); check both") from None
        raise HiveError(f"the LiveKit server at {config.url} answered with an error: {exc.message}") from None
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        raise HiveError(f"no LiveKit server reachable at {config.url} ({exc.__class__.__name__}: {exc}); "
                        "start one (e.g. `livekit-server --dev`) or fix LIVEKIT_URL") from None


class SharedEngine:
    """The process's one Engine: loaded once (thread-safe), handed to every job by `setup`."""

    def __init__(self, settings: HiveSettings, loader: Callable[[HiveSettings], Engine] | None = None,
                 telemetry: Telemetry | None = None):
        self._settings = settings
        self._loader = loader
        self._telemetry = telemetry  # the HTTP server's, so /metrics shows the load
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def load(self) -> Engine:
        with self._lock:
            if self._engine is None:
                loader = self._loader
                if loader is None:
                    from ..pipeline.engine import Engine

                    loader = functools.partial(Engine.load, telemetry=self._telemetry)
                self._engine = loader(self._settings)
            return self._engine

    def setup(self, proc: JobProcess) -> None:
        """livekit-agents setup (prewarm) hook, run for every job executor of this process."""
        proc.userdata[ENGINE_KEY] = self.load()


def build_server(config: LiveKitConfig, engine: SharedEngine, *, agent_name: str = "") -> AgentServer:
    from livekit.agents import AgentServer, JobExecutorType

    server = AgentServer(job_executor_type=JobExecutorType.THREAD, ws_url=config.url,
                         api_key=config.api_key, api_secret=config.api_secret, setup_fnc=engine.setup,
                         shutdown_process_timeout=DRAIN_TIMEOUT_S + 5,
                         port=0)  # livekit's own health server: any free port; HIVE_HTTP_PORT is HIVE's
    server.rtc_session(entrypoint, agent_name=agent_name, on_session_end=on_session_end)
    return server


def run_worker(config: LiveKitConfig, settings: HiveSettings, *, dev: bool, agent_name: str = "",
               log_level: str = "INFO") -> None:
    """`start` / `dev`: register with the server and take jobs until SIGINT/SIGTERM (then drain)."""
    from livekit.agents.cli import proto

    from ..observability.http_server import BackgroundHttpServer, ServiceState

    asyncio.run(check_server(config))
    state = ServiceState()
    http = BackgroundHttpServer(state, settings.http_host, settings.http_port)
    http.start()  # /health says "loading" (503) until the engine is handed over
    try:
        engine = SharedEngine(settings, telemetry=state.telemetry)
        state.engine = engine.load()  # before the worker registers: no job waits for a model
        server = build_server(config, engine, agent_name=agent_name)
        run_livekit_worker(server, proto.CliArgs(log_level=log_level, url=config.url, api_key=config.api_key,
                                          api_secret=config.api_secret, dev=dev,
                                          log_format="colored" if dev else "json"))
    finally:
        http.close()


def run_livekit_worker(server: AgentServer, args: CliArgs) -> None:
    """Run `server` as livekit-agents' `start` / `dev` does, until SIGINT/SIGTERM, then drain.

    livekit-agents 1.8.9 has no public call for this: `cli.run_app` parses sys.argv itself (HIVE
    has its own command line), and livekit-agents' own `python -m livekit.agents start` calls the
    private `cli.cli._run_worker`, which owns the signals, logging and draining. This is the one
    place HIVE uses it; check it when livekit-agents is upgraded."""
    from livekit.agents.cli.cli import _run_worker

    _run_worker(server, args)


async def serve_room(server: AgentServer, config: LiveKitConfig, room: str, identity: str) -> None:
    """Run `server` unregistered and send it one job for `room` (created if missing), as
    livekit-agents' `connect` does. Returns when the server is closed."""
    from livekit import api
    from livekit.agents.utils import aio

    async def join() -> None:
        async with api.LiveKitAPI(config.url, config.api_key, config.api_secret) as lk:
            rooms = await lk.room.list_rooms(api.ListRoomsRequest(names=[room]))
            info = rooms.rooms[0] if rooms.rooms else await lk.room.create_room(api.CreateRoomRequest(name=room))
        await server.simulate_job(room=room, fake_job=False, room_info=info, agent_identity=identity)

    tasks = aio.TaskSet()

    def on_started() -> None:
        tasks.create_task(join())

    server.once("worker_started", on_started)
    await server.run(devmode=True, unregistered=True)


def run_connect(config: LiveKitConfig, settings: HiveSettings, *, room: str, identity: str) -> None:
    """`connect --room NAME`: join one room directly, without dispatch, until SIGINT/SIGTERM."""

    from ..observability.http_server import ServiceState, start_http_server, stop_http_server

    async def main() -> None:
        await check_server(config)
        state = ServiceState()
        http = await start_http_server(state, settings.http_host, settings.http_port)
        try:
            engine = SharedEngine(settings, telemetry=state.telemetry)
            state.engine = await asyncio.to_thread(engine.load)
            server = build_server(config, engine)
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, lambda: asyncio.ensure_future(server.aclose()))
            await serve_room(server, config, room, identity)
        finally:
            await stop_http_server(http)

    asyncio.run(main())
