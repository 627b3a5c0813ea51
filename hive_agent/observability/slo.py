"""The runbook's SLO figures (metrics.md), computed from the pipeline's event log.

`SloTracker.observe` takes one event-log record at a time and returns the samples that record
produces; the live service feeds them to Prometheus as it emits events, and `compute_report`
runs the same tracker over a whole log for benchmarks, so both compute the numbers one way.

Word identity (caption latency and retraction)
----------------------------------------------
The committed words form an append-only stream; a word's *position* is its index in it. After
an event that follows `C` committed words, its newly committed words take positions
`C, C+1, ...` and its interim tail the positions after those. The tail shown before the event
occupied positions `C, C+1, ...` too, so the old and the new display are compared position by
position on normalised text (`text.normalise`: case, punctuation and timestamps ignored):

- same normalised text at the same position: the same word, still shown; its caption latency
  counts from the event that first showed it (the start of its uninterrupted display);
- different text at a position that showed a word: the old word is retracted, the new one is
  a new word first shown now;
- old tail positions beyond the new display (the tail shrank): those words are retracted.

A word shown, retracted and shown again is timed from its second appearance: the viewer did not
see it in between. Committed words never change, so they are never retracted. An inserted or
dropped word shifts every later interim word and so retracts all of them, which is what a
viewer sees, and what normalised erasure (words deleted from the shown text, divided by the
committed words) counts.

Samples
-------
- caption latency (per committed word, emitted when it is committed): wall of its first
  display minus the word's end; commit latency: wall of the committing event minus the end.
- TTFT per (unit, lang): wall of the first `translation` record for it minus its `source_end`;
  end-to-end per (unit, lang): wall of the first `speech` start for it minus the `source_end` of
  that unit's translation in that language (any language's, if that one is missing).

Word ends are the committed words' own `end` unless a `word_end` is given: a list of reference
end times per committed-word position (`quality.align_reference_ends`) or a function of
`(position, word)`. A word without a reference end is counted as unmatched instead of sampled.
With a reference, a unit's `source_end` is mapped to the word (committed or shown) whose own end
it equals, and that word's reference end is used; a unit that maps to no word is unmatched.
"""

from __future__ import annotations

import math
import resource
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..text import normalise

WordEnd = Callable[[int, dict], float | None]
UnitKey = tuple[str, str]  # (unit, lang)

# SLO targets from the runbook (metrics.md); critical levels are for alerting, not tables.
CAPTION_P95_TARGET_S = 0.250  # p95 <= target
TTFT_P95_TARGET_S = 0.450  # p95 <= target
END_TO_END_TARGET_S = 0.500  # p95 < target
RETRACTION_TARGET = 0.05  # rate < target

_END_TOLERANCE_S = 0.0015  # event logs round times to 1 ms


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default; None if empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must lie in [0, 100], got {q}")
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass
class Observations:
    """What one event (or, merged, a whole log) contributes to the SLO figures."""

    lang: str | None = None  # the event's language (source for words, target otherwise)
    caption_latency_s: list[float] = field(default_factory=list)
    commit_latency_s: list[float] = field(default_factory=list)
    committed: int = 0
    retracted: int = 0
    unmatched_words: int = 0  # committed words without a word end (no reference match)
    ttft_s: dict[UnitKey, float] = field(default_factory=dict)
    ttft_unmatched: int = 0
    end_to_end_s: dict[UnitKey, float] = field(default_factory=dict)
    end_to_end_unmatched: int = 0

    def merge(self, other: Observations) -> None:
        self.caption_latency_s.extend(other.caption_latency_s)
        self.commit_latency_s.extend(other.commit_latency_s)
        self.committed += other.committed
        self.retracted += other.retracted
        self.unmatched_words += other.unmatched_words
        self.ttft_s.update(other.ttft_s)
        self.ttft_unmatched += other.ttft_unmatched
        self.end_to_end_s.update(other.end_to_end_s)
        self.end_to_end_unmatched += other.end_to_end_unmatched


