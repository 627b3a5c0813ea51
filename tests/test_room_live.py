"""The room scenario against a real LiveKit server (LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET).

The agent joins the way `python -m hive_agent connect --room NAME` does (an unregistered
AgentServer with one job, thread executor, shared engine); a speaker client publishes a German
clip as a microphone track and declares `language=de`; a listener client asks for `en`.
Checked: captions arrive on `lk.transcription` with the stock attributes, the translated
English track is published and subscribed by the listener with audible 48 kHz audio.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import numpy as np
import pytest
import soundfile as sf
from livekit import api, rtc

from eval_data import clip
from hive_agent.room.access import livekit_config
from hive_agent.room.worker import SharedEngine, build_server, serve_room

pytestmark = pytest.mark.live
if not os.environ.get("LIVEKIT_URL"):
    pytest.skip("needs a LiveKit server: set LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET", allow_module_level=True)


def token(config, identity: str, room: str) -> str:
    return (api.AccessToken(config.api_key, config.api_secret).with_identity(identity)
            .with_grants(api.VideoGrants(room_join=True, room=room)).to_jwt())


async def test_captions_and_translated_audio_from_a_real_server(settings):
    config = livekit_config()
    engine = SharedEngine(settings)
    await asyncio.to_thread(engine.load)
    server = build_server(config, engine)
    room_name = f"hive-live-{uuid.uuid4().hex[:8]}"
    agent = asyncio.create_task(serve_room(server, config, room_name, "hive-agent"))

    captions: list[tuple[str, dict, str]] = []
    readers: set[asyncio.Task] = set()
    heard: list[np.ndarray] = []
    listener, speaker = rtc.Room(), rtc.Room()

    def on_caption(reader: rtc.TextStreamReader, sender: str) -> None:
        async def read() -> None:
            captions.append((sender, dict(reader.info.attributes or {}), await reader.read_all()))
        task = asyncio.create_task(read())
        readers.add(task)
        task.add_done_callback(readers.discard)

    @listener.on("track_subscribed")
    def on_track(track, publication, participant) -> None:
        if publication.name.endswith("-en"):
            async def listen() -> None:
                async for event in rtc.AudioStream.from_track(track=track, sample_rate=48000):
                    heard.append(np.frombuffer(event.frame.data, dtype=np.int16).copy())
            readers.add(asyncio.create_task(listen()))

    listener.register_text_stream_handler("lk.transcription", on_caption)
    try:
        await listener.connect(config.url, token(config, "lena", room_name))
        await listener.local_participant.set_attributes({"language": "en"})
        await speaker.connect(config.url, token(config, "dieter", room_name))
        await speaker.local_participant.set_attributes({"language": "de"})
        source = rtc.AudioSource(16000, 1)
        track = rtc.LocalAudioTrack.create_audio_track("mic", source)
        await speaker.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))

        data, rate = sf.read(clip("fw-mit-de")[0], dtype="int16")
        data = np.concatenate([data[: 12 * rate], np.zeros(2 * rate, dtype=np.int16)])
        for i in range(0, len(data) - 160, 160):  # 10 ms frames, paced by capture_frame
            await source.capture_frame(rtc.AudioFrame(data[i:i + 160].tobytes(), rate, 1, 160))

        async def english_final() -> None:
            while not any(a.get("language") == "en" and a.get("lk.transcription_final") == "true"
                          for _, a, _ in captions):
                await asyncio.sleep(0.2)
        await asyncio.wait_for(english_final(), timeout=60)
    finally:
        await speaker.disconnect()
        await listener.disconnect()
        await server.aclose()
        await asyncio.wait_for(agent, 30)
        for task in readers:
            task.cancel()

    assert all(sender == "dieter" for sender, _, _ in captions)
    assert {"lk.transcription_final", "lk.segment_id", "lk.transcribed_track_id", "language"} \
        <= set(captions[0][1])
    german = " ".join(t for _, a, t in captions if a["language"] == "de" and a["lk.transcription_final"] == "true")
    assert "software" in german.lower()
    audio = np.concatenate(heard).astype(np.float32) if heard else np.zeros(0)
    assert len(audio) > 48000 * 0.5 and np.sqrt(np.mean(audio ** 2)) > 300
