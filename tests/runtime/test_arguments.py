"""Bad input fails at the call with a TypeError/ValueError that names the argument and
says what it accepts (docs/errors.md, "Bad input"), for every public option."""

from __future__ import annotations

import dataclasses
import inspect
import re
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import l0
from l0.guardrails import (
    custom_pattern_rule,
    drift_rule,
    json_rule,
    latex_rule,
    markdown_rule,
    pattern_rule,
    repetition_rule,
    stall_rule,
    strict_json_rule,
    zero_output_rule,
)
from l0.testing import FaultServer, Reply

from .conftest import make_client, opener


async def words() -> AsyncIterator[str]:
    yield "hi"


class CountingFactory:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> AsyncIterator[str]:
        self.calls += 1
        return words()


# Every public option with its bad values: (value, error, what the message names). The
# walkers below fail when a parameter has no entry, so a new option cannot be forgotten.
NAN, INF = float("nan"), float("inf")
Bad = list[tuple[Any, type[Exception], str]]


def _typed(name: str, *values: Any) -> Bad:
    return [(v, TypeError, name) for v in values]


def _valued(name: str, *values: Any) -> Bad:
    return [(v, ValueError, name) for v in values]


def _seconds(name: str, *, zero_ok: bool) -> Bad:
    return _typed(name, "5", True, [1.0]) + _valued(
        name, NAN, INF, -INF, -0.5, *(() if zero_ok else (0,))
    )


def _count(name: str, minimum: int) -> Bad:
    return _typed(name, "3", 2.0, True, None) + _valued(name, minimum - 1, -5)


def _flag(name: str) -> Bad:
    return _typed(name, "yes", 1, None)


def _lock() -> Any:
    return threading.Lock()


CALLBACKS = [name for name in inspect.signature(l0.run).parameters if name.startswith("on_")]


RUN_BAD: dict[str, Bad] = {
    "stream": _typed("stream", "not callable", None, words()),
    "fallbacks": [
        *_typed("fallbacks", 7, 0, False, "", "abc", words, CountingFactory(), {"a": words}),
        ([CountingFactory(), 42], TypeError, re.escape("fallbacks[1]")),
    ],
    "retry": _typed("retry", 3, 0, False, {"attempts": 3}, l0.Timeout()),
    "timeout": _typed("timeout", 5, 0, {"initial_token": 1.0}, l0.Retry()),
    "adapter": _typed("adapter", 42, object()) + _valued("adapter", "no-such-adapter", ""),
    "guardrails": [
        *_typed("guardrails", "strict", "", 0, l0.Guardrails.recommended, json_rule()),
        ([object()], TypeError, re.escape("guardrails[0]")),
    ],
    "drift": _typed("drift", "yes", 5, 1, 0, {"hedging": False}, 1.0),
    "continue_from_last_good_token": _flag("continue_from_last_good_token"),
    "build_continuation_prompt": _typed("build_continuation_prompt", "continue", 1),
    "deduplicate_continuation": _flag("deduplicate_continuation"),
    "check_intervals": [
        *_typed("check_intervals", 5, "guardrails=5", [10]),
        ({"guardrails": 0}, ValueError, "guardrails"),
        ({"drift": -1}, ValueError, "drift"),
        ({"checkpoint": 1.5}, TypeError, "checkpoint"),
        ({"checkpoint": True}, TypeError, "checkpoint"),
        ({"guardrails": NAN}, TypeError, "guardrails"),
        ({"every": 3}, ValueError, "every"),
    ],
    "context": [
        *_typed("context", ["not", "a", "mapping"], "x", "", 0, {1: "x"}),
        ({"lock": _lock()}, TypeError, re.escape("context['lock']")),
    ],
    "meta": [
        *_typed("meta", ("a", "b"), 7, {None: 1}),
        ({"user": {"handle": _lock()}}, TypeError, re.escape("meta['user']")),
    ],
    "callback_grace": _seconds("callback_grace", zero_ok=True) + _typed("callback_grace", None),
    "hedge": _typed("hedge", 5, "fast", True, {"after": 1.0}),
    "record": _typed("record", "events.db", 5, True, object()),
    **{name: _typed(name, "print", 1) for name in CALLBACKS},
}

