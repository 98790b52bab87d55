"""Where l0 deliberately differs from the canonical lifecycle (docs/events.md's table):
each difference, as it shows through the real openai client against the fault server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import l0
from l0 import ErrorCategory
from l0 import ObservabilityEventType as T
from l0.testing import FaultServer, Reply

from .conftest import Recorder, drain, fast_retry, opener, short_timeout

DOCS = Path(__file__).parents[2] / "docs" / "events.md"


async def test_the_documented_differences_hold(fault_server: FaultServer, client: Any) -> None:
    # Primary: a stall (initial timeout, retried), then a 401 (fallback); fallback: success.
    fault_server.enqueue(Reply(text="hi", stall_before_first=30), Reply(status=401), model="m")
    fault_server.enqueue(Reply(text="Hello there"), model="m-fb")
    rec = Recorder()
    result = await l0.run(
        opener(client, "m"),
        fallbacks=[opener(client, "m-fb")],
        retry=fast_retry(),
        timeout=short_timeout(),
        on_event=rec,
    )
    await drain(result)

    starts = rec.of(T.ATTEMPT_START)
    # One ATTEMPT_START per attempt: the first, the retry and the fallback's.
    assert [(e.attempt, e.is_retry, e.is_fallback, e.fallback_index) for e in starts] == [
        (1, False, False, 0),
        (2, True, False, 0),
        (3, False, True, 1),
    ]
    # Attempt numbers run across the session; one stream id per attempt.
    assert [e.stream_id for e in starts] == [f"{result.session_id}:{n}" for n in (1, 2, 3)]
    assert {e.session_id for e in rec.lifecycle} == {result.session_id}
    # The initial-token timeout is a NETWORK error, retried without spending `attempts`.
    (timeout_error,) = [e for e in rec.of(T.ERROR) if e.attempt == 1]
    assert timeout_error.category == ErrorCategory.NETWORK.value and timeout_error.will_retry
    (retry,) = rec.of(T.RETRY_ATTEMPT)
    assert (retry.reason, retry.counts_toward_limit) == ("initial_token_timeout", False)
    # STREAM_INIT knows a factory's model only from its previous attempt.
    assert [e.model for e in rec.of(T.STREAM_INIT)] == [None, "m", None]
    (fallback,) = rec.of(T.FALLBACK_START)
    assert fallback.to_model is None
    assert rec.of(T.FALLBACK_MODEL_SELECTED)[0].model == "m-fb"


def test_docs_list_each_difference_with_its_reason() -> None:
    text = DOCS.read_text()
    section = text.split("## Where l0 differs from the canonical lifecycle", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| ")][2:]
    for topic in ("ATTEMPT_START", "attempt numbers", "stream_id", "timeout", "STREAM_INIT"):
        assert any(topic in row for row in rows), topic
    for row in rows:  # canonical | l0 | why: every row gives its reason
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        assert len(cells) == 3 and all(cells), row
