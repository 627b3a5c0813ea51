"""Whisper's speech translation reuses the recognizer's encoding of an utterance (encode once)."""

from __future__ import annotations

import numpy as np

from hive_agent.pipeline.whisper_translation import RecentEncodings
from hive_agent.stt.whisper_decoder import EncodedAudio
from hive_agent.text import normalise
from eval_data import clip
from pipeline_run import run_clip


def encoding(seconds: float) -> EncodedAudio:
    return EncodedAudio(output=None, content_frames=int(seconds * 50), seconds=seconds)


def test_an_encoding_serves_only_a_unit_it_covers_alone():
    recent = RecentEncodings()
    first, second = encoding(2.0), encoding(3.1)
    recent.add(0.7, 2.7, first)  # utterance 1: words 1.0-2.5
    recent.add(3.2, 6.3, second)  # utterance 2: words 3.5-6.1
    assert recent.covering(1.0, 2.5, after=0.0) is first
    assert recent.covering(3.5, 6.1, after=2.5) is second
    assert recent.covering(4.0, 6.1, after=3.9) is None  # the utterance's first words are another unit
    assert recent.covering(3.5, 5.0, after=2.5) is None  # it holds words after the unit
    assert recent.covering(1.0, 6.1, after=0.0) is None  # the unit is longer than any encoding
    assert recent.covering(5.0, 7.0, after=4.8) is None  # audio not encoded yet


def test_the_last_unit_of_an_utterance_is_translated_without_encoding_it_again(engine, monkeypatch):
    # Real German, translated into English by Whisper (no de-en Marian here). The unit that the
    # utterance's last decode commits is translated from that decode's encoding: the encoder
    # runs once per recognizer decode and once per translation of audio, never for that unit.
    whisper = engine.whisper
    encoder_runs, decodes = [], []
    real_encode, real_decode = whisper.encode, whisper.decode

    def encode(audio, pad_s=1.0):
        encoder_runs.append(len(audio))
        return real_encode(audio, pad_s)

    def decode(audio, **kw):
        decodes.append((kw.get("task", "transcribe"), isinstance(audio, np.ndarray)))
        return real_decode(audio, **kw)

    monkeypatch.setattr(whisper, "encode", encode)
    monkeypatch.setattr(whisper, "decode", decode)
    run = run_clip(engine, clip("fleurs-de-001")[0], ["en"], source="de")

    units = run.of("translation", lang="en")
    assert "dinosaur" in normalise(units[-1]["text"])  # "... even a big dinosaur like the T-Rex ..."
    translations = [from_audio for task, from_audio in decodes if task == "translate"]
    assert False in translations  # at least one translation decoded an encoding
    from_audio = sum(translations) + sum(task == "transcribe" for task, _ in decodes)
    assert len(encoder_runs) == from_audio