@dataclass(slots=True)
class _ShownWord:
    norm: str
    first_shown: float
    word: dict


def _field(event: Mapping, name: str) -> Any:
    try:
        return event[name]
    except KeyError:
        raise ValueError(f"event-log record of type {event.get('type')!r} lacks the field "
                         f"{name!r} (metrics.md lists the fields): {dict(event)}") from None


def _as_record(event: Mapping | Any) -> Mapping:
    if isinstance(event, Mapping):
        return event
    if hasattr(event, "as_json"):
        return event.as_json()
    raise TypeError(f"expected an event-log dict or a hive_agent.events event, got {type(event)}")


def _word_end_function(word_end: WordEnd | Sequence[float | None] | None) -> WordEnd | None:
    if word_end is None or callable(word_end):
        return word_end
    ends = list(word_end)
    return lambda position, _word: ends[position] if position < len(ends) else None


class _Recent:
    """A mapping that remembers only its `limit` most recently set keys; counts what it forgot."""

    def __init__(self, limit: int):
        self._items: OrderedDict = OrderedDict()
        self._limit = limit
        self.forgotten = 0

    def __contains__(self, key) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, key):
        return self._items[key]

    def set(self, key, value=None) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self._limit:
            self._items.popitem(last=False)
            self.forgotten += 1

    def pop(self, key, default=None):
        return self._items.pop(key, default)