RETRY_BAD: dict[str, Bad] = {
    "attempts": _typed("attempts", "3", 2.0, True) + _valued("attempts", 0, -1),  # None: 3
    "max_attempts": _typed("max_attempts", "3", 2.0, True) + _valued("max_attempts", 0, -1),
    "max_retries": _count("max_retries", 0),
    "base_delay": _seconds("base_delay", zero_ok=True),
    "max_delay": _seconds("max_delay", zero_ok=True) + _valued("max_delay", 0.5),  # < base
    "max_retry_after": _seconds("max_retry_after", zero_ok=True),
    "strategy": _typed("strategy", 5, None, 1.0) + _valued("strategy", "sometimes", ""),
}

TIMEOUT_BAD: dict[str, Bad] = {
    "initial_token": _seconds("initial_token", zero_ok=False),
    "inter_token": _seconds("inter_token", zero_ok=False),
}

INTERVALS_BAD: dict[str, Bad] = {
    name: _count(name, 1) + _typed(name, NAN) for name in ("guardrails", "drift", "checkpoint")
}

# DriftConfig's fields by their type; a field of any other type has no entry and fails.
DRIFT_BAD_BY_TYPE: dict[str, Callable[[str], Bad]] = {
    "bool": _flag,
    "int": lambda name: _typed(name, "10", 1.5, True, None) + _valued(name, 0, -1),
    "float": lambda name: _typed(name, "0.5", True, None) + _valued(name, NAN, INF, 0, -0.5),
}

_RULE_COMMON: dict[str, Bad] = {
    "severity": _typed("severity", 5, None) + _valued("severity", "critical", ""),
    "recoverable": _flag("recoverable"),
    "name": _typed("name", 5, None) + _valued("name", "", "  "),
}
_PATTERNS = _typed("patterns", "as an ai", re.compile("x"), 5, [5], [None]) + _valued(
    "patterns", [], [""], ["("]
)

# Each rule factory (the Guardrails accessors call them), with its required arguments.
RULE_FACTORIES: dict[str, tuple[Callable[..., Any], dict[str, Bad]]] = {
    "json": (json_rule, _RULE_COMMON),
    "strict_json": (strict_json_rule, _RULE_COMMON),
    "markdown": (markdown_rule, _RULE_COMMON),
    "latex": (latex_rule, _RULE_COMMON),
    "zero_output": (zero_output_rule, _RULE_COMMON),
    "stall": (
        stall_rule,
        {
            **_RULE_COMMON,
            "max_gap": _seconds("max_gap", zero_ok=False),
            "clock": _typed("clock", 5, None),
        },
    ),
    "repetition": (
        repetition_rule,
        {
            **_RULE_COMMON,
            "window": _count("window", 1),
            "threshold": _count("threshold", 2),
            "min_words": _count("min_words", 1),
        },
    ),
    "pattern": (
        pattern_rule,
        {
            **_RULE_COMMON,
            "patterns": _PATTERNS,
            "window": _typed("window", "64") + _valued("window", 0),
        },
    ),
    "drift": (drift_rule, {"config": _typed("config", {"hedging": False}, True, 5)}),
}
CUSTOM_RULE_BAD: dict[str, Bad] = {
    **_RULE_COMMON,
    "patterns": _PATTERNS,
    "message": _typed("message", 5, None) + _valued("message", ""),
    "window": _count("window", 1),
    "flags": _typed("flags", "i", None, 1.5) + _valued("flags", -1),
}
GUARDRAIL_RULE_BAD: dict[str, Bad] = {
    **_RULE_COMMON,
    "check": _typed("check", None, "x"),
    "streaming": _flag("streaming"),
    "description": _typed("description", 5, None),
    "incremental": _typed("incremental", "x", 5),
}


def _cases(table: dict[str, Bad]) -> list[Any]:
    return [
        pytest.param(name, value, error, match, id=f"{name}={value!r}"[:60])
        for name, bad in table.items()
        for value, error, match in bad
    ]


