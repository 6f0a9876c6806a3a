"""The live stream's events, grouped into batches while the previous batch is applied."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterable

from httpx_sse import ServerSentEvent

#: bounds of one batch of live stream events (one transaction, one listener event)
STREAM_BATCH_EVENTS = 500
STREAM_BATCH_BYTES = 1_000_000
#: events received ahead of the writer before the stream reader waits
STREAM_QUEUE_EVENTS = 5_000

_Item = ServerSentEvent | Exception


async def batched(
    events: AsyncIterable[ServerSentEvent],
) -> AsyncGenerator[list[ServerSentEvent], None]:
    """Every event already received, up to a bound, as one batch.

    A reader task keeps receiving while a batch is applied, so under a burst the
    next batch holds everything that arrived meanwhile (one writer job, one
    transaction and one listener event per batch instead of per change); a lone
    event is handed on at once, with no added wait. An error of the stream is
    raised after the events received before it. Close the generator (e.g. with
    `contextlib.aclosing`) so that its reader task never outlives the stream.
    """
    queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=STREAM_QUEUE_EVENTS)

    async def read() -> None:
        try:
            async for sse in events:
                await queue.put(sse)
        except Exception as exc:  # handed to the consumer, which classifies it
            await queue.put(exc)

    reader = asyncio.create_task(read(), name="w2t-stream-reader")
    try:
        while True:
            batch, error = _take(await queue.get(), queue)
            if batch:  # apply what arrived before an error first
                yield batch
            if error is not None:
                raise error
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


def _take(
    first: _Item, queue: asyncio.Queue[_Item]
) -> tuple[list[ServerSentEvent], Exception | None]:
    """`first` and what is already queued behind it, up to the bounds or an error."""
    batch: list[ServerSentEvent] = []
    size = 0
    item = first
    while True:
        if isinstance(item, Exception):
            return batch, item
        batch.append(item)
        size += len(item.data)
        if (len(batch) >= STREAM_BATCH_EVENTS or size >= STREAM_BATCH_BYTES
                or queue.empty()):
            return batch, None
        item = queue.get_nowait()
