"""Gather concurrent translation requests from several speakers into one batched model call."""

from __future__ import annotations

import asyncio
from typing import Protocol


class BatchTranslator(Protocol):
    def translate_batch(self, texts: list[str]) -> list[str]: ...


class BatchingTranslator:
    """Async front for any `translate_batch(list[str]) -> list[str]` backend.

    Requests that arrive while a model call is in flight, or within `gather_window_s` of the
    first one, go to the backend together (at most `max_batch_size` per call), in a worker
    thread so the event loop never blocks. Use it from one event loop.
    """

    def __init__(self, backend: BatchTranslator, max_batch_size: int = 16, gather_window_s: float = 0.003):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        self.backend = backend
        self.max_batch_size = max_batch_size
        self.gather_window_s = gather_window_s
        self.batches_sent = 0
        self._pending: list[tuple[str, asyncio.Future[str]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def translate(self, text: str) -> str:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending.append((text, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name="mt-batching")
        # Cancelling the caller cancels `future`; the worker then skips it.
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[str, asyncio.Future[str]]] = []
        try:
            while self._pending:
                if len(self._pending) < self.max_batch_size:
                    await asyncio.sleep(self.gather_window_s)
                batch = [item for item in self._pending[: self.max_batch_size] if not item[1].done()]
                del self._pending[: self.max_batch_size]
                if batch:
                    await self._run(batch)
                batch = []
        except BaseException:
            # The worker itself was cancelled (e.g. at shutdown): no caller may wait forever.
            for _, future in batch + self._pending:
                future.cancel()
            self._pending.clear()
            raise

    async def _run(self, batch: list[tuple[str, asyncio.Future[str]]]) -> None:
        texts = [text for text, _ in batch]
        self.batches_sent += 1
        try:
            results = await asyncio.to_thread(self.backend.translate_batch, texts)
            if len(results) != len(texts):
                raise RuntimeError(f"translate_batch returned {len(results)} results for {len(texts)} texts")
        except asyncio.CancelledError:
            raise
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results):
            if not future.done():
                future.set_result(result)
