"""Where the models run, decided without a GPU: `HIVE_DEVICE=auto` takes the GPU CTranslate2
sees, `cuda` without one is a clear error, and the compute type follows the device."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from hive_agent import devices
from hive_agent.errors import SettingsError
from hive_agent.settings import load_settings

pytestmark = pytest.mark.nomodels


@pytest.fixture
def gpu(monkeypatch):
    def present(value: bool) -> None:
        monkeypatch.setattr(devices, "cuda_available", lambda: value)
    return present


def test_auto_takes_the_gpu_when_ctranslate2_sees_one(gpu):
    gpu(True)
    assert devices.plan_device(load_settings()) == devices.DevicePlan("cuda", "float16")
    gpu(False)
    assert devices.plan_device(load_settings()) == devices.DevicePlan("cpu", "int8")


def test_cpu_is_kept_when_asked_for_even_with_a_gpu(gpu):
    gpu(True)
    assert devices.plan_device(load_settings(device="cpu")) == devices.DevicePlan("cpu", "int8")


def test_an_explicit_compute_type_is_kept(gpu):
    gpu(True)
    assert devices.plan_device(load_settings(compute_type="int8_float16")).compute_type == "int8_float16"


def test_cuda_without_a_gpu_is_a_clear_error(gpu):
    gpu(False)
    with pytest.raises(SettingsError, match="HIVE_DEVICE.*no CUDA device"):
        devices.plan_device(load_settings(device="cuda"))


# In a fresh interpreter (malloc settings belong to the process): free a 16 MB block, then ask
# for 6 MB; print whether glibc served it from mmap (bit 2 of the chunk's size word), which is
# what gives the memory back when it is freed.
MALLOC_PROBE = textwrap.dedent("""
    import ctypes, sys
    from hive_agent.devices import bound_native_memory
    if sys.argv[1] == "bounded":
        bound_native_memory()
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free(libc.malloc(16 << 20))
    block = libc.malloc(6 << 20)
    print(bool(ctypes.c_size_t.from_address(block - ctypes.sizeof(ctypes.c_size_t)).value & 2))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_large_buffer_goes_back_to_the_system_after_a_larger_one_was_freed():
    def served_by_mmap(mode: str) -> bool:
        out = subprocess.run([sys.executable, "-c", MALLOC_PROBE, mode], capture_output=True, text=True, check=True)
        return out.stdout.strip() == "True"

    assert not served_by_mmap("default")  # glibc's threshold rose to 16 MB: the heap keeps it
    assert served_by_mmap("bounded")
