"""The pipeline's event log (see metrics.md): one JSON object per line.

The field names are a public interface read by tools outside the project; add fields,
never rename them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start: float  # stream seconds
    end: float  # stream seconds
    probability: float = 1.0

    def as_json(self) -> dict:
        return {"text": self.text, "start": round(self.start, 3), "end": round(self.end, 3)}


@dataclass(slots=True)
class WordsEvent:
    """Newly committed words plus the whole uncommitted tail after this event."""

    wall: float
    lang: str
    committed: list[Word]
    interim: list[Word]
    end_of_utterance: bool = False
    type: Literal["words"] = "words"

    def as_json(self) -> dict:
        return {
            "type": self.type,
            "wall": round(self.wall, 4),
            "lang": self.lang,
            "committed": [w.as_json() for w in self.committed],
            "interim": [w.as_json() for w in self.interim],
            "end_of_utterance": self.end_of_utterance,
        }


@dataclass(slots=True)
class TranslationEvent:
    wall: float
    unit: str
    lang: str
    text: str
    source_end: float
    source_lang: str = ""
    source_start: float = 0.0
    type: Literal["translation"] = "translation"

    def as_json(self) -> dict:
        # `final` stays in the log (metrics.md): every unit is translated once, as final.
        return {"wall": round(self.wall, 4), "unit": self.unit, "lang": self.lang, "text": self.text,
                "final": True, "source_end": round(self.source_end, 3), "source_lang": self.source_lang,
                "source_start": round(self.source_start, 3), "type": self.type}


@dataclass(slots=True)
class SpeechEvent:
    wall: float
    unit: str
    lang: str
    event: Literal["start", "end"]
    audio_s: float | None = None
    type: Literal["speech"] = "speech"

    def as_json(self) -> dict:
        d = {"type": self.type, "wall": round(self.wall, 4), "unit": self.unit,
             "lang": self.lang, "event": self.event}
        if self.audio_s is not None:
            d["audio_s"] = round(self.audio_s, 3)
        return d


Event = WordsEvent | TranslationEvent | SpeechEvent


@dataclass
class EventLog:
    """Collects events in memory and, optionally, appends them to a JSONL file."""

    path: Path | None = None
    events: list[dict] = field(default_factory=list)
    _fh: IO[str] | None = None

    def __post_init__(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("w", encoding="utf-8")

    def write(self, event: Event) -> None:
        record = event.as_json()
        self.events.append(record)
        if self._fh is not None:
            self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
