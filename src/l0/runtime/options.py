"""Validated options of one `l0.run()` call: bad input fails here, at the call."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .. import _validate
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
            _validate.integer(f"check_intervals[{name!r}]", getattr(self, name), minimum=1)

    @classmethod
    def coerce(cls, value: CheckIntervals | Mapping[str, int] | None) -> CheckIntervals:
        if value is None:
            return _DEFAULT_INTERVALS
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"guardrails", "drift", "checkpoint"}
            if unknown:
                raise ValueError(
                    f"check_intervals: unknown keys {sorted(map(str, unknown))}; "
                    "known: 'guardrails', 'drift', 'checkpoint'"
                )
            return cls(**value)
        raise TypeError(
            f"check_intervals must be a dict or an l0.CheckIntervals, got {_validate.show(value)}"
        )


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
    callback_grace: float

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
        callback_grace: float,
    ) -> Options:
        _check_factory("stream", stream)
        if retry is not None and not isinstance(retry, Retry):
            raise TypeError(f"retry must be an l0.Retry, got {_validate.show(retry)}")
        if timeout is not None and not isinstance(timeout, Timeout):
            raise TypeError(f"timeout must be an l0.Timeout, got {_validate.show(timeout)}")
        check_adapter_choice(adapter)
        _validate.callable_or_none("build_continuation_prompt", build_continuation_prompt)
        rules, drift_config = _split_guardrails(guardrails, drift)
        return cls(
            stream=stream,
            fallbacks=() if fallbacks is None else _factories(fallbacks),
            retry=retry or _DEFAULT_RETRY,
            timeout=timeout or _DEFAULT_TIMEOUT,
            adapter=adapter,
            callbacks=callbacks,
            context=_frozen("context", context),
            meta=_frozen("meta", meta),
            intervals=CheckIntervals.coerce(check_intervals),
            guardrails=rules,
            drift=drift_config,
            continue_from_last_good_token=_validate.boolean(
                "continue_from_last_good_token", continue_from_last_good_token
            ),
            build_continuation_prompt=build_continuation_prompt,
            deduplicate_continuation=_validate.boolean(
                "deduplicate_continuation", deduplicate_continuation
            ),
            callback_grace=_validate.seconds("callback_grace", callback_grace),
        )


# Both are frozen, so every session can share the defaults.
_DEFAULT_RETRY = Retry()
_DEFAULT_TIMEOUT = Timeout()


def _check_factory(name: str, factory: Any) -> None:
    if not callable(factory):
        hint = " (for a stream you already have, use l0.wrap(stream))"
        raise TypeError(
            f"{name} must be a callable that returns a stream (e.g. a lambda), "
            f"got {_validate.show(factory)}{hint if isinstance(factory, AsyncIterable) else ''}"
        )


def _factories(fallbacks: object) -> tuple[StreamFactory, ...]:
    accepts = "fallbacks must be a list of stream factories"
    if callable(fallbacks):
        raise TypeError(f"{accepts}, got a single callable: pass fallbacks=[factory]")
    if isinstance(fallbacks, str | bytes | Mapping) or not isinstance(fallbacks, Iterable):
        raise TypeError(f"{accepts}, got {_validate.show(fallbacks)}")
    found = tuple(fallbacks)
    for i, fallback in enumerate(found):
        _check_factory(f"fallbacks[{i}]", fallback)
    return found


def _frozen(name: str, mapping: object) -> MappingProxyType[str, Any]:
    """`context`/`meta` as a read-only deep copy, or why they cannot be one."""
    if mapping is None:
        return _EMPTY
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{name} must be a mapping with str keys, got {_validate.show(mapping)}")
    if not mapping:
        return _EMPTY
    for key in mapping:
        if not isinstance(key, str):
            raise TypeError(f"{name} must be a mapping with str keys, got key {key!r}")
    try:
        frozen: MappingProxyType[str, Any] = freeze(mapping)
    except Exception as exc:
        where = next((f"{name}[{k!r}]" for k, v in mapping.items() if not _copies(v)), name)
        raise TypeError(
            f"{where} must be plain data l0 can deep-copy (str, numbers, lists, dicts...): "
            f"l0 keeps a read-only copy of {name}; copying failed: {type(exc).__name__}: {exc}"
        ) from exc
    return frozen


def _copies(value: object) -> bool:
    try:
        freeze(value)
    except Exception:
        return False
    return True


def _split_guardrails(
    guardrails: Sequence[GuardrailRule] | None, drift: bool | DriftConfig | None
) -> tuple[tuple[GuardrailRule, ...], DriftConfig | None]:
    """Separate drift (a marker rule in presets like `Guardrails.strict()`) from the rules."""
    if guardrails is not None and (
        isinstance(guardrails, str | bytes) or not isinstance(guardrails, Sequence)
    ):
        hint = " (call it: e.g. Guardrails.recommended())" if callable(guardrails) else ""
        raise TypeError(
            f"guardrails must be a list of GuardrailRule, got {_validate.show(guardrails)}{hint}"
        )
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
            raise TypeError(
                f"guardrails[{i}] must be a GuardrailRule (e.g. from l0.Guardrails), "
                f"got {_validate.show(rule)}"
            )
        rules.append(rule)
    if drift is None or drift is False:
        return tuple(rules), drift_config
    from ..drift import DriftConfig

    if drift is True:
        drift_config = drift_config or DriftConfig.default()
    elif isinstance(drift, DriftConfig):
        drift_config = drift
    else:
        raise TypeError(
            "drift must be True, False, None or an l0.DriftConfig "
            f"(e.g. DriftConfig(hedging=False)), got {_validate.show(drift)}"
        )
    return tuple(rules), drift_config
