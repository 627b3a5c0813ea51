"""What a speaker's pipeline yields, published into the room.

Captions are text streams on `lk.transcription` with the attributes stock LiveKit clients read
(the same ones livekit-agents writes for user transcripts): `lk.transcription_final`,
`lk.segment_id`, `lk.transcribed_track_id`, plus `language` (livekit-agents sets no language
attribute; `language` matches the participant attribute listeners use to choose one).
Each update is one complete stream carrying the segment's whole text so far; a later stream
with the same segment id replaces it, and the last one has `lk.transcription_final` = "true".
The streams are sent on behalf of the speaker (`sender_identity`), as livekit-agents does, so
clients show them under the speaker.

- Source captions: one segment per utterance (committed words of the utterance, then the
  uncommitted tail), closed as final at the utterance's end or when the speaker's input ends.
- Translated captions: one final segment per translation unit and language.

Translated speech: one audio track per source track and language, named
`<speaker identity>-<source track name>-<lang>`,
48 kHz mono, fed frame by frame (20 ms) through `AudioSource.capture_frame`, which paces it
at real time. Units follow each other without gap or overlap: a unit's trailing partial frame
is completed by the next unit's first samples, or by silence when nothing follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from types import ModuleType

import numpy as np
from livekit import rtc

from ..audio import SPEECH_SAMPLE_RATE
from ..events import TranslationEvent, WordsEvent
from ..pipeline.outputs import SpeechAudio

log = logging.getLogger(__name__)

TOPIC_TRANSCRIPTION = "lk.transcription"
ATTRIBUTE_FINAL = "lk.transcription_final"
ATTRIBUTE_SEGMENT_ID = "lk.segment_id"
ATTRIBUTE_TRACK_ID = "lk.transcribed_track_id"
ATTRIBUTE_LANGUAGE = "language"

FRAME_SAMPLES = SPEECH_SAMPLE_RATE // 50  # 20 ms
AUDIO_QUEUE_MS = 400  # how far capture_frame may run ahead of playout


def new_segment_id() -> str:
    return f"SG_{uuid.uuid4().hex[:12]}"


def speech_track_name(speaker: str, source_track: str, lang: str) -> str:
    """`alice-microphone-es`: the speaker, the name of their track, the language."""
    return f"{speaker}-{source_track}-{lang}"


class CaptionPublisher:
    """Source and translated captions of one speaker track."""

    def __init__(self, participant: rtc.LocalParticipant, *, speaker: str, track_sid: str):
        self._participant = participant
        self._speaker = speaker
        self._track_sid = track_sid
        self._words: list[str] = []  # committed words of the open utterance
        self._segment_id = new_segment_id()
        self._segment_lang = ""
        self._last_text = ""

    async def publish(self, event: WordsEvent | TranslationEvent) -> None:
        if isinstance(event, WordsEvent):
            await self._publish_words(event)
        else:
            await self._publish_translation(event)

    async def finish(self) -> None:
        """Close the open source segment with what is committed (the utterance or the input has
        ended). A segment that showed only interim words, none of them committed, is closed
        empty: clients then drop the words instead of keeping a segment open forever."""
        if self._words or self._last_text:
            await self._send(" ".join(self._words), self._segment_id, self._segment_lang, final=True)
        self._next_segment()

    async def _publish_words(self, event: WordsEvent) -> None:
        self._words.extend(w.text for w in event.committed)
        self._segment_lang = event.lang or self._segment_lang
        if event.end_of_utterance:
            await self.finish()
            return
        text = " ".join(self._words + [w.text for w in event.interim])
        if text and text != self._last_text:
            self._last_text = text
            await self._send(text, self._segment_id, self._segment_lang, final=False)

    async def _publish_translation(self, event: TranslationEvent) -> None:
        """A unit is translated once: its own segment, final at once."""
        await self._send(event.text, new_segment_id(), event.lang, final=True)

    def _next_segment(self) -> None:
        self._words = []
        self._last_text = ""
        self._segment_id = new_segment_id()

    async def _send(self, text: str, segment_id: str, lang: str, *, final: bool) -> None:
        attributes = {
            ATTRIBUTE_FINAL: "true" if final else "false",
            ATTRIBUTE_SEGMENT_ID: segment_id,
            ATTRIBUTE_TRACK_ID: self._track_sid,
            ATTRIBUTE_LANGUAGE: lang,
        }
        try:
            writer = await self._participant.stream_text(
                topic=TOPIC_TRANSCRIPTION, attributes=attributes, sender_identity=self._speaker)
            await writer.write(text)
            await writer.aclose()
        except Exception as exc:  # a caption lost to a dropped connection must not stop the pipeline
            log.warning("could not publish a caption of %s (%s): %s", self._speaker, lang, exc)


class SpeechTrack:
    """One published audio track of translated speech in one language."""

    def __init__(self, participant: rtc.LocalParticipant, name: str, *, rtc_api: ModuleType = rtc):
        self.name = name
        self._participant = participant
        self._rtc = rtc_api
        self._chunks: asyncio.Queue[SpeechAudio | None] = asyncio.Queue()
        self._source: rtc.AudioSource | None = None
        self._track_sid: str | None = None
        self._feeder: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._source = self._rtc.AudioSource(SPEECH_SAMPLE_RATE, 1, queue_size_ms=AUDIO_QUEUE_MS)
        track = self._rtc.LocalAudioTrack.create_audio_track(self.name, self._source)
        options = self._rtc.TrackPublishOptions(source=self._rtc.TrackSource.SOURCE_MICROPHONE)
        publication = await self._participant.publish_track(track, options)
        self._track_sid = publication.sid
        self._feeder = asyncio.create_task(self._feed(), name=f"speech-{self.name}")
        log.info("published translated audio track %s", self.name)

    def push(self, chunk: SpeechAudio) -> None:
        self._chunks.put_nowait(chunk)

    async def drain_and_close(self) -> None:
        """Play out everything queued, then unpublish."""
        self._chunks.put_nowait(None)
        if self._feeder is not None:
            with contextlib.suppress(Exception):
                await self._feeder
            with contextlib.suppress(Exception):
                await self._source.wait_for_playout()
        await self._unpublish()

    async def aclose(self) -> None:
        """Unpublish now; queued speech is dropped (nobody wants this language any more)."""
        if self._feeder is not None:
            self._feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._feeder
        await self._unpublish()

    async def _unpublish(self) -> None:
        if self._track_sid is not None:
            sid, self._track_sid = self._track_sid, None
            try:
                await self._participant.unpublish_track(sid)
            except Exception as exc:
                log.warning("could not unpublish %s: %s", self.name, exc)
            log.info("unpublished translated audio track %s", self.name)
        if self._source is not None:
            await self._source.aclose()
            self._source = None

    async def _feed(self) -> None:
        pending = np.zeros(0, dtype=np.int16)
        while (chunk := await self._chunks.get()) is not None:
            pending = np.concatenate([pending, chunk.samples.astype(np.int16, copy=False)])
            while len(pending) >= FRAME_SAMPLES:
                await self._capture(pending[:FRAME_SAMPLES])
                pending = pending[FRAME_SAMPLES:]
            if chunk.last and len(pending) and self._chunks.empty():
                await self._capture(np.pad(pending, (0, FRAME_SAMPLES - len(pending))))
                pending = pending[:0]
        if len(pending):  # closing: the last unit's tail
            await self._capture(np.pad(pending, (0, FRAME_SAMPLES - len(pending))))

    async def _capture(self, samples: np.ndarray) -> None:
        frame = self._rtc.AudioFrame(samples.tobytes(), SPEECH_SAMPLE_RATE, 1, len(samples))
        await self._source.capture_frame(frame)
