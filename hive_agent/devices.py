"""Where the models run: the GPU when CTranslate2 sees one (`HIVE_DEVICE=auto`), else the CPU;
and how the process's native memory is kept in bounds."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
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


M_ARENA_MAX = -8  # glibc mallopt parameter
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> None:
    """Cap glibc's per-thread malloc arenas. Model calls run in worker threads, and each thread's
    arena kept its own high-water mark: a room session's RSS climbed in steps over long streams
    (cycling three clips grew 30 MB a minute to 687 MB; with two arenas it settled at 630 MB).
    Must run before the models load; a no-op off glibc."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.util.find_library("c")
    if libc:
        ctypes.CDLL(libc).mallopt(M_ARENA_MAX, MALLOC_ARENAS)
