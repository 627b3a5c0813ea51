"""Caption files (WebVTT, SRT) from the event log, timed in stream time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def _stamp(seconds: float, separator: str) -> str:
    ms = int(round(max(0.0, seconds) * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def cues_from_events(events: list[dict], lang: str, min_s: float = 1.0) -> list[Cue]:
    """One cue per final translation unit in `lang`, shown from the unit's source start (the
    end of the previous unit) to its source end, stretched to at least `min_s` to be readable."""
    cues: list[Cue] = []
    previous_end = 0.0
    for e in events:
        if e["type"] == "translation" and e["lang"] == lang and e["text"].strip():
            start = max(previous_end, e.get("source_start", previous_end))
            end = max(e["source_end"], start + min_s)
            cues.append(Cue(start, end, e["text"].strip()))
            previous_end = e["source_end"]
    return cues


def write_captions(path: Path, cues: list[Cue]) -> None:
    srt = path.suffix.lower() == ".srt"
    lines = [] if srt else ["WEBVTT", ""]
    for i, cue in enumerate(cues, 1):
        sep = "," if srt else "."
        if srt:
            lines.append(str(i))
        lines.append(f"{_stamp(cue.start, sep)} --> {_stamp(cue.end, sep)}")
        lines += [cue.text, ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