def _parameters(function: Callable[..., Any]) -> set[str]:
    return {
        name
        for name, p in inspect.signature(function).parameters.items()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def _raises(error: type[Exception], match: str, call: Callable[[], object]) -> None:
    """The call fails with `error`, naming the argument (`match`) and what it takes."""
    with pytest.raises(error, match=match) as info:
        call()
    assert re.search(r"must|known", str(info.value)), f"says what it accepts: {info.value}"


@pytest.mark.parametrize(
    ("function", "table"),
    [
        (l0.run, RUN_BAD),
        (l0.Retry, RETRY_BAD),
        (l0.Timeout, TIMEOUT_BAD),
        (l0.CheckIntervals, INTERVALS_BAD),
        (custom_pattern_rule, CUSTOM_RULE_BAD),
        (l0.GuardrailRule, GUARDRAIL_RULE_BAD),
        *RULE_FACTORIES.values(),
    ],
    ids=lambda f: getattr(f, "__name__", ""),
)
def test_every_parameter_has_bad_values(
    function: Callable[..., Any], table: dict[str, Bad]
) -> None:
    assert _parameters(function) == set(table)


def test_every_guardrails_accessor_is_walked() -> None:
    """Presets take nothing; each accessor passes its arguments to one rule factory."""
    accessors = {
        name
        for name, member in vars(l0.Guardrails).items()
        if isinstance(member, staticmethod)
        and inspect.signature(getattr(l0.Guardrails, name)).parameters
    }
    assert accessors == set(RULE_FACTORIES)


@pytest.mark.parametrize(("name", "value", "error", "match"), _cases(RUN_BAD))
async def test_run_rejects_bad_input_at_the_call(
    name: str, value: Any, error: type[Exception], match: str
) -> None:
    factory = CountingFactory()
    arguments = {"stream": factory, name: value}
    with pytest.raises(error, match=match) as info:
        await l0.run(**arguments)
    assert re.search(r"must|known", str(info.value)), f"says what it accepts: {info.value}"
    assert factory.calls == 0, "nothing runs before the arguments are checked"


WRAP_BAD = {name: bad for name, bad in RUN_BAD.items() if name != "stream"}
WRAP_BAD["fallback_models"] = [
    *_typed("fallback_models", "gpt-4o-mini", 5, {"m": 1}),
    (["m", ""], ValueError, re.escape("fallback_models[1]")),
    (["m", 5], TypeError, re.escape("fallback_models[1]")),
]


@pytest.mark.parametrize(("name", "value", "error", "match"), _cases(WRAP_BAD))
async def test_wrap_rejects_bad_options_when_wrapping(
    fault_server: FaultServer, name: str, value: Any, error: type[Exception], match: str
) -> None:
    async with make_client(fault_server) as client:
        _raises(error, match, lambda: l0.wrap(client, **{name: value}))
    assert not fault_server.requests, "no request is sent for bad options"


@pytest.mark.parametrize(("name", "value", "error", "match"), _cases(RUN_BAD))
def test_wrap_of_a_stream_rejects_bad_options(
    name: str, value: Any, error: type[Exception], match: str
) -> None:
    if name == "stream":
        match = "first argument"  # wrap's stream is its first argument
    elif name in ("fallbacks", "hedge"):
        match = name  # a single stream cannot be re-issued
    _raises(error, match, lambda: l0.wrap(words(), **{name: value}))


def test_wrap_options_are_run_options() -> None:
    """l0.wrap takes l0.run's options (and fallback_models for a client): walking
    RUN_BAD through wrap covers every one of them."""
    assert set(WRAP_BAD) == (_parameters(l0.run) - {"stream"}) | {"fallback_models"}


async def test_a_wrapped_client_tries_fallbacks_after_its_fallback_models(
    fault_server: FaultServer,
) -> None:
    fault_server.enqueue(Reply(status=401), model="m")
    fault_server.enqueue(Reply(status=401), model="m2")
    fault_server.enqueue(Reply(text="from m3"), model="m3")
    async with make_client(fault_server) as raw:
        client = l0.wrap(raw, fallback_models=["m2"], fallbacks=[opener(raw, "m3")])
        response = await client.chat.completions.create(model="m", messages=[], stream=True)
        assert await response.read() == "from m3"
    assert [r.model for r in fault_server.requests] == ["m", "m2", "m3"]


@pytest.mark.parametrize(("name", "value", "error", "match"), _cases(RETRY_BAD))
def test_retry_rejects_bad_input(name: str, value: Any, error: type[Exception], match: str) -> None:
    _raises(error, match, lambda: l0.Retry(**{name: value}))


@pytest.mark.parametrize(("name", "value", "error", "match"), _cases(TIMEOUT_BAD))
def test_timeout_rejects_bad_input(
    name: str, value: Any, error: type[Exception], match: str
) -> None:
    _raises(error, match, lambda: l0.Timeout(**{name: value}))


@pytest.mark.parametrize(("name", "value", "error", "match"), _cases(INTERVALS_BAD))
def test_check_intervals_reject_bad_input(
    name: str, value: Any, error: type[Exception], match: str
) -> None:
    _raises(error, match, lambda: l0.CheckIntervals(**{name: value}))


def _drift_cases() -> list[Any]:
    return [
        pytest.param(f.name, value, error, match, id=f"{f.name}={value!r}")
        for f in dataclasses.fields(l0.DriftConfig)
        for value, error, match in DRIFT_BAD_BY_TYPE[str(f.type)](f.name)
    ]


@pytest.mark.parametrize(("name", "value", "error", "match"), _drift_cases())
async def test_drift_config_rejects_bad_input(
    name: str, value: Any, error: type[Exception], match: str
) -> None:
    _raises(error, match, lambda: l0.DriftConfig(**{name: value}))


def test_drift_config_window_must_hold_its_blocks() -> None:
    _raises(ValueError, "window", lambda: l0.DriftConfig(window=100, blocks=10))


def _rule_cases() -> list[Any]:
    return [
        pytest.param(accessor, name, value, error, match, id=f"{accessor}:{name}={value!r}"[:70])
        for accessor, (_, bad) in RULE_FACTORIES.items()
        for name, cases in bad.items()
        for value, error, match in cases
    ]


@pytest.mark.parametrize(("accessor", "name", "value", "error", "match"), _rule_cases())
def test_guardrails_reject_bad_input(
    accessor: str, name: str, value: Any, error: type[Exception], match: str
) -> None:
    make = getattr(l0.Guardrails, accessor)
    _raises(error, match, lambda: make(**{name: value}))


@pytest.mark.parametrize(("name", "value", "error", "match"), _cases(CUSTOM_RULE_BAD))
def test_custom_pattern_rule_rejects_bad_input(
    name: str, value: Any, error: type[Exception], match: str
) -> None:
    arguments = {"patterns": ["secret"], name: value}
    _raises(error, match, lambda: custom_pattern_rule(**arguments))


@pytest.mark.parametrize(("name", "value", "error", "match"), _cases(GUARDRAIL_RULE_BAD))
def test_guardrail_rule_rejects_bad_input(
    name: str, value: Any, error: type[Exception], match: str
) -> None:
    arguments = {"name": "mine", "check": lambda ctx: [], name: value}
    _raises(error, match, lambda: l0.GuardrailRule(**arguments))


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"attempts": 2, "max_attempts": 3}, ValueError, "max_attempts"),
        ({"base_delay": 2.0, "max_delay": 1.0}, ValueError, "max_delay"),
    ],
)
def test_retry_rejects_contradictions(
    kwargs: dict[str, Any], error: type[Exception], name: str
) -> None:
    with pytest.raises(error, match=name):
        l0.Retry(**kwargs)