class SloTracker:
    """Turns event-log records, one at a time, into SLO samples (see the module docstring).

    A live session runs for hours, so the tracker remembers only the last `RECENT_UNITS` (unit,
    lang) keys and, with a reference, the last `RECENT_WORDS` committed words: a unit's records
    come seconds after its words, and unit ids do not repeat within a log. Samples and counts are
    handed out per event, never stored here."""

    RECENT_UNITS = 1000
    RECENT_WORDS = 1000

    def __init__(self, word_end: WordEnd | Sequence[float | None] | None = None):
        self._reference_end = _word_end_function(word_end)
        self._committed = 0
        self._tail: list[_ShownWord] = []
        # only with a reference: (position, word) of recent committed words, by their own end in ms
        self._committed_by_end_ms = _Recent(self.RECENT_WORDS)
        self._source_end = _Recent(self.RECENT_UNITS)  # (unit, lang) -> its end, once translated
        self._unit_source_end = _Recent(self.RECENT_UNITS)  # unit -> its first translation's end
        self._speech_started = _Recent(self.RECENT_UNITS)  # (unit, lang) keys
        self._speech_waiting = _Recent(self.RECENT_UNITS)  # (unit, lang) -> speech start seen before its text

    @property
    def uncommitted_words(self) -> int:
        """Words of the interim tail still waiting for a commit."""
        return len(self._tail)

    @property
    def speech_without_text(self) -> int:
        """Speech starts whose unit never had a translation record."""
        return len(self._speech_waiting) + self._speech_waiting.forgotten

    @property
    def stored_items(self) -> int:
        """Entries held in memory; bounded however long the log."""
        return len(self._tail) + sum(len(store) for store in (
            self._committed_by_end_ms, self._source_end, self._unit_source_end, self._speech_started,
            self._speech_waiting))

    def observe(self, event: Mapping | Any) -> Observations:
        record = _as_record(event)
        kind = _field(record, "type")
        obs = Observations(lang=record.get("lang"))
        if kind == "words":
            self._observe_words(record, obs)
        elif kind == "translation":
            self._observe_translation(record, obs)
        elif kind == "speech":
            self._observe_speech(record, obs)
        return obs  # other record types carry no SLO samples

    def _word_end(self, position: int, word: dict) -> float | None:
        if self._reference_end is None:
            return float(_field(word, "end"))
        end = self._reference_end(position, word)
        return None if end is None else float(end)

    def _observe_words(self, record: Mapping, obs: Observations) -> None:
        wall = float(_field(record, "wall"))
        committed = _field(record, "committed")
        display = list(committed) + list(_field(record, "interim"))
        old_tail = self._tail
        new_tail: list[_ShownWord] = []
        for i, word in enumerate(display):
            norm = normalise(_field(word, "text"))
            old = old_tail[i] if i < len(old_tail) else None
            if old is not None and old.norm == norm:
                first_shown = old.first_shown
            else:
                if old is not None:
                    obs.retracted += 1  # a different word now stands where this one was shown
                first_shown = wall
            if i >= len(committed):
                new_tail.append(_ShownWord(norm, first_shown, word))
                continue
            position = self._committed + i
            obs.committed += 1
            if self._reference_end is not None:
                end_ms = round(float(_field(word, "end")) * 1000)
                self._committed_by_end_ms.set(end_ms, (position, word))
            end = self._word_end(position, word)
            if end is None:
                obs.unmatched_words += 1
            else:
                obs.caption_latency_s.append(first_shown - end)
                obs.commit_latency_s.append(wall - end)
        obs.retracted += max(0, len(old_tail) - len(display))
        self._tail = new_tail
        self._committed += len(committed)

    def _unit_end(self, source_end: float) -> float | None:
        """The unit's last word end on the clock in use (its own, or the reference's)."""
        if self._reference_end is None:
            return source_end
        ms = round(source_end * 1000)
        candidates = [self._committed_by_end_ms[k] for k in (ms - 1, ms, ms + 1)
                      if k in self._committed_by_end_ms]
        candidates += [(self._committed + i, shown.word) for i, shown in enumerate(self._tail)
                       if abs(float(shown.word["end"]) - source_end) <= _END_TOLERANCE_S]
        if not candidates:
            return None
        position, word = max(candidates, key=lambda c: c[0])  # the latest word ending there
        return self._word_end(position, word)

    def _observe_translation(self, record: Mapping, obs: Observations) -> None:
        key = (str(_field(record, "unit")), str(_field(record, "lang")))
        source_end = float(_field(record, "source_end"))
        wall = float(_field(record, "wall"))
        if key in self._source_end:
            return
        end = self._unit_end(source_end)
        self._source_end.set(key, end)
        if key[0] not in self._unit_source_end:
            self._unit_source_end.set(key[0], end)
        if end is None:
            obs.ttft_unmatched += 1
        else:
            obs.ttft_s[key] = wall - end
        if key in self._speech_waiting:
            self._add_end_to_end(key, self._speech_waiting.pop(key), end, obs)

    def _observe_speech(self, record: Mapping, obs: Observations) -> None:
        if _field(record, "event") != "start":
            return
        key = (str(_field(record, "unit")), str(_field(record, "lang")))
        if key in self._speech_started:
            return
        self._speech_started.set(key)
        wall = float(_field(record, "wall"))
        if key in self._source_end:
            self._add_end_to_end(key, wall, self._source_end[key], obs)
        elif key[0] in self._unit_source_end:
            self._add_end_to_end(key, wall, self._unit_source_end[key[0]], obs)
        else:
            self._speech_waiting.set(key, wall)

    @staticmethod
    def _add_end_to_end(key: UnitKey, wall: float, end: float | None, obs: Observations) -> None:
        if end is None:
            obs.end_to_end_unmatched += 1
        else:
            obs.end_to_end_s[key] = wall - end


@dataclass(frozen=True)
class LatencyStats:
    p50_s: float | None
    p95_s: float | None
    n: int
    unmatched: int = 0  # samples left out: no (reference) word end for them
    samples: tuple[float, ...] = field(default=(), repr=False, compare=False)  # for pooling runs

    @classmethod
    def of(cls, samples: Iterable[float], unmatched: int = 0) -> LatencyStats:
        values = tuple(samples)
        return cls(percentile(values, 50), percentile(values, 95), len(values), unmatched, values)

    @property
    def matched_share(self) -> float | None:
        total = self.n + self.unmatched
        return self.n / total if total else None

    def as_dict(self) -> dict:
        return {"p50_s": self.p50_s, "p95_s": self.p95_s, "n": self.n,
                "unmatched": self.unmatched, "matched_share": self.matched_share}


