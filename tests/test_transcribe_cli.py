"""`python -m hive_agent transcribe` as a user runs it: captions on stdout, the event log on disk."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hive_agent.bench.quality import wer
from eval_data import clip


def test_transcribe_writes_the_metrics_md_event_log(tmp_path):
    path, row = clip("fw-jfk")
    events_path = tmp_path / "events.jsonl"
    result = subprocess.run([sys.executable, "-m", "hive_agent", "transcribe", str(path), "--events",
                             str(events_path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "fellow Americans" in result.stdout  # live captions
    assert "[" in result.stdout  # the interim tail, marked off from committed words
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    assert events and all(e["type"] == "words" for e in events)
    for e in events:
        assert set(e) >= {"type", "wall", "lang", "committed", "interim"}
        for w in e["committed"] + e["interim"]:
            assert set(w) == {"text", "start", "end"} and w["start"] <= w["end"]
    text = " ".join(w["text"] for e in events for w in e["committed"])
    assert wer(row["text"], text) <= 0.10


@pytest.mark.nomodels
def test_transcribe_rejects_a_missing_file_clearly(tmp_path):
    result = subprocess.run([sys.executable, "-m", "hive_agent", "transcribe", str(tmp_path / "nope.wav")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "not found" in result.stderr and "Traceback" not in result.stderr
