"""Marian / OPUS-MT translation through CTranslate2, one translator per language pair."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import ctranslate2
import sentencepiece as spm

from hive_agent.errors import LanguageError, ModelError, SettingsError
from hive_agent.text import parse_language_pair

EOS = "</s>"
REQUIRED_FILES = ("model.bin", "config.json", "source.spm", "target.spm")
# The converter writes .json vocabularies; older CTranslate2 versions wrote .txt ones.
VOCABULARY_SETS = (
    ("shared_vocabulary.json",),
    ("source_vocabulary.json", "target_vocabulary.json"),
    ("shared_vocabulary.txt",),
    ("source_vocabulary.txt", "target_vocabulary.txt"),
)
AUTO_COMPUTE_TYPES = {"cpu": "int8", "cuda": "float16"}


def converter_command(src: str, tgt: str, output_dir: Path) -> str:
    """The command that creates the model directory for a pair from the Hugging Face hub."""
    return (
        f"ct2-transformers-converter --model Helsinki-NLP/opus-mt-{src}-{tgt} "
        f"--output_dir {output_dir} --quantization int8 --copy_files source.spm target.spm"
    )


def check_model_dir(model_dir: Path, fix: str) -> None:
    """Raise ModelError naming the first file a converted Marian directory lacks."""
    if not model_dir.is_dir():
        raise ModelError("Marian model directory not found", model_dir, fix)
    for name in REQUIRED_FILES:
        if not (model_dir / name).is_file():
            raise ModelError(f"Marian model incomplete, missing {name}", model_dir / name, fix)
    if not any(all((model_dir / name).is_file() for name in names) for names in VOCABULARY_SETS):
        raise ModelError(
            "Marian model incomplete, missing shared_vocabulary.json "
            "(or source_vocabulary.json and target_vocabulary.json)",
            model_dir / "shared_vocabulary.json",
            fix,
        )


class MarianTranslator:
    """Translates text with one converted OPUS-MT model; thread-safe.

    `translate_batch` sends all texts that are not in its LRU cache to the model in one
    CTranslate2 call. `model_calls`, `cache_hits` and `cache_misses` count what happened.
    """

    def __init__(
        self,
        model_dir: Path,
        device: str = "cpu",
        compute_type: str = "auto",
        intra_threads: int = 1,
        *,
        beam_size: int = 1,
        max_decoding_length: int = 256,
        cache_size: int = 1024,
        fix: str | None = None,
    ):
        self.model_dir = Path(model_dir)
        fix = fix or f"convert the model into {self.model_dir} with ct2-transformers-converter"
        check_model_dir(self.model_dir, fix)
        if device not in AUTO_COMPUTE_TYPES:
            raise SettingsError(f"MT device must be 'cpu' or 'cuda', got {device!r}")
        self.device = device
        self.compute_type = AUTO_COMPUTE_TYPES[device] if compute_type == "auto" else compute_type
        self.beam_size = beam_size
        self.max_decoding_length = max_decoding_length
        self._source_spm = _load_spm(self.model_dir / "source.spm", fix)
        self._target_spm = _load_spm(self.model_dir / "target.spm", fix)
        try:
            self._translator = ctranslate2.Translator(
                str(self.model_dir),
                device=device,
                compute_type=self.compute_type,
                intra_threads=intra_threads,
            )
        except ValueError as error:  # compute type unknown or unsupported on this device
            raise SettingsError(
                f"MT compute type {self.compute_type!r} cannot run on {device} ({error}); "
                "use 'auto' (int8 on cpu, float16 on cuda)"
            ) from error
        except RuntimeError as error:  # corrupt model.bin, or CUDA unusable
            what = f"cannot load CTranslate2 model on {device} ({error})"
            raise ModelError(what, self.model_dir / "model.bin", fix) from error

        self._cache: OrderedDict[str, str] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.model_calls = 0
        self.cache_hits = 0
        self.cache_misses = 0

    def translate_batch(self, texts: list[str]) -> list[str]:
        """Translate `texts`, in order; blank texts give ""."""
        keys = [text.strip() for text in texts]
        found: dict[str, str] = {"": ""}
        with self._lock:
            for key in keys:
                if key in found:
                    continue
                if key in self._cache:
                    self._cache.move_to_end(key)
                    found[key] = self._cache[key]
                    self.cache_hits += 1
        misses = list(dict.fromkeys(key for key in keys if key not in found))
        if misses:
            translated = self._translate_uncached(misses)
            found.update(zip(misses, translated))
            with self._lock:
                self.model_calls += 1
                self.cache_misses += len(misses)
                for key, translation in zip(misses, translated):
                    self._cache[key] = translation
                    self._cache.move_to_end(key)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return [found[key] for key in keys]

    def _translate_uncached(self, texts: list[str]) -> list[str]:
        sources = [self._source_spm.encode(text, out_type=str) + [EOS] for text in texts]
        results = self._translator.translate_batch(
            sources,
            beam_size=self.beam_size,
            max_decoding_length=self.max_decoding_length,
        )
        return [self._target_spm.decode(result.hypotheses[0]) for result in results]


def _load_spm(path: Path, fix: str) -> spm.SentencePieceProcessor:
    try:
        return spm.SentencePieceProcessor(model_file=str(path))
    except (OSError, RuntimeError) as error:
        raise ModelError(f"cannot load SentencePiece model {path.name} ({error})", path, fix) from error


class MarianModels:
    """Finds converted OPUS-MT pairs under `models_dir/mt/<src>-<tgt>/` and loads each once."""

    def __init__(
        self,
        models_dir: Path,
        overrides: dict[str, Path] | None = None,
        device: str = "cpu",
        compute_type: str = "auto",
        intra_threads: int = 1,
    ):
        self.mt_dir = Path(models_dir) / "mt"
        self.overrides: dict[tuple[str, str], Path] = {}
        for key, path in (overrides or {}).items():
            self.overrides[parse_language_pair(key, "MT model override key")] = Path(path)
        self.device = device
        self.compute_type = compute_type
        self.intra_threads = intra_threads
        self._loaded: dict[tuple[str, str], MarianTranslator] = {}
        self._lock = threading.Lock()

    def model_dir(self, src: str, tgt: str) -> Path:
        return self.overrides.get((src, tgt), self.mt_dir / f"{src}-{tgt}")

    def available_pairs(self) -> list[tuple[str, str]]:
        """Pairs whose directory holds every file a converted model needs."""
        pairs = set(self.overrides)
        if self.mt_dir.is_dir():
            for child in self.mt_dir.iterdir():
                if child.is_dir() and (pair := _directory_pair(child.name)) is not None:
                    pairs.add(pair)
        return sorted(pair for pair in pairs if _is_complete(self.model_dir(*pair)))

    def get(self, src: str, tgt: str) -> MarianTranslator:
        """The translator for src->tgt, loaded on first use; ModelError if it is missing."""
        with self._lock:
            translator = self._loaded.get((src, tgt))
            if translator is None:
                model_dir = self.model_dir(src, tgt)
                translator = MarianTranslator(
                    model_dir,
                    device=self.device,
                    compute_type=self.compute_type,
                    intra_threads=self.intra_threads,
                    fix=converter_command(src, tgt, model_dir),
                )
                self._loaded[(src, tgt)] = translator
            return translator


def _is_complete(model_dir: Path) -> bool:
    try:
        check_model_dir(model_dir, fix="")
    except ModelError:
        return False
    return True


def _directory_pair(name: str) -> tuple[str, str] | None:
    """The pair a directory under mt/ holds (`en-es`); None for any other directory."""
    try:
        pair = parse_language_pair(name)
    except LanguageError:
        return None
    return pair if name == "-".join(pair) else None
