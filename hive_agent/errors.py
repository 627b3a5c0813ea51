"""Errors an operator can act on: each names what is wrong and how to fix it."""

from __future__ import annotations

from pathlib import Path


class HiveError(Exception):
    """Base class for errors shown to the user without a traceback."""


class ModelError(HiveError):
    """A model is missing, incomplete or corrupt."""

    def __init__(self, what: str, path: Path | str, fix: str):
        self.what = what
        self.path = Path(path)
        self.fix = fix
        super().__init__(f"{what}: {self.path}\n  fix: {fix}")


class SettingsError(HiveError):
    """A setting has an invalid value."""


class AudioFormatError(HiveError, ValueError):
    """Audio that cannot be converted to the pipeline's format."""


class LanguageError(HiveError, ValueError):
    """A language tag that is malformed or names a language HIVE cannot handle."""
