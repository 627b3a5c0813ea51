"""Every HIVE setting in one place: environment variables with the `HIVE_` prefix, or `.env`."""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError

from .errors import LanguageError, SettingsError
from .text import parse_language, parse_language_pair

log = logging.getLogger(__name__)
ENV_PREFIX = "HIVE_"
ENV_FILE = ".env"
NOT_SETTINGS = {"HIVE_EVAL_DIR"}  # read by the tests and benchmarks, not by the agent

class HiveSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=ENV_FILE, extra="ignore",
                                      validate_default=True)

    # --- models and devices -------------------------------------------------------------
    models_dir: Path = Field(Path("models"), description="Directory of local models and the model cache")
    whisper_model: str = Field("base", min_length=1, description="`base`, `tiny.en`, or a local CTranslate2 Whisper directory")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="`auto` uses the GPU when one is present")
    compute_type: str = Field("auto", description="CTranslate2 compute type; `auto` = int8 on CPU, float16 on GPU")
    cpu_threads: int = Field(2, ge=0, le=256, description="Threads per Whisper call on CPU (0 = all cores)")

    mt_paths: dict[str, Path] = Field(default_factory=dict, description='Marian model directories by pair, e.g. {"en-es": "/models/opus-mt-en-es"}; default models/mt/<src>-<tgt>')

    # --- service ---------------------------------------------------------------------
    http_host: str = Field("0.0.0.0", min_length=1, description="Address of the HTTP endpoints (/health, /metrics, ...)")
    http_port: int = Field(8081, ge=1, le=65535, description="Port of the HTTP endpoints")

    # --- recognition -----------------------------------------------------------------
    language: str = Field("auto", description="Source language code, or `auto` to detect per utterance")
    spoken_languages: str = Field("", description="Comma-separated languages the speakers use, e.g. `en,de`: `auto` detects among these only (empty: any language Whisper knows)")
    chunk_s: float = Field(0.4, gt=0.05, le=5.0, description="Audio seconds between two decodes")
    decode_budget: float = Field(0.5, ge=0.1, le=1.0, description="Real time: share of wall time that all speakers' Whisper decodes may take; the interim decode cadence adapts to it between 0.2 s and twice HIVE_CHUNK_S")
    pad_s: float = Field(1.0, ge=0.0, le=30.0, description="Silence appended to the live buffer before encoding")
    interim_words: int = Field(2, ge=0, le=100, description="Most words of the uncommitted tail shown as interim captions")
    interim_min_probability: float = Field(0.6, ge=0.0, le=1.0, description="Interim words below this confidence are not shown")
    interim_guard_s: float = Field(0.3, ge=0.0, le=2.0,
                                   description="Interim words ending this close to the newest audio are not shown")
    prompt_chars: int = Field(200, ge=0, le=1000, description="Committed text (characters) given to Whisper as prompt")
    trim_s: float = Field(3.0, gt=1.0, le=30.0,
                          description="Trim the buffer at a committed sentence or clause end past this length")
    max_buffer_s: float = Field(12.0, gt=2.0, le=30.0, description="Trim at any committed word past this length")
    max_tokens_per_s: float = Field(6.0, gt=1.0, le=30.0, description="Cap on generated tokens per buffer second (loop guard)")
    no_speech_threshold: float = Field(0.6, ge=0.0, le=1.0, description="Whisper no-speech probability that drops a decode")
    compression_ratio_threshold: float = Field(2.4, gt=1.0, le=10.0, description="Drop hypotheses more repetitive than this")

    # --- voice activity --------------------------------------------------------------
    vad_threshold: float = Field(0.5, ge=0.05, le=0.95, description="Silero speech probability that starts speech")
    vad_min_silence_s: float = Field(0.4, ge=0.05, le=5.0, description="Silence that ends an utterance")
    vad_min_speech_s: float = Field(0.1, ge=0.0, le=2.0, description="Speech needed to start an utterance")
    vad_pad_s: float = Field(0.3, ge=0.0, le=2.0, description="Audio kept before speech starts")

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        value = value.strip().lower()
        if value == "auto":
            return value
        try:
            return parse_language(value)
        except LanguageError as exc:
            raise ValueError(f"{exc}, or `auto` to detect it") from None

    @field_validator("spoken_languages")
    @classmethod
    def _spoken_languages(cls, value: str) -> str:
        try:
            return ",".join(dict.fromkeys(parse_language(code) for code in value.split(",") if code.strip()))
        except LanguageError as exc:
            raise ValueError(f"{exc}; give codes separated by commas, such as en,de") from None

    @field_validator("mt_paths")
    @classmethod
    def _mt_paths(cls, value: dict[str, Path]) -> dict[str, Path]:
        pairs = {}
        for pair, path in value.items():
            try:  # Whisper must hear the source; the target only has to be a language code
                source, target = parse_language_pair(pair, "key", known_source=True)
            except LanguageError as exc:
                raise ValueError(f"keys are language pairs such as `en-es`: {exc}") from None
            if not Path(path).expanduser().is_dir():
                raise ValueError(f"the {pair} model directory {path} does not exist")
            pairs[f"{source}-{target}"] = path
        return pairs

    @field_validator("compute_type")
    @classmethod
    def _compute_type(cls, value: str) -> str:
        allowed = {"auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
                   "float16", "bfloat16", "float32", "default"}
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(sorted(allowed))}")
        return value

    @model_validator(mode="after")
    def _buffer_limits(self) -> "HiveSettings":
        if self.max_buffer_s < self.trim_s:
            raise ValueError("max_buffer_s must be >= trim_s")
        return self

    @property
    def spoken_language_codes(self) -> tuple[str, ...]:
        return tuple(self.spoken_languages.split(",")) if self.spoken_languages else ()

    def resolved_models_dir(self) -> Path:
        return self.models_dir.expanduser().resolve()


def warn_unknown_variables(names: Iterable[str]) -> None:
    """A misspelt HIVE_ variable would be ignored without a word: name it and the closest setting."""
    settings = [f"{ENV_PREFIX}{field.upper()}" for field in HiveSettings.model_fields]
    for name in sorted(set(names)):
        upper = name.upper()
        if upper.startswith(ENV_PREFIX) and upper not in settings and upper not in NOT_SETTINGS:
            close = difflib.get_close_matches(upper, settings, n=1)
            hint = f"did you mean {close[0]}?" if close else "see the settings table in README.md"
            log.warning("ignoring unknown setting %s (%s)", name, hint)


def load_settings(**overrides) -> HiveSettings:
    """Build the settings, turning validation errors into one message naming each setting."""
    env_file = Path(ENV_FILE)
    warn_unknown_variables([*os.environ, *(dotenv_values(env_file) if env_file.is_file() else ())])
    try:
        return HiveSettings(**overrides)
    except SourceError as exc:  # a value pydantic-settings cannot even parse (JSON of a dict)
        field = re.search(r'field "(\w+)"', str(exc))
        env = f"HIVE_{field.group(1).upper()}" if field else "HIVE_* settings"
        raise SettingsError(f"invalid setting {env}: cannot parse its value ({exc.__cause__ or exc}); "
                            f'give JSON such as {{"en-es": "/models/opus-mt-en-es"}}') from None
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "settings"
            env = f"HIVE_{name.upper()}" if name != "settings" else "HIVE_* settings"
            message = err["msg"].removeprefix("Value error, ")
            lines.append(f"invalid setting {env}: {message} (got {err.get('input')!r})")
        raise SettingsError("\n".join(lines)) from None
