"""A fake LiveKit room for tests: no server can run here.

It follows the installed livekit rtc SDK (1.1.x): the same class and method names, signatures,
event names and payloads (`tests/test_room.py` checks the signatures against the real classes
with `inspect.signature`), and it reuses the SDK's pure-Python parts: `rtc.EventEmitter`,
`rtc.AudioFrame`, `rtc.AudioFrameEvent`, `rtc.TrackPublishOptions`, `rtc.TrackKind`,
`rtc.TrackSource`. The module itself stands in for `livekit.rtc` where the adapter takes an
`rtc_api` (AudioStream, AudioSource, LocalAudioTrack, ...).

What a server would do is driven by the test through `FakeRoom` helpers (`join`,
`publish_audio`, `unpublish`, `leave`, `mute`, `set_attributes`): each emits the events in
the order the SDK emits them. What the agent sends is recorded: `local_participant.streams`
(text streams), `local_participant.track_log` (publish/unpublish), and each
`FakeAudioSource.frames` (captured audio, paced at real time like the native queue).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np
import soxr
from livekit import rtc
from livekit.rtc import AudioFrame, AudioFrameEvent, TrackKind, TrackPublishOptions, TrackSource
from livekit.rtc.participant import UnpublishTrackError

__all__ = ["AudioFrame", "AudioFrameEvent", "TrackKind", "TrackPublishOptions", "TrackSource",
           "FakeRoom", "AudioStream", "AudioSource", "LocalAudioTrack"]

_ids = itertools.count(1)


def _sid(prefix: str) -> str:
    return f"{prefix}_{next(_ids):06d}"


# --- tracks and media -------------------------------------------------------------------------

class RemoteAudioTrack:
    """A subscribed remote microphone; the test feeds it frames with `push`."""

    def __init__(self, name: str):
        self._sid = _sid("TR")
        self._name = name
        self._muted = False
        self._streams: list[AudioStream] = []

    @property
    def sid(self) -> str:
        return self._sid

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> int:
        return TrackKind.KIND_AUDIO

    @property
    def muted(self) -> bool:
        return self._muted

    # test side
    def push(self, frame: AudioFrame) -> None:
        for stream in list(self._streams):
            stream._receive(frame)

    def _end(self) -> None:
        for stream in list(self._streams):
            stream._eos()


class AudioStream:
    """Frames of a remote track at the asked rate/channels, like the SDK's native stream."""

    def __init__(self, track: Any, loop: Optional[asyncio.AbstractEventLoop] = None, capacity: int = 0,
                 sample_rate: int = 48000, num_channels: int = 1, frame_size_ms: int | None = None,
                 noise_cancellation: Any = None, auto_close_noise_cancellation: bool = True,
                 **kwargs: Any) -> None:
        if num_channels != 1:
            raise ValueError("the fake delivers mono only")
        self._track = track
        self._sample_rate = sample_rate
        self._queue: asyncio.Queue[AudioFrameEvent | None] = asyncio.Queue()
        self._resampler: soxr.ResampleStream | None = None
        self._ended = False
        track._streams.append(self)

    @classmethod
    def from_track(cls, *, track: Any, loop: Optional[asyncio.AbstractEventLoop] = None, capacity: int = 0,
                   sample_rate: int = 48000, num_channels: int = 1, frame_size_ms: int | None = None,
                   noise_cancellation: Any = None, auto_close_noise_cancellation: bool = False) -> AudioStream:
        return cls(track, loop, capacity, sample_rate, num_channels, frame_size_ms)

    @classmethod
    def from_participant(cls, *, participant: Any, track_source: int,
                         loop: Optional[asyncio.AbstractEventLoop] = None, capacity: int = 0,
                         sample_rate: int = 48000, num_channels: int = 1, frame_size_ms: int | None = None,
                         noise_cancellation: Any = None, auto_close_noise_cancellation: bool = True) -> AudioStream:
        track = next(p.track for p in participant.track_publications.values()
                     if p.source == track_source and p.track is not None)
        return cls(track, loop, capacity, sample_rate, num_channels, frame_size_ms)

    def _receive(self, frame: AudioFrame) -> None:
        if self._ended:
            return
        samples = np.frombuffer(frame.data, dtype=np.int16)
        if frame.num_channels > 1:
            samples = samples.reshape(-1, frame.num_channels).mean(axis=1).astype(np.int16)
        if frame.sample_rate != self._sample_rate:
            if self._resampler is None:
                self._resampler = soxr.ResampleStream(frame.sample_rate, self._sample_rate, 1, dtype="int16")
            samples = self._resampler.resample_chunk(samples)
        if len(samples):
            self._queue.put_nowait(AudioFrameEvent(AudioFrame(samples.tobytes(), self._sample_rate, 1, len(samples))))

    def _eos(self) -> None:
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(None)

    def __aiter__(self) -> AudioStream:
        return self

    async def __anext__(self) -> AudioFrameEvent:
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        self._eos()
        if self in self._track._streams:
            self._track._streams.remove(self)


