"""Bad input fails at the call with a TypeError/ValueError that names the argument."""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

import l0


async def words() -> AsyncIterator[str]:
    yield "hi"


class CountingFactory:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> AsyncIterator[str]:
        self.calls += 1
        return words()


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"initial_token": -1}, ValueError, "initial_token"),
        ({"initial_token": 0}, ValueError, "initial_token"),
        ({"inter_token": -0.5}, ValueError, "inter_token"),
        ({"inter_token": "5"}, TypeError, "inter_token"),
        ({"initial_token": True}, TypeError, "initial_token"),
    ],
)
def test_bad_timeouts(kwargs: dict[str, Any], error: type[Exception], name: str) -> None:
    with pytest.raises(error, match=name):
        l0.Timeout(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"attempts": 0}, ValueError, "attempts"),
        ({"attempts": -1}, ValueError, "attempts"),
        ({"max_attempts": 0}, ValueError, "attempts"),
        ({"attempts": 2, "max_attempts": 3}, ValueError, "max_attempts"),
        ({"attempts": "3"}, TypeError, "attempts"),
        ({"attempts": 2.0}, TypeError, "attempts"),
        ({"max_retries": -1}, ValueError, "max_retries"),
        ({"max_retries": True}, TypeError, "max_retries"),
        ({"base_delay": -0.1}, ValueError, "base_delay"),
        ({"max_delay": -1}, ValueError, "max_delay"),
        ({"base_delay": 2.0, "max_delay": 1.0}, ValueError, "max_delay"),
        ({"max_retry_after": -1}, ValueError, "max_retry_after"),
        ({"base_delay": "1"}, TypeError, "base_delay"),
        ({"strategy": "sometimes"}, ValueError, "strategy"),
    ],
)
def test_bad_retry(kwargs: dict[str, Any], error: type[Exception], name: str) -> None:
    with pytest.raises(error, match=name):
        l0.Retry(**kwargs)


def test_zero_delays_are_allowed() -> None:
    retry = l0.Retry(attempts=1, max_retries=0, base_delay=0.0, max_delay=0.0)
    assert (retry.base_delay, retry.max_delay) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("value", "error", "name"),
    [
        ({"guardrails": 0}, ValueError, "guardrails"),
        ({"drift": -1}, ValueError, "drift"),
        ({"checkpoint": 1.5}, TypeError, "checkpoint"),
        ({"checkpoint": True}, TypeError, "checkpoint"),
        ({"every": 3}, ValueError, "every"),
        (5, TypeError, "check_intervals"),
        ("guardrails=5", TypeError, "check_intervals"),
    ],
)
async def test_bad_check_intervals(value: Any, error: type[Exception], name: str) -> None:
    factory = CountingFactory()
    with pytest.raises(error, match=name):
        await l0.run(factory, check_intervals=value)
    assert factory.calls == 0


def test_check_intervals_class_validates() -> None:
    with pytest.raises(ValueError, match="checkpoint"):
        l0.CheckIntervals(checkpoint=0)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"stream": "not callable"}, TypeError, "stream"),
        ({"stream": None}, TypeError, "stream"),
        ({"fallbacks": [CountingFactory(), 42]}, TypeError, re.escape("fallbacks[1]")),
        ({"retry": 3}, TypeError, "retry"),
        ({"retry": {"attempts": 3}}, TypeError, "retry"),
        ({"timeout": 5}, TypeError, "timeout"),
        ({"adapter": "no-such-adapter"}, ValueError, "adapter"),
        ({"adapter": 42}, TypeError, "adapter"),
        ({"context": ["not", "a", "mapping"]}, TypeError, "context"),
        ({"meta": "x"}, TypeError, "meta"),
        ({"on_retry": "print"}, TypeError, "on_retry"),
        ({"on_event": 1}, TypeError, "on_event"),
        ({"build_continuation_prompt": "continue"}, TypeError, "build_continuation_prompt"),
        ({"guardrails": "strict"}, TypeError, "guardrails"),
        ({"guardrails": [object()]}, TypeError, re.escape("guardrails[0]")),
    ],
)
async def test_bad_run_arguments_fail_at_the_call(
    kwargs: dict[str, Any], error: type[Exception], name: str
) -> None:
    factory = CountingFactory()
    kwargs = {"stream": factory, **kwargs}
    with pytest.raises(error, match=name):
        await l0.run(**kwargs)
    assert factory.calls == 0, "nothing runs before the arguments are checked"


async def test_valid_arguments_do_not_start_the_stream() -> None:
    factory = CountingFactory()
    result = await l0.run(factory, check_intervals={"guardrails": 2}, adapter="text")
    assert factory.calls == 0, "the stream starts when the result is first iterated"
    assert await result.read() == "hi"
    assert factory.calls == 1


def test_wrap_checks_options_at_wrap_time() -> None:
    import openai

    client = openai.AsyncOpenAI(base_url="http://127.0.0.1:9/v1", api_key="k")
    with pytest.raises(TypeError, match="retry"):
        l0.wrap(client, retry="3")
    with pytest.raises(ValueError, match="adapter"):
        l0.wrap(client, adapter="nope")
    with pytest.raises(ValueError, match="initial_token"):
        l0.wrap(client, timeout=l0.Timeout(initial_token=-1))


def test_wrap_rejects_what_it_cannot_wrap() -> None:
    with pytest.raises(TypeError, match="wrap"):
        l0.wrap(42)
    with pytest.raises(TypeError, match="fallbacks"):
        l0.wrap(words(), fallbacks=[CountingFactory()])


def test_register_rejects_a_non_adapter() -> None:
    with pytest.raises(TypeError, match="detect"):
        l0.Adapters.register(object())  # type: ignore[arg-type]


def _one(prompt: str | None) -> object:
    return prompt


def _keyword_only(prompt: str | None, *, extra: int = 1) -> object:
    return prompt


def _two(prompt: str | None, other: object = None) -> object:
    return prompt


def _star(*args: object) -> object:
    return args


class _Factory:
    def __call__(self, prompt: str | None) -> object:
        return prompt


@pytest.mark.parametrize(
    "factory", [lambda: 0, lambda p: p, _one, _keyword_only, _two, _star, _Factory(), print]
)
def test_a_factory_takes_the_continuation_prompt_when_it_has_one_positional_parameter(
    factory: object,
) -> None:
    from l0.runtime.options import accepts_continuation

    try:
        params = inspect.signature(factory).parameters.values()  # type: ignore[arg-type]
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        expected = len([p for p in params if p.kind in kinds]) == 1
    except (TypeError, ValueError):
        expected = False
    assert accepts_continuation(factory) is expected  # type: ignore[arg-type]