@dataclass(frozen=True)
class SloReport:
    caption: LatencyStats
    commit: LatencyStats
    committed_words: int
    retracted_words: int
    retraction_rate: float | None  # retracted / committed; None without committed words
    ttft: LatencyStats
    end_to_end: LatencyStats
    uncommitted_words: int = 0  # interim words still pending when the log ended
    audio_s: float | None = None
    compute_s: float | None = None
    rtf: float | None = None
    source_text: dict[str, str] = field(default_factory=dict)  # committed words per language
    translated_text: dict[str, str] = field(default_factory=dict)  # per target language

    def slo_checks(self) -> dict[str, bool | None]:
        """Pass (True) / fail (False) per runbook SLO; None where there are no samples."""
        def check(value: float | None, ok: Callable[[float], bool]) -> bool | None:
            return None if value is None else ok(value)

        return {
            "caption_p95": check(self.caption.p95_s, lambda v: v <= CAPTION_P95_TARGET_S),
            "retraction": check(self.retraction_rate, lambda v: v < RETRACTION_TARGET),
            "ttft_p95": check(self.ttft.p95_s, lambda v: v <= TTFT_P95_TARGET_S),
            "end_to_end_p95": check(self.end_to_end.p95_s, lambda v: v < END_TO_END_TARGET_S),
        }

    def as_dict(self) -> dict:
        return {
            "caption_latency": self.caption.as_dict(),
            "commit_latency": self.commit.as_dict(),
            "committed_words": self.committed_words,
            "retracted_words": self.retracted_words,
            "retraction_rate": self.retraction_rate,
            "ttft": self.ttft.as_dict(),
            "end_to_end": self.end_to_end.as_dict(),
            "uncommitted_words": self.uncommitted_words,
            "audio_s": self.audio_s,
            "compute_s": self.compute_s,
            "rtf": self.rtf,
            "source_text": dict(self.source_text),
            "translated_text": dict(self.translated_text),
            "slo_pass": self.slo_checks(),
        }


def committed_words(events: Iterable[Mapping | Any]) -> list[dict]:
    """Every committed word of the log in stream order (positions for `word_end`)."""
    words: list[dict] = []
    for event in map(_as_record, events):
        if event.get("type") == "words":
            words.extend(_field(event, "committed"))
    return words


def _join(parts: Iterable[str]) -> str:
    return " ".join(p for p in parts if p)


