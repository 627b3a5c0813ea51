"""Text to speech: Piper voices by language, synthesized at 48 kHz, first clause first."""

from .piper_synth import PiperSynthesizer, SpeechBank, split_for_speech
from .voices import VoiceFiles, resolve_voices

__all__ = ["PiperSynthesizer", "SpeechBank", "VoiceFiles", "resolve_voices", "split_for_speech"]
