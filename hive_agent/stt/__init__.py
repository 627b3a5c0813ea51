"""Streaming speech recognition: VAD -> Whisper on the live buffer -> LocalAgreement-2."""
