"""Where the models run, decided without a GPU: `HIVE_DEVICE=auto` takes the GPU CTranslate2
sees, `cuda` without one is a clear error, and the compute type follows the device."""

from __future__ import annotations

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