def test_good_values_pass() -> None:
    retry = l0.Retry(attempts=1, max_retries=0, base_delay=0.0, max_delay=0.0)
    assert (retry.base_delay, retry.max_delay) == (0.0, 0.0)
    assert l0.Retry(strategy="linear").strategy is l0.BackoffStrategy.LINEAR
    assert l0.Timeout(initial_token=None, inter_token=1).inter_token == 1
    assert l0.DriftConfig(hedging=False, entropy_threshold=2).entropy_threshold == 2
    assert custom_pattern_rule([re.compile("x")], flags=0).name == "custom_pattern"
    assert l0.Guardrails.pattern(["as an ai", re.compile("sorry")], window=10).name == "pattern"


@pytest.mark.parametrize("drift", [True, False, None, l0.DriftConfig(hedging=False)], ids=repr)
async def test_drift_accepts_its_documented_values(drift: Any) -> None:
    result = await l0.run(CountingFactory(), drift=drift)
    assert await result.read() == "hi"


async def test_valid_arguments_do_not_start_the_stream() -> None:
    factory = CountingFactory()
    result = await l0.run(factory, check_intervals={"guardrails": 2}, adapter="text")
    assert factory.calls == 0, "the stream starts when the result is first iterated"
    assert await result.read() == "hi"
    assert factory.calls == 1


def test_wrap_rejects_what_it_cannot_wrap() -> None:
    with pytest.raises(TypeError, match="wrap"):
        l0.wrap(42)
    with pytest.raises(TypeError, match="fallbacks"):
        l0.wrap(words(), fallbacks=[CountingFactory()])
    with pytest.raises(TypeError, match="hedge must be left out"):
        l0.wrap(words(), hedge=l0.Hedge(after=0.1))


def test_register_rejects_a_non_adapter() -> None:
    with pytest.raises(TypeError, match="detect"):
        l0.Adapters.register(object())  # type: ignore[arg-type]