class AudioSource:
    """Records captured frames; capture_frame blocks while more than queue_size_ms is queued,
    so the producer is paced at real time as with the native source."""

    def __init__(self, sample_rate: int, num_channels: int, queue_size_ms: int = 1000,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._sample_rate = sample_rate
        self._num_channels = num_channels
        self._queue_s = queue_size_ms / 1000
        self._playout_end = 0.0  # monotonic time at which everything queued has played
        self.frames: list[tuple[float, AudioFrame]] = []  # (capture time, frame)
        self.closed = False

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def num_channels(self) -> int:
        return self._num_channels

    @property
    def queued_duration(self) -> float:
        return max(self._playout_end - time.monotonic(), 0.0)

    def clear_queue(self) -> None:
        self._playout_end = time.monotonic()

    async def capture_frame(self, frame: AudioFrame) -> None:
        if self.closed:
            return
        if frame.sample_rate != self._sample_rate or frame.num_channels != self._num_channels:
            raise Exception(f"frame is {frame.sample_rate} Hz x{frame.num_channels}, source is "
                            f"{self._sample_rate} Hz x{self._num_channels}")
        while self.queued_duration + frame.duration > self._queue_s:
            await asyncio.sleep(self.queued_duration + frame.duration - self._queue_s)
        now = time.monotonic()
        self._playout_end = max(self._playout_end, now) + frame.duration
        self.frames.append((now, frame))

    async def wait_for_playout(self) -> None:
        await asyncio.sleep(self.queued_duration)

    async def aclose(self) -> None:
        self.closed = True

    # test side
    def samples(self) -> np.ndarray:
        return np.concatenate([np.frombuffer(f.data, dtype=np.int16) for _, f in self.frames]) \
            if self.frames else np.zeros(0, dtype=np.int16)


class LocalAudioTrack:
    def __init__(self, name: str, source: AudioSource):
        self._sid = _sid("TR")
        self._name = name
        self._muted = False
        self.source = source

    @staticmethod
    def create_audio_track(name: str, source: Any) -> LocalAudioTrack:
        return LocalAudioTrack(name, source)

    @property
    def sid(self) -> str:
        return self._sid

    @property
    def name(self) -> str:
        return self._name

    @property
    def kind(self) -> int:
        return TrackKind.KIND_AUDIO

    @property
    def muted(self) -> bool:
        return self._muted

    def mute(self) -> None:
        self._muted = True

    def unmute(self) -> None:
        self._muted = False


class TrackPublication:
    def __init__(self, track: Any, source: int):
        self._sid = track.sid
        self._track = track
        self._source = source
        self._muted = False
        self._subscribed = True

    @property
    def track(self) -> Any:
        return self._track

    @property
    def sid(self) -> str:
        return self._sid

    @property
    def name(self) -> str:
        return self._track.name

    @property
    def kind(self) -> int:
        return TrackKind.KIND_AUDIO

    @property
    def source(self) -> int:
        return self._source

    @property
    def muted(self) -> bool:
        return self._muted

    @property
    def subscribed(self) -> bool:
        return self._subscribed


# --- text streams -----------------------------------------------------------------------------

@dataclass
class SentTextStream:
    """One text stream as a receiving client sees it (header + close attributes merged)."""

    topic: str
    attributes: Dict[str, str]
    sender_identity: str
    text: str = ""
    closed: bool = False
    opened_at: float = field(default_factory=time.monotonic)


class TextStreamWriter:
    def __init__(self, record: SentTextStream):
        self._record = record
        self._info = rtc.TextStreamInfo(stream_id=_sid("ST"), mime_type="text/plain", topic=record.topic,
                                        timestamp=int(time.time() * 1000), size=None,
                                        attributes=dict(record.attributes), attachments=[])

    async def write(self, text: str) -> None:
        if self._record.closed:
            raise RuntimeError("Cannot write after stream is closed")
        self._record.text += text

    async def aclose(self, *, reason: str = "", attributes: Optional[Dict[str, str]] = None) -> None:
        if self._record.closed:
            raise RuntimeError("Stream already closed")
        self._record.closed = True
        if attributes:
            self._record.attributes.update(attributes)

    @property
    def info(self) -> rtc.TextStreamInfo:
        return self._info


# --- participants and the room ----------------------------------------------------------------

class RemoteParticipant:
    def __init__(self, identity: str, attributes: dict[str, str] | None = None):
        self._sid = _sid("PA")
        self._identity = identity
        self._attributes = dict(attributes or {})
        self._track_publications: dict[str, TrackPublication] = {}

    @property
    def sid(self) -> str:
        return self._sid

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def name(self) -> str:
        return self._identity

    @property
    def attributes(self) -> dict[str, str]:
        return self._attributes

    @property
    def track_publications(self) -> dict[str, TrackPublication]:
        return self._track_publications


class LocalParticipant(RemoteParticipant):
    def __init__(self, identity: str):
        super().__init__(identity)
        self.streams: list[SentTextStream] = []
        self.track_log: list[tuple[str, str]] = []  # ("publish" | "unpublish", track name)
        self.fail_text = False  # test switch: stream_text raises, as on a dropped connection

    async def stream_text(self, *, destination_identities: Optional[List[str]] = None, topic: str = "",
                          attributes: Optional[Dict[str, str]] = None, stream_id: str | None = None,
                          reply_to_id: str | None = None, total_size: int | None = None,
                          sender_identity: str | None = None) -> TextStreamWriter:
        if self.fail_text:
            raise rtc.StreamError("connection lost")
        record = SentTextStream(topic, dict(attributes or {}), sender_identity or self.identity)
        self.streams.append(record)
        await asyncio.sleep(0)
        return TextStreamWriter(record)

    async def send_text(self, text: str, *, destination_identities: Optional[List[str]] = None,
                        topic: str = "", attributes: Optional[Dict[str, str]] = None,
                        reply_to_id: str | None = None, compress: bool = True) -> rtc.TextStreamInfo:
        writer = await self.stream_text(topic=topic, attributes=attributes)
        await writer.write(text)
        await writer.aclose()
        return writer.info

    async def publish_track(self, track: Any, options: TrackPublishOptions = TrackPublishOptions()) -> TrackPublication:
        publication = TrackPublication(track, options.source)
        self._track_publications[publication.sid] = publication
        self.track_log.append(("publish", track.name))
        await asyncio.sleep(0)
        return publication

    async def unpublish_track(self, track_sid: str) -> None:
        publication = self._track_publications.pop(track_sid, None)
        if publication is None:
            raise UnpublishTrackError(f"no published track {track_sid}")
        self.track_log.append(("unpublish", publication.name))
        await asyncio.sleep(0)

    async def set_attributes(self, attributes: dict[str, str]) -> None:
        self._attributes.update(attributes)

    # test side
    def published_names(self) -> set[str]:
        return {p.name for p in self._track_publications.values()}

    def captions(self) -> list[SentTextStream]:
        return [s for s in self.streams if s.topic == "lk.transcription"]


class FakeRoom(rtc.EventEmitter):
    def __init__(self, name: str = "room", agent_identity: str = "hive-agent"):
        super().__init__()
        self._name = name
        self._connected = True
        self._local = LocalParticipant(agent_identity)
        self._remote: dict[str, RemoteParticipant] = {}

    @property
    def name(self) -> str:
        return self._name

    @property
    def local_participant(self) -> LocalParticipant:
        return self._local

    @property
    def remote_participants(self) -> dict[str, RemoteParticipant]:
        return self._remote

    def isconnected(self) -> bool:
        return self._connected

    async def disconnect(self, *, reason: int = rtc.DisconnectReason.CLIENT_INITIATED) -> None:
        if self._connected:
            self._connected = False
            self.emit("disconnected", reason)

    # --- what the server would do, in the SDK's event order ---------------------------------

    def join(self, identity: str, attributes: dict[str, str] | None = None) -> RemoteParticipant:
        participant = RemoteParticipant(identity, attributes)
        self._remote[identity] = participant
        self.emit("participant_connected", participant)
        return participant

    def publish_audio(self, participant: RemoteParticipant, name: str = "microphone",
                      muted: bool = False) -> RemoteAudioTrack:
        """track_published, then (auto-subscribe) track_subscribed."""
        track = RemoteAudioTrack(name)
        track._muted = muted
        publication = TrackPublication(track, TrackSource.SOURCE_MICROPHONE)
        publication._muted = muted
        participant._track_publications[publication.sid] = publication
        self.emit("track_published", publication, participant)
        self.emit("track_subscribed", track, publication, participant)
        return track

    def unpublish(self, participant: RemoteParticipant, track: RemoteAudioTrack) -> None:
        """track_unsubscribed (the stream ends), then track_unpublished."""
        publication = participant._track_publications[track.sid]
        track._end()
        publication._track = None
        publication._subscribed = False
        self.emit("track_unsubscribed", track, publication, participant)
        del participant._track_publications[track.sid]
        self.emit("track_unpublished", publication, participant)

    def leave(self, participant: RemoteParticipant) -> None:
        """Each track unsubscribed, then participant_disconnected."""
        for publication in list(participant._track_publications.values()):
            if publication.track is not None:
                self.unpublish(participant, publication.track)
        del self._remote[participant.identity]
        self.emit("participant_disconnected", participant)

    def mute(self, participant: RemoteParticipant, track: RemoteAudioTrack, muted: bool = True) -> None:
        publication = participant._track_publications[track.sid]
        publication._muted = track._muted = muted
        self.emit("track_muted" if muted else "track_unmuted", participant, publication)

    def set_attributes(self, participant: RemoteParticipant, attributes: dict[str, str]) -> None:
        changed = {k: v for k, v in attributes.items() if participant._attributes.get(k) != v}
        participant._attributes.update(attributes)
        self.emit("participant_attributes_changed", changed, participant)


# Names the fake emits, for the drift check against rtc.room.EventTypes.
EMITTED_EVENTS = ("participant_connected", "participant_disconnected", "track_published",
                  "track_subscribed", "track_unsubscribed", "track_unpublished", "track_muted",
                  "track_unmuted", "participant_attributes_changed", "disconnected")


def frames_of(samples: np.ndarray, sample_rate: int, frame_ms: int = 20) -> list[AudioFrame]:
    """int16 mono samples as the SDK's frames (what a client's microphone would send)."""
    size = sample_rate * frame_ms // 1000
    return [AudioFrame(samples[i:i + size].tobytes(), sample_rate, 1, len(samples[i:i + size]))
            for i in range(0, len(samples), size) if len(samples[i:i + size])]


async def play(track: RemoteAudioTrack, samples: np.ndarray, sample_rate: int, *, realtime: bool = True,
               frame_ms: int = 20) -> None:
    """Send a clip through a remote track, paced at real time (as a microphone would)."""
    start = time.monotonic()
    for i, frame in enumerate(frames_of(samples, sample_rate, frame_ms)):
        track.push(frame)
        if realtime:
            await asyncio.sleep(max(0.0, start + (i + 1) * frame_ms / 1000 - time.monotonic()))
        else:
            await asyncio.sleep(0)
