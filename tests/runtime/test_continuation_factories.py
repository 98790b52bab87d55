"""Which factories receive the continuation prompt, and `state.checkpoint` without
continuation, through the real openai client against the fault server."""

from __future__ import annotations

import functools
from typing import Any

import pytest

import l0
from l0.guardrails import custom_pattern_rule
from l0.runtime.continuation import prompt_parameter
from l0.testing import FaultServer, Reply

from .conftest import MESSAGES, Recorder, drain, fast_retry

WORDS = "one two three four five six"


def _prompt(checkpoint: str) -> str:
    return f"CONTINUE AFTER: {checkpoint}"


def _messages_sent(server: FaultServer) -> list[list[Any]]:
    return [request.body["messages"] for request in server.requests]


async def test_a_loop_of_default_argument_lambdas_is_called_without_arguments(
    fault_server: FaultServer, client: Any
) -> None:
    """The usual way to build fallbacks in a loop: each lambda binds its model by default."""
    fault_server.enqueue(Reply(text=WORDS, reset_after=5), Reply(status=401), model="m")
    fault_server.enqueue(Reply(text=" five six"), model="m-fb")
    factories = [
        lambda m=m: client.chat.completions.create(model=m, messages=MESSAGES, stream=True)
        for m in ("m", "m-fb")
    ]
    result = await l0.run(
        factories[0],
        fallbacks=factories[1:],
        retry=fast_retry(),
        continue_from_last_good_token=True,
        build_continuation_prompt=_prompt,
        check_intervals={"checkpoint": 2},
    )
    await drain(result)
    assert [r.model for r in fault_server.requests] == ["m", "m", "m-fb"]  # never None
    assert result.state.resumed and result.state.content == WORDS
    assert all(messages == MESSAGES for messages in _messages_sent(fault_server))


async def test_a_keyword_only_continuation_parameter_receives_the_prompt(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text=WORDS, reset_after=5), Reply(text=" five six"))
    received: list[str | None] = []

    def factory(*, continuation: str | None) -> Any:
        received.append(continuation)
        extra = [] if continuation is None else [{"role": "user", "content": continuation}]
        return client.chat.completions.create(model="m", messages=[*MESSAGES, *extra], stream=True)

    rec = Recorder()
    result = await l0.run(
        factory,
        retry=fast_retry(),
        continue_from_last_good_token=True,
        build_continuation_prompt=_prompt,
        check_intervals={"checkpoint": 2},
        on_event=rec,
    )
    await drain(result)
    assert received == [None, "CONTINUE AFTER: one two three four"]
    assert _messages_sent(fault_server)[1][-1]["content"] == received[1]
    (continuation,) = rec.of(l0.ObservabilityEventType.CONTINUATION_START)
    assert continuation.prompt_passed is True
    assert result.state.content == WORDS


async def test_a_factory_with_one_required_parameter_gets_the_prompt_positionally(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.enqueue(Reply(text=WORDS, reset_after=5), Reply(text=" five six"))
    received: list[str | None] = []

    def factory(checkpoint: str | None, model: str = "m") -> Any:
        received.append(checkpoint)
        return client.chat.completions.create(model=model, messages=MESSAGES, stream=True)

    result = await l0.run(
        factory,
        retry=fast_retry(),
        continue_from_last_good_token=True,
        build_continuation_prompt=_prompt,
        check_intervals={"checkpoint": 2},
    )
    await drain(result)
    assert received == [None, "CONTINUE AFTER: one two three four"]


def _none() -> None:
    return None


def _defaults(model: str = "m", temperature: float = 0.0) -> None:
    return None


def _keyword(*, continuation: str | None) -> None:
    return None


def _named(continuation: str | None = None) -> None:
    return None


def _required(prompt: str | None) -> None:
    return None


def _two_required(a: str, b: str) -> None:
    return None


def _positional_only_named(continuation: str | None, /) -> None:
    return None


class _Callable:
    def __call__(self, *, continuation: str | None = None) -> None:
        return None


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (_none, None),
        (lambda: None, None),
        (_defaults, None),
        (functools.partial(_two_required, "a", "b"), None),
        (_two_required, None),
        (print, None),
        (_keyword, "continuation"),
        (_named, "continuation"),
        (_Callable(), "continuation"),
        (_required, 0),
        (_positional_only_named, 0),  # cannot take it by keyword: its only required slot
        (functools.partial(_two_required, "a"), 0),
    ],
)
def test_prompt_parameter(factory: Any, expected: str | int | None) -> None:
    assert prompt_parameter(factory) == expected


async def test_state_checkpoint_without_continuation_is_found_on_read(
    fault_server: FaultServer, client: Any
) -> None:
    """No checks, no continuation, no listener: no mark per token, yet a checkpoint."""
    fault_server.enqueue(Reply(text=WORDS))
    result = await l0.run(
        lambda: client.chat.completions.create(model="m", messages=MESSAGES, stream=True),
        check_intervals={"checkpoint": 4},
    )
    await drain(result)
    assert (result.state.checkpoint, result.state.checkpoint_token_count) == (
        "one two three four",
        4,
    )


async def test_state_checkpoint_without_continuation_follows_the_checks(
    fault_server: FaultServer, client: Any
) -> None:
    """With checks, the checkpoint moves where they passed; a failure keeps the last one."""
    fault_server.default = Reply(text=WORDS, reset_after=5)
    result = await l0.run(
        lambda: client.chat.completions.create(model="m", messages=MESSAGES, stream=True),
        retry=fast_retry(max_retries=1),
        guardrails=[custom_pattern_rule(["forbidden"])],
        check_intervals={"checkpoint": 2, "guardrails": 2},
    )
    events = await drain(result)
    error = events[-1].error
    assert isinstance(error, l0.L0Error)
    assert result.state.checkpoint == error.checkpoint == "one two three four"
    assert error.checkpoint_length == len("one two three four")


async def test_state_checkpoint_without_continuation_is_set_at_failure(
    fault_server: FaultServer, client: Any
) -> None:
    fault_server.default = Reply(text=WORDS, reset_after=5)
    result = await l0.run(
        lambda: client.chat.completions.create(model="m", messages=MESSAGES, stream=True),
        retry=fast_retry(max_retries=1),
        check_intervals={"checkpoint": 2},
    )
    events = await drain(result)
    error = events[-1].error
    assert isinstance(error, l0.L0Error)
    # The retry started over (RESET to 0), and its own checkpoint is what the error keeps.
    assert error.checkpoint == result.state.checkpoint == "one two three four"
