"""The CTranslate2 Marian route and cross-speaker batching, on a tiny random-weight model.

The weights are random, so these tests check the mechanics (tokenisation, batching, caching,
errors), not translation quality. Greedy decoding is deterministic, which lets a batched
result be compared with translating the same text alone.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from tiny_marian import build_tiny_marian

from hive_agent.errors import ModelError, SettingsError
from hive_agent.mt import BatchingTranslator, MarianModels, MarianTranslator

SPEAKER_TEXTS = [
    "Good morning, everyone.",
    "The train leaves at nine.",
    "Can you hear me now?",
    "We need two more engineers.",
    "The museum is closed on Mondays.",
    "Thank you for joining the call.",
]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_marian(tmp_path_factory.mktemp("tiny_marian"))


def copy_model(model: Path, destination: Path, without: str | None = None) -> Path:
    shutil.copytree(model, destination)
    if without is not None:
        (destination / without).unlink()
    return destination


@pytest.mark.nomodels
def test_converter_layout_is_written(tiny_model: Path) -> None:
    names = {path.name for path in tiny_model.iterdir()}
    assert {"model.bin", "config.json", "shared_vocabulary.json", "source.spm", "target.spm"} <= names


def test_translates_to_non_empty_text_in_one_call(tiny_model: Path) -> None:
    translator = MarianTranslator(tiny_model)
    assert translator.compute_type == "int8"

    results = translator.translate_batch(SPEAKER_TEXTS[:3])

    assert len(results) == 3
    assert all(isinstance(text, str) and text.strip() for text in results)
    # The source reaches the model: different inputs give different outputs.
    assert len(set(results)) > 1
    assert translator.model_calls == 1
    assert translator.cache_misses == 3


def test_same_text_is_translated_once(tiny_model: Path) -> None:
    translator = MarianTranslator(tiny_model)

    first = translator.translate_batch(["Open the window."])
    second = translator.translate_batch(["Open the window."])
    in_one_batch = translator.translate_batch(["Write the answer.", "Write the answer.", "Open the window."])

    assert first == second
    assert in_one_batch[0] == in_one_batch[1]
    assert in_one_batch[2] == first[0]
    assert translator.model_calls == 2
    assert translator.cache_misses == 2
    assert translator.cache_hits == 2


def test_blank_text_needs_no_model_call(tiny_model: Path) -> None:
    translator = MarianTranslator(tiny_model)

    assert translator.translate_batch(["", "   "]) == ["", ""]
    assert translator.model_calls == 0


def test_cache_evicts_least_recently_used(tiny_model: Path) -> None:
    translator = MarianTranslator(tiny_model, cache_size=2)

    for text in ["one", "two", "three", "three", "one"]:
        translator.translate_batch([text])

    # "one" was evicted by "three", so it went to the model twice.
    assert translator.model_calls == 4
    assert translator.cache_hits == 1


async def test_concurrent_speakers_share_model_calls(tiny_model: Path) -> None:
    reference = MarianTranslator(tiny_model)
    expected = [reference.translate_batch([text])[0] for text in SPEAKER_TEXTS]
    translator = MarianTranslator(tiny_model)
    batching = BatchingTranslator(translator)

    async def speaker(index: int) -> str:
        await asyncio.sleep(0.001 * (index % 3))  # speakers do not arrive at the same instant
        return await batching.translate(SPEAKER_TEXTS[index])

    results = await asyncio.gather(*(speaker(i) for i in range(len(SPEAKER_TEXTS))))

    assert results == expected
    assert translator.model_calls < len(SPEAKER_TEXTS)
    assert batching.batches_sent == translator.model_calls


async def test_requests_during_a_model_call_form_the_next_batch(tiny_model: Path) -> None:
    translator = MarianTranslator(tiny_model)
    batching = BatchingTranslator(translator, gather_window_s=0.0)

    first = asyncio.create_task(batching.translate(SPEAKER_TEXTS[0]))
    while batching.batches_sent == 0:
        await asyncio.sleep(0)  # until the first call is under way
    rest = [asyncio.create_task(batching.translate(text)) for text in SPEAKER_TEXTS[1:]]
    await asyncio.gather(first, *rest)

    assert batching.batches_sent == 2
    assert translator.model_calls == 2


async def test_batch_size_is_bounded(tiny_model: Path) -> None:
    translator = MarianTranslator(tiny_model)
    batching = BatchingTranslator(translator, max_batch_size=2)

    results = await asyncio.gather(*(batching.translate(text) for text in SPEAKER_TEXTS[:5]))

    assert len(results) == 5
    assert translator.model_calls == 3


async def test_cancelled_request_is_not_translated(tiny_model: Path) -> None:
    translator = MarianTranslator(tiny_model)
    batching = BatchingTranslator(translator, gather_window_s=0.01)

    tasks = [asyncio.create_task(batching.translate(text)) for text in SPEAKER_TEXTS[:3]]
    await asyncio.sleep(0)  # all three are queued
    tasks[1].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert isinstance(results[1], asyncio.CancelledError)
    assert all(isinstance(text, str) and text for text in (results[0], results[2]))
    assert translator.cache_misses == 2
    # The worker keeps serving later requests.
    expected = MarianTranslator(tiny_model).translate_batch([SPEAKER_TEXTS[1]])
    assert [await batching.translate(SPEAKER_TEXTS[1])] == expected


class FailingBackend:
    """A backend whose model call fails, to check that every waiting caller sees the error."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def translate_batch(self, texts: list[str]) -> list[str]:
        self.calls.append(texts)
        raise RuntimeError("model crashed")


