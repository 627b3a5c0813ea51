"""What `models download` can fetch: the SPEC strings and the hub repository behind each."""

from __future__ import annotations

from dataclasses import dataclass

from faster_whisper.utils import _MODELS as FASTER_WHISPER_REPOS  # faster_whisper's own name -> repo table
from piper.download_voices import VOICE_PATTERN

from ..errors import LanguageError, SettingsError
from ..text import is_language_code, parse_language_pair

WHISPER_NAMES = ("tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium", "medium.en",
                 "large-v3", "large-v3-turbo")
# The files faster_whisper.download_model takes from a CTranslate2 Whisper repository.
WHISPER_FILES = ("config.json", "preprocessor_config.json", "model.bin", "tokenizer.json", "vocabulary.*")
MARIAN_REPO = "Helsinki-NLP/opus-mt-{src}-{tgt}"
# What ctranslate2's TransformersConverter reads; one weights file is enough (safetensors first).
MARIAN_FILES = ("config.json", "generation_config.json", "tokenizer_config.json", "special_tokens_map.json",
                "vocab.json", "source.spm", "target.spm")
MARIAN_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
VOICE_REPO = "rhasspy/piper-voices"
VOICE_INDEX = "voices.json"
# A well-known voice per language; other languages get their first medium-quality voice.
DEFAULT_VOICES = {"en": "en_US-lessac-medium", "es": "es_ES-davefx-medium", "de": "de_DE-thorsten-medium",
                  "fr": "fr_FR-siwis-medium"}
KINDS = ("whisper", "mt", "voice")
EXAMPLE = "whisper:small, mt:en-es, voice:es or voice:es_ES-davefx-medium"


@dataclass(frozen=True)
class Spec:
    kind: str  # whisper, mt or voice
    name: str  # small / en-es / es or es_ES-davefx-medium

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def slug(self) -> str:
        return f"{self.kind}-{self.name}"

    @property
    def pair(self) -> tuple[str, str]:
        src, _, tgt = self.name.partition("-")
        return src, tgt


def parse_spec(text: str) -> Spec:
    """`whisper:NAME`, `mt:SRC-TGT`, `voice:LANG` or `voice:NAME`; SettingsError names what is wrong."""
    kind, _, name = text.strip().partition(":")
    if kind not in KINDS or not name:
        raise SettingsError(f"model spec {text!r}: write KIND:NAME with KIND one of {', '.join(KINDS)}, "
                            f"e.g. {EXAMPLE}")
    if kind == "whisper" and name not in WHISPER_NAMES:
        raise SettingsError(f"model spec {text!r}: unknown Whisper model, use one of {', '.join(WHISPER_NAMES)}")
    if kind == "mt":
        try:
            name = "-".join(parse_language_pair(name))
        except LanguageError:
            raise SettingsError(f"model spec {text!r}: give two different language codes, e.g. mt:en-es") from None
    if kind == "voice" and not (is_language_code(name) or VOICE_PATTERN.match(name)):
        raise SettingsError(f"model spec {text!r}: give a language code (voice:es) or a Piper voice name "
                            "like voice:es_ES-davefx-medium")
    return Spec(kind, name.lower() if kind == "voice" and is_language_code(name) else name)


def whisper_repo(name: str) -> str:
    return FASTER_WHISPER_REPOS[name]


def catalog() -> list[str]:
    """The lines of `models list`."""
    lines = ["whisper:NAME   CTranslate2 Whisper from the hub (faster-whisper's repositories)"]
    lines += [f"  whisper:{name:<16} {whisper_repo(name)}" for name in WHISPER_NAMES]
    lines += ["mt:SRC-TGT     an OPUS-MT pair, converted to CTranslate2 int8 (needs the `convert` extra)",
              f"  e.g. mt:en-es         {MARIAN_REPO.format(src='en', tgt='es')}",
              "  only pairs Helsinki-NLP publishes directly; HIVE does not chain two pairs through English",
              f"voice:LANG     a Piper voice for a language from {VOICE_REPO}"]
    lines += [f"  voice:{lang:<18} {name}" for lang, name in DEFAULT_VOICES.items()]
    lines += ["  other languages: their first medium-quality voice in voices.json",
              f"voice:NAME     a named Piper voice from {VOICE_REPO}, e.g. voice:de_DE-thorsten-high"]
    return lines
