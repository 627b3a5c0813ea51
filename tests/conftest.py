"""Shared fixtures: the models folder and models loaded once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval_data import REPO


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return REPO / "models"


@pytest.fixture(scope="session")
def settings(models_dir):
    from hive_agent.settings import load_settings

    return load_settings(models_dir=models_dir)


@pytest.fixture(scope="session")
def whisper_base(settings):
    from hive_agent.stt.whisper_decoder import load_whisper

    return load_whisper(settings)


@pytest.fixture(scope="session")
def whisper_tiny_en(settings):
    from hive_agent.stt.whisper_decoder import load_whisper

    return load_whisper(settings.model_copy(update={"whisper_model": "tiny.en"}))


@pytest.fixture(scope="session")
def tiny_marian_en_es(tmp_path_factory) -> Path:
    from tiny_marian import build_tiny_marian

    return build_tiny_marian(tmp_path_factory.mktemp("marian-en-es"))


@pytest.fixture(scope="session")
def engine(settings, tiny_marian_en_es):
    """The process-wide engine as a worker loads it, with a (random-weight) en->es Marian pair."""
    from hive_agent.pipeline.engine import Engine

    return Engine.load(settings.model_copy(update={"mt_paths": {"en-es": tiny_marian_en_es}}))
