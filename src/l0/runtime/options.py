"""Validated options of one `l0.run()` call: bad input fails here, at the call."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import FunctionType, MappingProxyType
from typing import TYPE_CHECKING, Any

from ..adapters import Adapter, check_adapter_choice
from ..telemetry.callbacks import Callbacks
from .retry import Retry
from .timeouts import Timeout

if TYPE_CHECKING:
    from ..drift import DriftConfig
    from ..guardrails.types import GuardrailRule

__all__ = ["CheckIntervals", "Options", "StreamFactory", "freeze"]

StreamFactory = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class CheckIntervals:
    """Every how many tokens guardrails, drift and checkpoints run while streaming.

    All three default to 10, so they share one point in the token loop: a check then costs
    one visit instead of two (guardrails every 5 cost the full stack about 11% more time,
    docs/performance.md). A guardrail violation is found at most 10 tokens after the
    token that completes it; the completion check sees what the last interval left.
    """

    guardrails: int = 10
    drift: int = 10
    checkpoint: int = 10

    def __post_init__(self) -> None:
        for name in ("guardrails", "drift", "checkpoint"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"check_intervals[{name!r}] must be an int >= 1, got {value!r}")

    @classmethod
    def coerce(cls, value: CheckIntervals | Mapping[str, int] | None) -> CheckIntervals:
        if value is None:
            return _DEFAULT_INTERVALS
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"guardrails", "drift", "checkpoint"}
            if unknown:
                raise ValueError(f"check_intervals: unknown keys {sorted(unknown)}")
            return cls(**value)
        raise TypeError(f"check_intervals must be a dict or CheckIntervals, got {value!r}")


_DEFAULT_INTERVALS = CheckIntervals()
_EMPTY: MappingProxyType[str, Any] = MappingProxyType({})


def freeze(value: Any) -> Any:
    """A deep, read-only copy: mappings become MappingProxyType, lists become tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v) for v in value)
    return copy.deepcopy(value)


@dataclass(slots=True)
class Options:
    """One call's options, checked. Read-only by convention, not `frozen=True`: a frozen
    dataclass's `__init__` costs about three times as much, and this one is built per call.
    """

    stream: StreamFactory
    fallbacks: tuple[StreamFactory, ...]
    retry: Retry
    timeout: Timeout
    adapter: str | Adapter | None
    callbacks: Callbacks
    context: MappingProxyType[str, Any]
    meta: MappingProxyType[str, Any]
    intervals: CheckIntervals
    guardrails: tuple[GuardrailRule, ...]
    drift: DriftConfig | None
    continue_from_last_good_token: bool
    build_continuation_prompt: Callable[[str], str] | None
    deduplicate_continuation: bool

    @classmethod
    def build(
        cls,
        *,
        stream: Any,
        fallbacks: Sequence[Any] | None,
        retry: Retry | None,
        timeout: Timeout | None,
        adapter: str | Adapter | None,
        callbacks: Callbacks,
        context: Mapping[str, Any] | None,
        meta: Mapping[str, Any] | None,
        check_intervals: CheckIntervals | Mapping[str, int] | None,
        guardrails: Sequence[GuardrailRule] | None,
        drift: bool | DriftConfig | None,
        continue_from_last_good_token: bool,
        build_continuation_prompt: Callable[[str], str] | None,
        deduplicate_continuation: bool,
    ) -> Options:
        _check_factory("stream", stream)
        fallback_list = tuple(fallbacks or ())
        for i, fallback in enumerate(fallback_list):
            _check_factory(f"fallbacks[{i}]", fallback)
        if retry is not None and not isinstance(retry, Retry):
            raise TypeError(f"retry must be an l0.Retry, got {type(retry).__name__}")
        if timeout is not None and not isinstance(timeout, Timeout):
            raise TypeError(f"timeout must be an l0.Timeout, got {type(timeout).__name__}")
        check_adapter_choice(adapter)
        for name, mapping in (("context", context), ("meta", meta)):
            if mapping is not None and not isinstance(mapping, Mapping):
                raise TypeError(f"{name} must be a mapping, got {type(mapping).__name__}")
        if build_continuation_prompt is not None and not callable(build_continuation_prompt):
            raise TypeError("build_continuation_prompt must be callable")
        rules, drift_config = _split_guardrails(guardrails, drift)
        return cls(
            stream=stream,
            fallbacks=fallback_list,
            retry=retry or _DEFAULT_RETRY,
            timeout=timeout or _DEFAULT_TIMEOUT,
            adapter=adapter,
            callbacks=callbacks,
            context=freeze(context) if context else _EMPTY,
            meta=freeze(meta) if meta else _EMPTY,
            intervals=CheckIntervals.coerce(check_intervals),
            guardrails=rules,
            drift=drift_config,
            continue_from_last_good_token=bool(continue_from_last_good_token),
            build_continuation_prompt=build_continuation_prompt,
            deduplicate_continuation=bool(deduplicate_continuation),
        )


# Both are frozen, so every session can share the defaults.
_DEFAULT_RETRY = Retry()
_DEFAULT_TIMEOUT = Timeout()


def _check_factory(name: str, factory: Any) -> None:
    if not callable(factory):
        raise TypeError(
            f"{name} must be a callable that returns a stream (e.g. a lambda), "
            f"got {type(factory).__name__}"
        )


def accepts_continuation(factory: StreamFactory) -> bool:
    """Factories that take one argument receive the continuation prompt (or None)."""
    if type(factory) is FunctionType:  # a def or lambda: its code says, in O(1)
        return factory.__code__.co_argcount == 1
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) == 1


def _split_guardrails(
    guardrails: Sequence[GuardrailRule] | None, drift: bool | DriftConfig | None
) -> tuple[tuple[GuardrailRule, ...], DriftConfig | None]:
    """Separate drift (a marker rule in presets like `Guardrails.strict()`) from the rules."""
    if guardrails is not None and (
        isinstance(guardrails, str | bytes) or not isinstance(guardrails, Sequence)
    ):
        raise TypeError("guardrails must be a list of GuardrailRule")
    rules: list[GuardrailRule] = []
    drift_config: DriftConfig | None = None
    for i, rule in enumerate(guardrails or ()):
        config = getattr(rule, "drift_config", None)
        if config is not None:
            drift_config = config
            continue
        if not callable(getattr(rule, "check", None)) or not isinstance(
            getattr(rule, "name", None), str
        ):
            raise TypeError(f"guardrails[{i}] is not a GuardrailRule")
        rules.append(rule)
    if drift is True:
        from ..drift import DriftConfig

        drift_config = drift_config or DriftConfig.default()
    elif drift not in (None, False):
        drift_config = drift  # type: ignore[assignment]
    return tuple(rules), drift_config
