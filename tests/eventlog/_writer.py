"""A writer process for the crash test: one whole session, then one that never ends.

Prints `ready N` once N tokens of the endless session have passed the consumer (so every
full batch before them is committed), then waits to be killed.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import l0

BATCH = 16


async def words(count: int | None) -> AsyncIterator[str]:
    i = 0
    while count is None or i < count:
        yield f"w{i} "
        i += 1
        await asyncio.sleep(0)


async def main(path: str) -> None:
    store = l0.create_sqlite_event_store(path)
    first = await l0.run(lambda: words(50), record=l0.Recording(store, stream_id="complete"))
    await first.read()
    endless = await l0.run(
        lambda: words(None), record=l0.Recording(store, stream_id="killed", batch_size=BATCH)
    )
    seen = 0
    async for event in endless:
        seen += event.is_token
        if seen == 5 * BATCH:
            print(f"ready {seen}", flush=True)
            await asyncio.Event().wait()  # until SIGKILL


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