@pytest.mark.nomodels
async def test_backend_error_reaches_every_waiting_caller() -> None:
    backend = FailingBackend()
    batching = BatchingTranslator(backend)

    requests = (batching.translate(text) for text in SPEAKER_TEXTS[:3])
    results = await asyncio.gather(*requests, return_exceptions=True)

    assert len(backend.calls) == 1
    assert all(isinstance(error, RuntimeError) and "model crashed" in str(error) for error in results)


def test_models_resolve_pairs_and_load_once(tiny_model: Path, tmp_path: Path) -> None:
    copy_model(tiny_model, tmp_path / "mt" / "en-es")
    copy_model(tiny_model, tmp_path / "mt" / "en-fr", without="target.spm")
    models = MarianModels(tmp_path, overrides={"de-en": tiny_model})

    assert models.available_pairs() == [("de", "en"), ("en", "es")]
    translator = models.get("en", "es")
    assert models.get("en", "es") is translator
    assert models.get("de", "en").model_dir == tiny_model
    assert translator.translate_batch(["Good morning."])[0]


@pytest.mark.nomodels
def test_missing_pair_names_directory_and_converter(tmp_path: Path) -> None:
    models = MarianModels(tmp_path)

    with pytest.raises(ModelError) as raised:
        models.get("en", "es")

    message = str(raised.value)
    assert str(tmp_path / "mt" / "en-es") in message
    assert "ct2-transformers-converter --model Helsinki-NLP/opus-mt-en-es" in message
    assert "--copy_files source.spm target.spm" in message


@pytest.mark.parametrize(
    ("removed", "named"),
    [
        ("model.bin", "model.bin"),
        ("target.spm", "target.spm"),
        ("config.json", "config.json"),
        ("shared_vocabulary.json", "shared_vocabulary.json"),
    ],
)
@pytest.mark.nomodels
def test_incomplete_directory_names_missing_file(
    tiny_model: Path, tmp_path: Path, removed: str, named: str
) -> None:
    copy_model(tiny_model, tmp_path / "mt" / "en-es", without=removed)

    with pytest.raises(ModelError) as raised:
        MarianModels(tmp_path).get("en", "es")

    assert named in str(raised.value)
    assert "ct2-transformers-converter" in str(raised.value)


@pytest.mark.parametrize("corrupted", ["model.bin", pytest.param("source.spm", marks=pytest.mark.nomodels)])  # no load
def test_corrupt_file_is_named(tiny_model: Path, tmp_path: Path, corrupted: str) -> None:
    model_dir = copy_model(tiny_model, tmp_path / "mt" / "en-es")
    payload = (model_dir / corrupted).read_bytes()
    (model_dir / corrupted).write_bytes(payload[: len(payload) // 2])

    with pytest.raises(ModelError) as raised:
        MarianModels(tmp_path).get("en", "es")

    assert str(model_dir / corrupted) in str(raised.value)


@pytest.mark.nomodels
def test_unknown_device_is_a_settings_error(tiny_model: Path) -> None:
    with pytest.raises(SettingsError, match="'cpu' or 'cuda'"):
        MarianTranslator(tiny_model, device="tpu")
