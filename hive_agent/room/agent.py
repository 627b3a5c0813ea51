"""The room adapter: one translation pipeline per remote speaker audio track.

`RoomTranslator` listens to a connected `rtc.Room`, starts a `SpeakerPipeline` for every
subscribed remote audio track and keeps each pipeline's target languages equal to what the
other participants ask for (see `listeners`). `entrypoint` / `on_session_end` are the
livekit-agents job hooks.

A speaker's pipeline is one `Engine.new_session` at a time, opened lazily on the first frame:
- mute ends the session's input (what is committed is still translated and spoken); unmute
  opens a new one;
- a change of the speaker's own `language` does the same, so the new session gets it;
- a failure (the session's outputs raise, or push_frame raises) is logged, counted, the session
  is closed and a new one is opened on the next frame (backoff 0, 1, 3, 7 ... 30 s between
  consecutive failures);
- unsubscribe, unpublish or the speaker leaving ends the input and drains: everything committed
  is published while the room is still connected, then the speaker's audio tracks go.
Outputs of successive sessions of one track are published in order (each session's publisher
waits for the previous one).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
from livekit import rtc
from livekit.agents.utils import aio

from ..audio import SAMPLE_RATE
from ..errors import AudioFormatError
from ..events import TranslationEvent, WordsEvent
from ..pipeline.outputs import Output, SpeechAudio
from .listeners import LANGUAGE_ATTRIBUTE, source_language, wanted_languages
from .publish import CaptionPublisher, SpeechTrack, speech_track_name

if TYPE_CHECKING:
    from livekit.agents import JobContext

    from ..pipeline.engine import Engine
    from ..pipeline.session import SpeakerSession

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 20.0
MAX_BACKOFF_S = 30.0
STREAM_END_TIMEOUT_S = 2.0


class SpeakerPipeline:
    """One remote audio track through the pipeline, with its captions and speech tracks."""

    def __init__(self, room: rtc.Room, engine: Engine, participant: rtc.RemoteParticipant,
                 track: rtc.RemoteAudioTrack, publication: rtc.RemoteTrackPublication, *,
                 targets: set[str], rtc_api: ModuleType,
                 on_failure: Callable[[SpeakerPipeline, BaseException], None] | None = None):
        self.identity = participant.identity
        self.track_sid = track.sid
        self.source_language = source_language(participant.attributes)
        self.targets = set(targets)
        self.failures = 0
        self._room = room
        self._engine = engine
        self._rtc = rtc_api
        self._track = track
        self._source_name = publication.name or track.sid
        self._muted = publication.muted
        self._on_failure = on_failure
        self._captions = CaptionPublisher(room.local_participant, speaker=self.identity,
                                          track_sid=track.sid)
        self._speech: dict[str, SpeechTrack] = {}
        self._session: SpeakerSession | None = None
        self._last_consumer: asyncio.Task[None] | None = None
        self._consecutive_failures = 0
        self._retry_at = 0.0
        self._stream: rtc.AudioStream | None = None
        self._reader: asyncio.Task[None] | None = None
        self._track_lock = asyncio.Lock()
        self._ended = False
        self._failed_sessions: set[int] = set()
        self._sessions_opened = 0

    def __repr__(self) -> str:
        return f"SpeakerPipeline({self.identity}/{self.track_sid})"

    @functools.cached_property
    def _tasks(self) -> aio.TaskSet:
        """Background tasks (consumers, track changes, closes); made on first use, in the loop."""
        return aio.TaskSet(asyncio.get_running_loop())

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._stream = self._rtc.AudioStream.from_track(
            track=self._track, sample_rate=SAMPLE_RATE, num_channels=1)  # the FFI resamples to what the recognizer hears
        self._reader = asyncio.create_task(self._read(), name=f"read-{self.track_sid}")
        self._spawn(self._sync_speech_tracks())

    async def finish(self) -> None:
        """The track is gone: drain what is committed, publish it, then unpublish its tracks."""
        if self._stream is not None:  # frames already received are still pushed
            with contextlib.suppress(Exception):
                await self._stream.aclose()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, STREAM_END_TIMEOUT_S)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
            except Exception:  # the stream broke; what was heard still drains
                log.exception("%r: audio stream failed", self)
        self._ended = True
        self._end_session()
        await self._wait_tasks()
        async with self._track_lock:
            await asyncio.gather(*(t.drain_and_close() for t in self._speech.values()))
            self._speech.clear()

    async def aclose(self) -> None:
        """Stop now, dropping what is in flight."""
        self._ended = True
        if self._reader is not None:
            self._reader.cancel()
        session, self._session = self._session, None
        if session is not None:
            await session.aclose()
        await aio.cancel_and_wait(*self._tasks.tasks, *([self._reader] if self._reader else []))
        if self._stream is not None:
            with contextlib.suppress(Exception):
                await self._stream.aclose()
        async with self._track_lock:
            await asyncio.gather(*(t.aclose() for t in self._speech.values()))
            self._speech.clear()

    # --- room changes -------------------------------------------------------------------

    def set_targets(self, targets: set[str]) -> None:
        if targets == self.targets:
            return
        self.targets = set(targets)
        if self._session is not None:
            self._session.set_targets(set(targets))
        self._spawn(self._sync_speech_tracks())

    def set_muted(self, muted: bool) -> None:
        self._muted = muted
        if muted:
            self._end_session()

    def set_source_language(self, language: str) -> None:
        if language != self.source_language:
            self.source_language = language
            self._end_session()  # the next session starts with the new language

    @property
    def speech_languages(self) -> set[str]:
        return set(self._speech)

    # --- internals ----------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return self._tasks.create_task(coro)

    async def _wait_tasks(self) -> None:
        while tasks := self._tasks.tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _open_session(self) -> SpeakerSession | None:
        if self._ended or asyncio.get_running_loop().time() < self._retry_at:
            return None
        self._sessions_opened += 1  # a fresh name: telemetry series of a closed session stay closed
        self._session = self._engine.new_session(
            speaker=f"{self.identity}/{self.track_sid}/{self._sessions_opened}",
            source_language=self.source_language, targets=set(self.targets), clock=None)
        self._last_consumer = self._spawn(self._consume(self._session, self._last_consumer))
        return self._session

    def _end_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.end_input()

    async def _read(self) -> None:
        warned_format = False
        async for event in self._stream:
            if self._muted:
                continue
            session = self._session or self._open_session()
            if session is None:
                continue
            frame = event.frame
            try:
                session.push_frame(np.frombuffer(frame.data, dtype=np.int16),
                                   frame.sample_rate, frame.num_channels)
            except AudioFormatError as exc:
                if not warned_format:
                    log.warning("%r: dropping audio the pipeline cannot take: %s", self, exc)
                    warned_format = True
            except Exception as exc:
                self._fail(session, exc)
        self._end_session()  # the stream ended: the track is gone

    async def _consume(self, session: SpeakerSession, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.wait({previous})
        try:
            async for out in session:
                await self._handle(out)
                self._consecutive_failures = 0
        except Exception as exc:
            self._fail(session, exc)
        finally:
            await self._captions.finish()
            if id(session) not in self._failed_sessions:  # a failed one is closed by _fail
                await session.aclose()

    async def _handle(self, out: Output) -> None:
        if isinstance(out, (WordsEvent, TranslationEvent)):
            await self._captions.publish(out)
        elif isinstance(out, SpeechAudio):
            track = self._speech.get(out.lang)
            if track is not None:
                track.push(out)

    def _fail(self, session: SpeakerSession, exc: BaseException) -> None:
        if id(session) in self._failed_sessions:  # push_frame and the outputs may both raise
            return
        self._failed_sessions.add(id(session))
        if session is self._session:
            self._session = None
        self.failures += 1
        self._consecutive_failures += 1
        delay = min(2.0 ** (self._consecutive_failures - 1) - 1.0, MAX_BACKOFF_S)
        self._retry_at = asyncio.get_running_loop().time() + delay
        log.error("%r: pipeline failed (%d so far), restarting in %.0f s: %s",
                  self, self.failures, delay, exc, exc_info=exc)
        if self._on_failure is not None:
            self._on_failure(self, exc)
        self._spawn(session.aclose())

    async def _sync_speech_tracks(self) -> None:
        async with self._track_lock:
            if self._ended:
                return
            wanted = self.targets & self._engine.speech_languages()
            for lang in sorted(set(self._speech) - wanted):
                await self._speech.pop(lang).aclose()
            for lang in sorted(wanted - set(self._speech)):
                track = SpeechTrack(self._room.local_participant,
                                    speech_track_name(self.identity, self._source_name, lang), rtc_api=self._rtc)
                try:
                    await track.start()
                except Exception as exc:
                    log.error("%r: could not publish %s audio: %s", self, lang, exc)
                    continue
                self._speech[lang] = track


class RoomTranslator:
    """Translates every remote speaker of a connected room into what the listeners ask for."""

    def __init__(self, room: rtc.Room, engine: Engine, *, rtc_api: ModuleType = rtc):
        self.room = room
        self.engine = engine
        self.speakers: dict[tuple[str, str], SpeakerPipeline] = {}
        self.pipeline_failures = 0
        self._rtc = rtc_api
        self._closing = False
        self._handlers = {
            "track_subscribed": self._on_track_subscribed,
            "track_unsubscribed": self._on_track_unsubscribed,
            "track_muted": self._on_track_muted,
            "track_unmuted": self._on_track_unmuted,
            "participant_connected": self._on_participants_changed,
            "participant_disconnected": self._on_participant_disconnected,
            "participant_attributes_changed": self._on_attributes_changed,
            "disconnected": self._on_disconnected,
        }

    @functools.cached_property
    def _finishing(self) -> aio.TaskSet:
        """Speakers draining after they left; made on first use, in the loop."""
        return aio.TaskSet(asyncio.get_running_loop())

    def start(self) -> None:
        for event, handler in self._handlers.items():
            self.room.on(event, handler)
        for participant in list(self.room.remote_participants.values()):
            for publication in list(participant.track_publications.values()):
                if publication.track is not None:
                    self._on_track_subscribed(publication.track, publication, participant)

    async def aclose(self, *, drain: bool = True, timeout: float = DRAIN_TIMEOUT_S) -> None:
        """Leave the room's audio: drain (publish what is committed) or stop at once."""
        if self._closing:
            return
        self._closing = True
        for event, handler in self._handlers.items():
            self.room.off(event, handler)
        speakers = list(self.speakers.values())
        self.speakers.clear()
        if drain:
            draining = [asyncio.create_task(s.finish()) for s in speakers] + list(self._finishing.tasks)
            if draining:
                done, pending = await asyncio.wait(draining, timeout=timeout)
                if pending:
                    log.warning("%d speaker pipelines did not drain in %.0f s; stopping them",
                                len(pending), timeout)
                    await aio.cancel_and_wait(*pending)
        await asyncio.gather(*(s.aclose() for s in speakers), return_exceptions=True)

    @property
    def draining(self) -> int:
        """Speakers that left and are still publishing what they said (and closes under way)."""
        return len(self._finishing.tasks)

    # --- listeners ----------------------------------------------------------------------

    def targets_for(self, speaker: SpeakerPipeline) -> set[str]:
        participants = [(p.identity, p.attributes) for p in self.room.remote_participants.values()]
        return wanted_languages(participants, speaker.identity, speaker.source_language)

    def _update_targets(self) -> None:
        for speaker in self.speakers.values():
            speaker.set_targets(self.targets_for(speaker))

    # --- room events --------------------------------------------------------------------

    def _on_track_subscribed(self, track: rtc.Track, publication: rtc.RemoteTrackPublication,
                             participant: rtc.RemoteParticipant) -> None:
        if self._closing or track.kind != self._rtc.TrackKind.KIND_AUDIO:
            return
        key = (participant.identity, track.sid)
        if key in self.speakers:
            return
        participants = [(p.identity, p.attributes) for p in self.room.remote_participants.values()]
        targets = wanted_languages(participants, participant.identity, source_language(participant.attributes))
        speaker = SpeakerPipeline(self.room, self.engine, participant, track, publication,
                                  targets=targets, rtc_api=self._rtc, on_failure=self._count_failure)
        self.speakers[key] = speaker
        log.info("translating %s (%s) into %s", key, speaker.source_language,
                 sorted(speaker.targets) or "nothing yet")
        speaker.start()

    def _on_track_unsubscribed(self, track: rtc.Track | None, publication: rtc.RemoteTrackPublication,
                               participant: rtc.RemoteParticipant) -> None:
        self._finish((participant.identity, publication.sid))

    def _on_track_muted(self, participant: rtc.Participant, publication: rtc.TrackPublication) -> None:
        if speaker := self.speakers.get((participant.identity, publication.sid)):
            speaker.set_muted(True)

    def _on_track_unmuted(self, participant: rtc.Participant, publication: rtc.TrackPublication) -> None:
        if speaker := self.speakers.get((participant.identity, publication.sid)):
            speaker.set_muted(False)

    def _on_participants_changed(self, participant: rtc.RemoteParticipant) -> None:
        self._update_targets()

    def _on_participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        for key in [k for k in self.speakers if k[0] == participant.identity]:
            self._finish(key)
        self._update_targets()

    def _on_attributes_changed(self, changed: dict[str, str], participant: rtc.Participant) -> None:
        if LANGUAGE_ATTRIBUTE not in changed:
            return
        for (identity, _), speaker in self.speakers.items():
            if identity == participant.identity:
                speaker.set_source_language(source_language(participant.attributes))
        self._update_targets()

    def _on_disconnected(self, reason: Any = None) -> None:
        log.info("room disconnected (%s): stopping all pipelines", reason)
        self._finishing.create_task(self.aclose(drain=False))

    def _finish(self, key: tuple[str, str]) -> None:
        speaker = self.speakers.pop(key, None)
        if speaker is None:
            return
        self._finishing.create_task(speaker.finish(), name=f"finish-{key[1]}")

    def _count_failure(self, speaker: SpeakerPipeline, exc: BaseException) -> None:
        self.pipeline_failures += 1


# --- livekit-agents job hooks -------------------------------------------------------------

ENGINE_KEY = "hive_engine"
TRANSLATOR_KEY = "hive_translator"


async def entrypoint(ctx: JobContext) -> None:
    """Job entrypoint: join the room (audio only) and translate it until the job ends."""
    from livekit.agents import AutoSubscribe

    engine = ctx.proc.userdata[ENGINE_KEY]
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    translator = RoomTranslator(ctx.room, engine)
    ctx.proc.userdata[TRANSLATOR_KEY] = translator
    translator.start()
    log.info("joined room %s as %s", ctx.room.name, ctx.room.local_participant.identity)


async def on_session_end(ctx: JobContext) -> None:
    """Runs at job shutdown *before* the room is left (shutdown callbacks run after it in
    livekit-agents 1.8), so units in flight are still published."""
    translator: RoomTranslator | None = ctx.proc.userdata.pop(TRANSLATOR_KEY, None)
    if translator is not None:
        await translator.aclose(drain=ctx.room.isconnected())
