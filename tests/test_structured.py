"""`l0.structured()`: schema-validated output, retried when it does not validate."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from pydantic import BaseModel

import l0
from l0.testing import FaultServer, Reply


class User(BaseModel):
    name: str
    age: int


def _factory(client: openai.AsyncOpenAI) -> Any:
    return lambda: client.chat.completions.create(model="m", messages=[], stream=True)


@pytest.fixture
async def client(fault_server: FaultServer) -> Any:
    client = openai.AsyncOpenAI(base_url=fault_server.url, api_key="k", max_retries=0)
    yield client
    await client.close()


async def test_valid_json_in_a_fence_is_parsed(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text='Here:\n```json\n{"name": "Ada", "age": 36}\n```'))
    user = await l0.structured(User, _factory(client))
    assert user == User(name="Ada", age=36)


async def test_output_failing_the_schema_is_retried(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text='{"name": "Ada"}'), Reply(text='{"name": "Ada", "age": 36}'))
    retries: list[str] = []
    user = await l0.structured(
        User,
        _factory(client),
        retry=l0.Retry(base_delay=0.0, max_delay=0.0),
        on_retry=lambda attempt, reason: retries.append(reason),
    )
    assert user.age == 36
    assert retries == ["guardrail_violation"]
    assert len(fault_server.requests) == 2


async def test_exhausted_schema_failures_raise_a_content_error(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(*[Reply(text="not json at all")] * 2)
    with pytest.raises(l0.L0Error) as caught:
        await l0.structured(
            User, _factory(client), retry=l0.Retry(attempts=2, base_delay=0.0, max_delay=0.0)
        )
    assert caught.value.code is l0.ErrorCode.ALL_STREAMS_EXHAUSTED
    assert caught.value.category is l0.ErrorCategory.CONTENT
    assert [e.code for e in caught.value.errors] == [l0.ErrorCode.GUARDRAIL_VIOLATION] * 2


async def test_truncated_json_is_auto_corrected(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text='{"name": "Ada", "age": 36,'))
    assert (await l0.structured(User, _factory(client))).name == "Ada"


async def test_continuation_is_refused() -> None:
    with pytest.raises(ValueError, match="continue_from_last_good_token"):
        await l0.structured(User, lambda: None, continue_from_last_good_token=True)


async def test_schema_must_be_a_model() -> None:
    with pytest.raises(TypeError, match="schema"):
        await l0.structured(dict, lambda: None)  # type: ignore[type-var]


async def test_prose_around_the_json_is_left_out(fault_server: FaultServer, client: Any) -> None:
    # The shared extractor (l0.extract_json_from_output) ends at the balancing brace.
    fault_server.enqueue(Reply(text='Sure! {"name": "Ada", "age": 36} Hope that helps {x}'))
    user = await l0.structured(User, _factory(client), auto_correct=False)
    assert user == User(name="Ada", age=36)
    assert len(fault_server.requests) == 1
