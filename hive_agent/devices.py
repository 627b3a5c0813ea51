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


# glibc mallopt parameters
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
MALLOC_ARENAS = 2
MMAP_THRESHOLD_BYTES = 4 << 20
TRIM_THRESHOLD_BYTES = 2 * MMAP_THRESHOLD_BYTES  # free heap kept at the top of an arena before it is given back


def bound_native_memory() -> None:
    """Keep glibc's malloc from holding freed native memory (models' buffers, audio arrays):
    - two arenas: model calls run in worker threads, and each thread's arena kept its own
      high-water mark (a room session cycling three clips grew 30 MB a minute to 687 MB);
    - a fixed mmap threshold: by default glibc raises it to the size of each large block freed
      (up to 32 MB), so later buffers of that size come from the heap, and freed heap stays
      resident; fixed at 4 MB, every buffer from 4 MB up goes back to the system when freed.
      (2026-12-01, 2-core AMD EPYC: an 8-minute room session ran in 448-527 MB instead of
      520-620 MB. At 1 MB it ran in 431-467 MB, but Whisper's encoder buffers (a layer's output
      is 1500 x 512 floats, 3 MB, for base) were fresh mappings, faulted in on every call: the
      demo's encoder took 111-123 ms a call instead of 85; at 4 MB, 88.)
    - a trim threshold of twice that, so that buffers freed at the top of the heap are used
      again instead of given back and faulted in again.
    Must run before the models load; a no-op off glibc."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.util.find_library("c")
    if libc:
        mallopt = ctypes.CDLL(libc).mallopt
        mallopt(M_ARENA_MAX, MALLOC_ARENAS)
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
