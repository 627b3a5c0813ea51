"""Where the models run: the GPU when CTranslate2 sees one (`HIVE_DEVICE=auto`), else the CPU."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SettingsError
from .models import cuda_available
from .settings import HiveSettings


@dataclass(frozen=True)
class DevicePlan:
    device: str  # "cpu" or "cuda"
    compute_type: str


def plan_device(settings: HiveSettings) -> DevicePlan:
    gpu = cuda_available()
    if settings.device == "cuda" and not gpu:
        raise SettingsError("invalid setting HIVE_DEVICE: `cuda` was asked for but CTranslate2 sees no "
                            "CUDA device; use HIVE_DEVICE=auto or cpu")
    device = "cuda" if settings.device == "cuda" or (settings.device == "auto" and gpu) else "cpu"
    compute = settings.compute_type
    if compute == "auto":
        compute = "float16" if device == "cuda" else "int8"
    return DevicePlan(device, compute)