def final_texts(events: Iterable[Mapping | Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(committed source text per language, translated text per target language).

    Each unit is translated once per language (a repeated record keeps its first text); units
    appear in the order they were translated.
    """
    source: dict[str, list[str]] = {}
    units: dict[str, dict[str, str]] = {}  # lang -> unit -> text
    for event in map(_as_record, events):
        kind = event.get("type")
        if kind == "words":
            source.setdefault(_field(event, "lang"), []).extend(
                _field(w, "text").strip() for w in _field(event, "committed"))
        elif kind == "translation":
            units.setdefault(_field(event, "lang"), {}).setdefault(_field(event, "unit"), _field(event, "text").strip())
    return ({lang: _join(words) for lang, words in source.items()},
            {lang: _join(texts.values()) for lang, texts in units.items()})


def observe_log(events: Iterable[Mapping | Any],
                word_end: WordEnd | Sequence[float | None] | None = None) -> tuple[Observations, SloTracker]:
    """Run an `SloTracker` over a whole log: every observation, and the tracker at the end."""
    tracker = SloTracker(word_end=word_end)
    total = Observations()
    for event in events:
        total.merge(tracker.observe(event))
    return total, tracker


def compute_report(events: Iterable[Mapping | Any], audio_s: float | None = None,
                   compute_s: float | None = None,
                   reference_ends: WordEnd | Sequence[float | None] | None = None) -> SloReport:
    """The SLO figures of a whole log. `reference_ends`: see `SloTracker(word_end=...)`."""
    records = [_as_record(e) for e in events]
    total, tracker = observe_log(records, reference_ends)
    source_text, translated_text = final_texts(records)
    if audio_s is not None and audio_s <= 0:
        raise ValueError(f"audio_s must be positive to compute the real-time factor, got {audio_s}")
    return SloReport(
        caption=LatencyStats.of(total.caption_latency_s, total.unmatched_words),
        commit=LatencyStats.of(total.commit_latency_s, total.unmatched_words),
        committed_words=total.committed,
        retracted_words=total.retracted,
        retraction_rate=total.retracted / total.committed if total.committed else None,
        ttft=LatencyStats.of(total.ttft_s.values(), total.ttft_unmatched),
        end_to_end=LatencyStats.of(total.end_to_end_s.values(),
                                   total.end_to_end_unmatched + tracker.speech_without_text),
        uncommitted_words=tracker.uncommitted_words,
        audio_s=audio_s,
        compute_s=compute_s,
        rtf=compute_s / audio_s if audio_s is not None and compute_s is not None else None,
        source_text=source_text,
        translated_text=translated_text,
    )


def _mark(passed: bool | None) -> str:
    return "" if passed is None else (" ok" if passed else " FAIL")


def _latency_cell(stats: LatencyStats, passed: bool | None = None) -> str:
    if stats.n == 0:
        return "-" if stats.unmatched == 0 else f"- (0 of {stats.unmatched})"
    count = f"{stats.n}" if stats.unmatched == 0 else f"{stats.n} of {stats.n + stats.unmatched}"
    return f"{stats.p50_s * 1000:.0f}/{stats.p95_s * 1000:.0f} ({count}){_mark(passed)}"


def _retraction_cell(report: SloReport, passed: bool | None) -> str:
    if report.retraction_rate is None:
        return "-"
    return (f"{report.retraction_rate * 100:.1f} % "
            f"({report.retracted_words}/{report.committed_words}){_mark(passed)}")


def format_table(reports: SloReport | Mapping[str, SloReport] | Sequence[tuple[str, SloReport]]
                 ) -> str:
    """A plain-text table, one row per report, latencies in ms as `p50/p95 (n)`.

    Each SLO column is marked ok/FAIL against the runbook target shown in the first row;
    `(n of m)` means m samples were due but only n had a (reference) word end.
    """
    if isinstance(reports, SloReport):
        rows = [("run", reports)]
    elif isinstance(reports, Mapping):
        rows = list(reports.items())
    else:
        rows = list(reports)
    header = ["", "caption ms p50/p95 (n)", "commit ms p50/p95 (n)", "retraction",
              "TTFT ms p50/p95 (n)", "e2e ms p50/p95 (n)", "RTF"]
    table = [header, ["SLO target", f"p95 <= {CAPTION_P95_TARGET_S * 1000:.0f}", "-",
                      f"< {RETRACTION_TARGET * 100:.0f} %",
                      f"p95 <= {TTFT_P95_TARGET_S * 1000:.0f}",
                      f"p95 < {END_TO_END_TARGET_S * 1000:.0f}", "-"]]
    for name, report in rows:
        checks = report.slo_checks()
        table.append([
            str(name),
            _latency_cell(report.caption, checks["caption_p95"]),
            _latency_cell(report.commit),
            _retraction_cell(report, checks["retraction"]),
            _latency_cell(report.ttft, checks["ttft_p95"]),
            _latency_cell(report.end_to_end, checks["end_to_end_p95"]),
            "-" if report.rtf is None else f"{report.rtf:.2f}",
        ])
    return format_columns(table)


def format_columns(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells as left-aligned columns two spaces apart (every plain-text table of HIVE)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def peak_rss_mb() -> float:
    """The process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def print_run_summary(name: str, events: list[dict], audio_s: float, compute_s: float, extra: str) -> None:
    """The end of a --realtime run: the SLO table, then cost figures (`extra`) and peak RSS."""
    print()
    print(format_table({name: compute_report(events, audio_s=audio_s, compute_s=compute_s)}))
    print(f"{extra}, peak RSS {peak_rss_mb():.0f} MB")
