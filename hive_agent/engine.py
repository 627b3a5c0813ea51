"""Load the models once per process; every speaker's pipeline shares them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .models import cuda_available, resolve_whisper
from .settings import HiveSettings
from .stt.whisper_decoder import WhisperDecoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DevicePlan:
    device: str  # "cpu" or "cuda"
    compute_type: str


def plan_device(settings: HiveSettings) -> DevicePlan:
    gpu = cuda_available()
    if settings.device == "cuda" and not gpu:
        from .errors import SettingsError

        raise SettingsError("invalid setting HIVE_DEVICE: `cuda` was asked for but CTranslate2 sees no "
                            "CUDA device; use HIVE_DEVICE=auto or cpu")
    device = "cuda" if settings.device == "cuda" or (settings.device == "auto" and gpu) else "cpu"
    compute = settings.compute_type
    if compute == "auto":
        compute = "float16" if device == "cuda" else "int8"
    return DevicePlan(device, compute)


def load_whisper(settings: HiveSettings, plan: DevicePlan | None = None) -> WhisperDecoder:
    plan = plan or plan_device(settings)
    model_dir = resolve_whisper(settings.whisper_model, settings.resolved_models_dir())
    log.info("loading Whisper %s from %s on %s (%s)", settings.whisper_model, model_dir,
             plan.device, plan.compute_type)
    return WhisperDecoder(str(model_dir), plan.device, plan.compute_type, settings.cpu_threads,
                          name=settings.whisper_model)
