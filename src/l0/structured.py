"""`l0.structured()`: a reliable stream whose result must validate against a Pydantic model.

The schema check is one more guardrail that runs at completion: output that does not parse
or validate is a recoverable CONTENT violation, so l0 retries it (and falls back) like any
other bad output. Continuation is refused: a JSON document resumed mid-way is easily
corrupted, so structured output always starts over.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from .guardrails import GuardrailContext, GuardrailRule, GuardrailViolation
from .run import start
from .runtime.options import StreamFactory

__all__ = ["auto_correct_json", "extract_json", "structured"]

Model = TypeVar("Model", bound=BaseModel)

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


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
    parse = _parser(schema, auto_correct)
    rules = [*(options.pop("guardrails", None) or ()), _schema_rule(parse)]
    result = start(stream=stream, guardrails=rules, **options)
    return parse(await result.read())


def extract_json(text: str) -> str:
    """The JSON inside a ```json fence, or the text from its first `{`/`[` on."""
    fenced = _FENCE.search(text)
    if fenced:
        return fenced.group(1).strip()
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    return text[min(starts) :].strip() if starts else text.strip()


def auto_correct_json(text: str) -> str:
    """Repair what streams commonly break: trailing commas, unclosed strings and brackets."""
    text = _TRAILING_COMMA.sub(r"\1", text.strip())
    closers: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            closers.append("}" if char == "{" else "]")
        elif char in "}]" and closers and closers[-1] == char:
            closers.pop()
    if in_string:
        text += '"'
    return _TRAILING_COMMA.sub(r"\1", text + "".join(reversed(closers)))


def _parser(schema: type[Model], auto_correct: bool) -> Callable[[str], Model]:
    def parse(text: str) -> Model:
        candidate = extract_json(text)
        try:
            return schema.model_validate(orjson.loads(candidate))
        except (orjson.JSONDecodeError, ValidationError):
            if not auto_correct:
                raise
        return schema.model_validate(orjson.loads(auto_correct_json(candidate)))

    return parse


def _schema_rule(parse: Callable[[str], BaseModel]) -> GuardrailRule:
    def check(context: GuardrailContext) -> list[GuardrailViolation]:
        if not context.completed:
            return []
        try:
            parse(context.content)
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
