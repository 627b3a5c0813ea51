"""Every HIVE setting in one place: environment variables with the `HIVE_` prefix, or `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import SettingsError
from .text import is_language_code

class HiveSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HIVE_", env_file=".env", extra="ignore",
                                      validate_default=True)

    # --- models and devices -------------------------------------------------------------
    models_dir: Path = Field(Path("models"), description="Directory of local models and the model cache")
    whisper_model: str = Field("base", description="`base`, `tiny.en`, or a local CTranslate2 Whisper directory")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="`auto` uses the GPU when one is present")
    compute_type: str = Field("auto", description="CTranslate2 compute type; `auto` = int8 on CPU, float16 on GPU")
    cpu_threads: int = Field(2, ge=0, le=256, description="Threads per Whisper call on CPU (0 = all cores)")

    mt_paths: dict[str, Path] = Field(default_factory=dict, description='Marian model directories by pair, e.g. {"en-es": "/models/opus-mt-en-es"}; default models/mt/<src>-<tgt>')

    # --- service ---------------------------------------------------------------------
    http_host: str = Field("0.0.0.0", description="Address of the HTTP endpoints (/health, /metrics, ...)")
    http_port: int = Field(8081, ge=1, le=65535, description="Port of the HTTP endpoints")

    # --- recognition -----------------------------------------------------------------
    language: str = Field("auto", description="Source language code, or `auto` to detect per utterance")
    chunk_s: float = Field(0.4, gt=0.05, le=5.0, description="Audio seconds between two decodes")
    pad_s: float = Field(1.0, ge=0.0, le=30.0, description="Silence appended to the live buffer before encoding")
    interim_words: int = Field(2, ge=0, le=100, description="Most words of the uncommitted tail shown as interim captions")
    interim_min_probability: float = Field(0.6, ge=0.0, le=1.0, description="Interim words below this confidence are not shown")
    interim_guard_s: float = Field(0.0, ge=0.0, le=2.0, description="Interim words ending this close to the newest audio are not shown")
    prompt_chars: int = Field(200, ge=0, le=1000, description="Committed text (characters) given to Whisper as prompt")
    trim_s: float = Field(6.0, gt=1.0, le=30.0, description="Trim the buffer at a committed sentence end past this length")
    max_buffer_s: float = Field(12.0, gt=2.0, le=30.0, description="Trim at any committed word past this length")
    max_tokens_per_s: float = Field(6.0, gt=1.0, description="Cap on generated tokens per buffer second (loop guard)")
    no_speech_threshold: float = Field(0.6, ge=0.0, le=1.0, description="Whisper no-speech probability that drops a decode")
    compression_ratio_threshold: float = Field(2.4, gt=1.0, description="Drop hypotheses more repetitive than this")

    # --- voice activity --------------------------------------------------------------
    vad_threshold: float = Field(0.5, gt=0.0, lt=1.0, description="Silero speech probability that starts speech")
    vad_min_silence_s: float = Field(0.4, ge=0.05, le=5.0, description="Silence that ends an utterance")
    vad_min_speech_s: float = Field(0.1, ge=0.0, le=2.0, description="Speech needed to start an utterance")
    vad_pad_s: float = Field(0.3, ge=0.0, le=2.0, description="Audio kept before speech starts")

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        value = value.strip().lower()
        if value != "auto" and not is_language_code(value):
            raise ValueError("must be `auto` or a 2-3 letter language code such as `en` or `de`")
        return value

    @field_validator("mt_paths")
    @classmethod
    def _mt_paths(cls, value: dict[str, Path]) -> dict[str, Path]:
        for pair, path in value.items():
            source, _, target = pair.partition("-")
            if not (is_language_code(source) and is_language_code(target)):
                raise ValueError(f"keys are language pairs such as `en-es`, got {pair!r}")
            if not Path(path).expanduser().is_dir():
                raise ValueError(f"the {pair} model directory {path} does not exist")
        return value

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

    def resolved_models_dir(self) -> Path:
        return self.models_dir.expanduser().resolve()


def load_settings(**overrides) -> HiveSettings:
    """Build the settings, turning validation errors into one message naming each setting."""
    try:
        return HiveSettings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "settings"
            env = f"HIVE_{name.upper()}" if name != "settings" else "HIVE_* settings"
            lines.append(f"invalid setting {env}: {err['msg']} (got {err.get('input')!r})")
        raise SettingsError("\n".join(lines)) from None
