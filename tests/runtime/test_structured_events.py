"""`l0.structured()` reports its parse, validation and auto-correction as STRUCTURED_*
events of the session, through the real openai client against the fault server."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

import l0
from l0 import ObservabilityEventType as T
from l0.testing import FaultServer, Reply

from .conftest import Recorder, fast_retry, opener


class User(BaseModel):
    name: str
    age: int


def _structured(rec: Recorder) -> list[tuple[T, dict[str, Any]]]:
    return [(e.type, e.data) for e in rec.lifecycle if e.type.value.startswith("STRUCTURED_")]


async def test_each_step_is_an_event_of_its_attempt(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(
        Reply(text='{"name": "Ada"}'),  # parses; fails validation, also after auto-correct
        Reply(text='{"name": "Ada", "age": 36,'),  # does not parse; auto-correct repairs it
    )
    rec = Recorder()
    user = await l0.structured(User, opener(client), retry=fast_retry(), on_event=rec)
    assert user == User(name="Ada", age=36)

    steps = _structured(rec)
    assert [kind for kind, _ in steps] == [
        # attempt 1
        T.STRUCTURED_PARSE_START,
        T.STRUCTURED_PARSE_END,
        T.STRUCTURED_VALIDATION_START,
        T.STRUCTURED_VALIDATION_ERROR,
        T.STRUCTURED_VALIDATION_END,
        T.STRUCTURED_AUTO_CORRECT_START,
        T.STRUCTURED_PARSE_START,
        T.STRUCTURED_PARSE_END,
        T.STRUCTURED_VALIDATION_START,
        T.STRUCTURED_VALIDATION_ERROR,
        T.STRUCTURED_VALIDATION_END,
        T.STRUCTURED_AUTO_CORRECT_END,
        # attempt 2
        T.STRUCTURED_PARSE_START,
        T.STRUCTURED_PARSE_ERROR,
        T.STRUCTURED_PARSE_END,
        T.STRUCTURED_AUTO_CORRECT_START,
        T.STRUCTURED_PARSE_START,
        T.STRUCTURED_PARSE_END,
        T.STRUCTURED_VALIDATION_START,
        T.STRUCTURED_VALIDATION_END,
        T.STRUCTURED_AUTO_CORRECT_END,
    ]
    data = [d for _, d in steps]
    assert data[0] == {"content_length": len('{"name": "Ada"}')}
    assert data[2] == {"schema_name": "User"}
    assert data[3]["errors"] == ["age: Field required"] and data[3]["error_count"] == 1
    assert data[4]["valid"] is False
    assert (data[11]["success"], data[11]["corrections_made"]) == (False, 0)
    assert data[13]["error"].startswith("JSONDecodeError")
    assert data[14]["success"] is False
    assert data[19]["valid"] is True
    assert data[20]["success"] is True and data[20]["corrections_made"] >= 2  # "," and "}"
    assert all(d["duration_ms"] >= 0 for d in data if "duration_ms" in d)

    # Each attempt's steps sit inside that attempt, within the session.
    types = rec.types()
    assert types[0] is T.SESSION_START and types[-1] is T.SESSION_END
    first_end = types.index(T.ATTEMPT_END)
    assert types.index(T.STRUCTURED_AUTO_CORRECT_END) < first_end
    assert types.index(T.STRUCTURED_PARSE_ERROR) > types.index(T.ATTEMPT_START, first_end)


async def test_the_successful_attempt_is_parsed_once(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text='{"name": "Ada", "age": 36}'))
    rec = Recorder()
    user = await l0.structured(User, opener(client), on_event=rec)
    assert user == User(name="Ada", age=36)
    # The completion check's parse is the value returned: no second parse at the end.
    assert len(rec.of(T.STRUCTURED_PARSE_START)) == 1
    assert rec.types()[-1] is T.SESSION_END
