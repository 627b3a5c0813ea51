"""Run one clip through a real speaker session in deterministic mode (tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from hive_agent.audio import read_audio
from hive_agent.file_source import run_file
from hive_agent.pipeline.outputs import SpeechAudio


@dataclass
class Run:
    events: list[dict] = field(default_factory=list)
    audio: list[SpeechAudio] = field(default_factory=list)

    def of(self, kind: str, **match) -> list[dict]:
        return [e for e in self.events if e["type"] == kind and all(e.get(k) == v for k, v in match.items())]


def run_clip(engine, path: Path, targets, source: str = "auto", seconds: float | None = None) -> Run:
    data, rate = read_audio(path)
    if seconds is not None:
        data = data[: int(seconds * rate)]
    result = Run()

    def keep(out) -> None:
        if isinstance(out, SpeechAudio):
            result.audio.append(out)
        else:
            result.events.append(out.as_json())

    async def go() -> None:
        session = engine.new_session("test-speaker", source, set(targets), realtime=False)
        await run_file(session, data, rate, keep)

    asyncio.run(go())
    return result
