"""Everything a worker process loads once and every speaker's pipeline shares: Whisper, the
Marian translators (batched across speakers), the Piper voices, and the telemetry."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..devices import plan_device
from ..mt.batching import BatchingTranslator
from ..mt.marian import MarianModels, converter_command
from ..observability.performance import Performance
from ..observability.telemetry import Telemetry
from ..settings import HiveSettings
from ..stt.schedule import DecodeSchedule
from ..stt.whisper_decoder import WhisperDecoder, load_whisper
from ..tts.piper_synth import SpeechBank
from ..tts.voices import resolve_voices
from .whisper_translation import WhisperSpeechTranslator

if TYPE_CHECKING:
    from .session import SpeakerSession

log = logging.getLogger(__name__)


@dataclass
class UnitTrace:
    """Where one unit's time went (for /trace/recent): all in milliseconds."""

    unit: str
    lang: str
    speaker: str
    text: str
    stt_ms: float  # source word end -> unit committed
    mt_ms: float  # translation call
    tts_ms: float | None = None  # synthesis call until the first audio
    total_ms: float | None = None  # source word end -> first translated speech (end-to-end)


@dataclass
class Engine:
    settings: HiveSettings
    whisper: WhisperDecoder
    marian: MarianModels
    speech: SpeechBank
    telemetry: Telemetry
    speech_translator: WhisperSpeechTranslator
    mt_pairs: frozenset[tuple[str, str]] = frozenset()  # found at load: no disk scan per unit
    performance: Performance = field(default_factory=Performance)
    traces: deque[UnitTrace] = field(default_factory=lambda: deque(maxlen=200))
    _batchers: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary)
    _warned: set[str] = field(default_factory=set)
    decode_schedule: DecodeSchedule = field(init=False)  # shared by every real-time speaker

    def __post_init__(self) -> None:
        self.decode_schedule = DecodeSchedule(self.settings.chunk_s, self.settings.decode_budget,
                                              on_update=self.telemetry.set_decode_schedule)

    @classmethod
    def load(cls, settings: HiveSettings, telemetry: Telemetry | None = None) -> "Engine":
        telemetry = telemetry or Telemetry()
        plan = plan_device(settings)
        models_dir = settings.resolved_models_dir()
        whisper = load_whisper(settings, plan)
        telemetry.set_model_info("stt", settings.whisper_model, plan.device, plan.compute_type)
        telemetry.set_stage_up("stt", True)
        marian = MarianModels(models_dir, overrides=settings.mt_paths, device=plan.device)
        pairs = marian.available_pairs()
        for src, tgt in pairs:
            marian.get(src, tgt)
        telemetry.set_model_info("mt", ",".join(f"{s}-{t}" for s, t in pairs) or "whisper-translate",
                                 plan.device, "auto")
        telemetry.set_stage_up("mt", True)
        speech = SpeechBank(resolve_voices(models_dir), use_cuda=plan.device == "cuda")
        speech.load_all()
        telemetry.set_model_info("tts", ",".join(speech.languages()), "cpu", "onnx")
        telemetry.set_stage_up("tts", True)
        log.info("models loaded: whisper %s on %s, MT pairs %s, voices %s", settings.whisper_model,
                 plan.device, pairs or "none (Whisper translates to English)", speech.languages())
        speech_translator = WhisperSpeechTranslator(whisper, settings.no_speech_threshold,
                                                    settings.compression_ratio_threshold)
        return cls(settings, whisper, marian, speech, telemetry, speech_translator, frozenset(pairs))

    # ---------------------------------------------------------------- routes
    def route(self, source: str, target: str) -> str | None:
        """How `source` speech reaches `target` text: identity, marian, whisper, or None."""
        if source == target:
            return "identity"
        if (source, target) in self.mt_pairs:
            return "marian"
        if target == "en" and self.whisper.multilingual:
            return "whisper"
        return None

    def translator(self, source: str, target: str) -> BatchingTranslator:
        """The batcher for a pair on the running event loop: worker jobs may each run their own
        loop in a thread, and a batcher gathers the requests of the speakers on one loop."""
        per_loop = self._batchers.setdefault(asyncio.get_running_loop(), {})
        if (source, target) not in per_loop:
            per_loop[(source, target)] = BatchingTranslator(self.marian.get(source, target))
        return per_loop[(source, target)]

    def speech_languages(self) -> set[str]:
        return set(self.speech.languages())

    def warn_once(self, key: str, message: str, count: Callable[[], None] | None = None) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)
        if count is not None:
            count()

    def warn_missing_route(self, source: str, target: str) -> None:
        """Once per pair: a language nobody can translate into gets no captions, not a crash."""
        key = f"mt:{source}-{target}"
        if key not in self._warned:
            fix = converter_command(source, target, self.marian.model_dir(source, target))
            self.warn_once(key, f"no translation {source}->{target}: no model in "
                                f"{self.marian.model_dir(source, target)} (create it with: {fix})")
        self.telemetry.shed(f"no_route_{source}_{target}")

    def new_session(self, speaker: str, source_language: str = "auto", targets: Iterable[str] = (),
                    clock: Callable[[], float] | None = None, realtime: bool = True) -> SpeakerSession:
        from .session import SpeakerSession  # session.py imports this module

        return SpeakerSession(self, speaker, source_language, set(targets), clock, realtime)
