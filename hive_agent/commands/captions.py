"""Live captions on a terminal: committed words plain, the interim tail dimmed and in brackets."""

from __future__ import annotations

import sys
from typing import TextIO

from ..events import WordsEvent

DIM, RESET = "\x1b[2m", "\x1b[0m"


class CaptionPrinter:
    def __init__(self, out: TextIO = sys.stdout, label: str = ""):
        self.out = out
        self.label = label
        self.tty = out.isatty()
        self._line: list[str] = []

    def show(self, event: WordsEvent) -> None:
        self._line.extend(w.text for w in event.committed)
        committed = " ".join(self._line)
        interim = " ".join(w.text for w in event.interim)
        prefix = f"{self.label}[{event.lang}] " if self.label or event.lang else ""
        if self.tty:
            tail = f" {DIM}{interim}{RESET}" if interim else ""
            self.out.write(f"\r\x1b[K{prefix}{committed}{tail}")
            if event.end_of_utterance:
                self.out.write("\n")
        elif event.committed or event.end_of_utterance:
            tail = f" [{interim}]" if interim else ""
            self.out.write(f"{event.wall:7.2f}s {prefix}{committed}{tail}\n")
        self.out.flush()
        if event.end_of_utterance:
            self._line = []
