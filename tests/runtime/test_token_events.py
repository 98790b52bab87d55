"""Token events belong to the consumer: each token has its own event, and one held in any
way a consumer might hold it never changes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import l0
from l0.types import TokenEvent

WORDS = [f"w{i} " for i in range(200)]


async def _words() -> AsyncIterator[str]:
    for word in WORDS:
        yield word


async def test_token_events_a_consumer_keeps_are_never_reused() -> None:
    kept = [event async for event in await l0.run(_words) if event.is_token]
    assert [event.text for event in kept] == WORDS
    assert len({id(event) for event in kept}) == len(WORDS)


async def test_an_event_held_across_later_steps_keeps_its_text() -> None:
    held: dict[int, l0.Event] = {}
    index = 0
    async for event in await l0.run(_words):
        if not event.is_token:
            continue
        if index % 7 == 0:
            held[index] = event  # held for the rest of the stream
        last = held.get(index - 1)
        if last is not None:
            assert last.text == WORDS[index - 1]
        index += 1
    assert {i: e.text for i, e in held.items()} == {i: WORDS[i] for i in held}


async def test_an_event_held_for_one_step_keeps_its_text() -> None:
    previous: l0.Event | None = None
    texts = []
    async for event in await l0.run(_words):
        if event.is_token:
            if previous is not None:
                texts.append(previous.text)  # read after the next event arrived
            previous = event
    assert texts == WORDS[:-1]


def test_token_events_compare_by_type_and_text() -> None:
    token = TokenEvent("a")
    assert token == TokenEvent("a") == l0.Event(l0.EventType.TOKEN, "a")
    assert token != TokenEvent("b")
    assert token != l0.Event(l0.EventType.COMPLETE)
    assert (token.data, token.usage, token.error, token.keep) == (None, None, None, 0)
