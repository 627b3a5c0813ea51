"""The per-speaker pipeline: recognizer -> translation units -> translators -> synthesizers."""
