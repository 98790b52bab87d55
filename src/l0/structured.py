"""`l0.structured()`: a reliable stream whose result must validate against a Pydantic model.

The schema check is one more guardrail that runs at completion: output that does not parse
or validate is a recoverable CONTENT violation, so l0 retries it (and falls back) like any
other bad output. The check of the attempt that succeeds is the parse whose value is
returned: the output is parsed once per attempt, not again at the end. Each parse reports
STRUCTURED_* events through the session. Continuation is refused: a JSON document resumed
mid-way is easily corrupted, so structured output always starts over.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from .events import ObservabilityEventType as T
from .format.json import correct_json, extract_json_from_output
from .guardrails import GuardrailContext, GuardrailRule, GuardrailViolation
from .run import start
from .runtime.options import StreamFactory

if TYPE_CHECKING:
    from .telemetry.facade import Telemetry

__all__ = ["structured"]

Model = TypeVar("Model", bound=BaseModel)


async def structured(
    schema: type[Model], stream: StreamFactory, *, auto_correct: bool = True, **options: Any
) -> Model:
    """Run `stream` and return its output parsed as `schema`.

    Takes `l0.run()`'s options. Output that fails to parse or validate is retried; the
    final failure raises `ALL_STREAMS_EXHAUSTED` (its `__cause__` is the last violation).
    """
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise TypeError(f"schema must be a pydantic BaseModel subclass, got {schema!r}")
    if options.get("continue_from_last_good_token"):
        raise ValueError(
            "continue_from_last_good_token cannot be used with l0.structured(): a JSON "
            "document resumed from a checkpoint is easily corrupted, so structured output "
            "is always retried from scratch"
        )
    parse = _Parser(schema, auto_correct)
    rules = [*(options.pop("guardrails", None) or ()), _schema_rule(parse)]
    result = start(stream=stream, guardrails=rules, **options)
    parse.telemetry = result._session.tel
    text = await result.read()
    return parse.value if parse.value is not None else parse(text)


class _Parser(Generic[Model]):
    """Parses output as `schema`, reporting each step (STRUCTURED_* events) to the
    session's telemetry once the session exists; `value` is the last successful parse."""

    def __init__(self, schema: type[Model], auto_correct: bool) -> None:
        self.schema = schema
        self.auto_correct = auto_correct
        self.telemetry: Telemetry | None = None
        self.value: Model | None = None

    def __call__(self, text: str) -> Model:
        """Raises `orjson.JSONDecodeError` or `ValidationError` when `text` does not fit."""
        candidate = extract_json_from_output(text)
        try:
            return self._validate(self._load(candidate))
        except (orjson.JSONDecodeError, ValidationError) as error:
            if not self.auto_correct:
                raise
            first = error
        started = time.perf_counter()
        count = first.error_count() if isinstance(first, ValidationError) else 1
        self._emit(T.STRUCTURED_AUTO_CORRECT_START, error_count=count)
        corrected, made = correct_json(candidate)
        try:
            value = self._validate(self._load(corrected))
        except (orjson.JSONDecodeError, ValidationError):
            self._corrected(False, made, started)
            raise
        self._corrected(True, made, started)
        return value

    def _load(self, text: str) -> Any:
        started = time.perf_counter()
        self._emit(T.STRUCTURED_PARSE_START, content_length=len(text))
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            self._emit(T.STRUCTURED_PARSE_ERROR, error=f"JSONDecodeError: {error}")
            self._emit(T.STRUCTURED_PARSE_END, success=False, duration_ms=_ms_since(started))
            raise
        self._emit(T.STRUCTURED_PARSE_END, success=True, duration_ms=_ms_since(started))
        return data

    def _validate(self, data: Any) -> Model:
        started = time.perf_counter()
        name = self.schema.__name__
        self._emit(T.STRUCTURED_VALIDATION_START, schema_name=name)
        try:
            value = self.schema.model_validate(data)
        except ValidationError as error:
            self._emit(
                T.STRUCTURED_VALIDATION_ERROR,
                schema_name=name,
                errors=_messages(error),
                error_count=error.error_count(),
            )
            self._emit(T.STRUCTURED_VALIDATION_END, valid=False, duration_ms=_ms_since(started))
            raise
        self._emit(T.STRUCTURED_VALIDATION_END, valid=True, duration_ms=_ms_since(started))
        return value

    def _corrected(self, success: bool, made: int, started: float) -> None:
        self._emit(
            T.STRUCTURED_AUTO_CORRECT_END,
            success=success,
            corrections_made=made,
            duration_ms=_ms_since(started),
        )

    def _emit(self, kind: T, **data: Any) -> None:
        if self.telemetry is not None:
            self.telemetry.emit(kind, **data)


def _messages(error: ValidationError) -> list[str]:
    """Where and why validation failed, without the input values (they are content)."""
    return [
        f"{'.'.join(map(str, item['loc'])) or '<root>'}: {item['msg']}"
        for item in error.errors(include_url=False, include_context=False, include_input=False)
    ]


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _schema_rule(parse: _Parser[Any]) -> GuardrailRule:
    def check(context: GuardrailContext) -> list[GuardrailViolation]:
        if not context.completed:
            return []
        parse.value = None
        try:
            parse.value = parse(context.content)
        except (orjson.JSONDecodeError, ValidationError) as error:
            message = str(error).splitlines()[0]
            return [GuardrailViolation("schema", f"output does not match the schema: {message}")]
        return []

    return GuardrailRule(
        name="schema",
        check=check,
        streaming=False,
        severity="error",
        recoverable=True,
        description="output parses as JSON and validates against the schema",
    )
