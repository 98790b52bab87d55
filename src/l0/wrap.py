"""`l0.wrap()`: reliability for an OpenAI client, or for a single stream you already have."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any

from . import _validate
from .run import start
from .runtime.retry import Retry

__all__ = ["wrap"]


def wrap(target: Any, **options: Any) -> Any:
    """Wrap an `openai.AsyncOpenAI` client or a stream.

    - A client: `await wrapped.chat.completions.create(..., stream=True)` returns an l0
      `Result`; on failure l0 re-issues the same request. The wrapped client's own
      `max_retries` is set to 0 for these calls, so attempts are never multiplied: l0's
      `Retry` is the only retry policy. Non-streaming calls go to the client unchanged.
      `fallback_models=["gpt-4o-mini", ...]` re-issues the request with each model in turn;
      `fallbacks=[factory, ...]` are tried after them.
    - A stream (any async iterable): a `Result` over it. A consumed stream cannot be
      re-issued, so there are no retries or fallbacks.

    The options are `l0.run()`'s, checked here (docs/errors.md, "Bad input").
    """
    if "stream" in options:
        raise TypeError(
            "wrap(): stream must not be given; pass the client or stream as the first argument"
        )
    if _is_client(target):
        checked = {k: v for k, v in options.items() if k != "fallback_models"}
        start(stream=lambda: None, **checked)  # check the options now, not at first call
        _check_models(options.get("fallback_models"))
        return _WrappedClient(target, options)
    if isinstance(target, AsyncIterable):
        for name in ("fallbacks", "hedge"):
            if name in options:
                raise TypeError(
                    f"wrap(stream): {name} must be left out: a stream you already have cannot "
                    f"be re-issued (use l0.run(factory, {name}=...) or wrap the client)"
                )
        options.setdefault("retry", Retry.none())
        return start(stream=_once(target), **options)
    raise TypeError(
        f"wrap() takes an AsyncOpenAI-style client or an async stream, got {type(target).__name__}"
    )


def _is_client(target: Any) -> bool:
    completions = getattr(getattr(target, "chat", None), "completions", None)
    return callable(getattr(completions, "create", None)) and not isinstance(target, AsyncIterable)


def _check_models(models: object) -> None:
    accepts = "fallback_models must be a list of model names"
    if models is None:
        return
    if isinstance(models, str) or not isinstance(models, list | tuple):
        raise TypeError(f"{accepts}, got {_validate.show(models)}")
    for i, model in enumerate(models):
        _validate.text(f"fallback_models[{i}]", model)


def _once(stream: Any) -> Any:
    used = False

    def factory() -> Any:
        nonlocal used
        if used:
            raise RuntimeError("a wrapped stream can only be consumed once")
        used = True
        return stream

    return factory


class _WrappedClient:
    def __init__(self, client: Any, options: dict[str, Any]) -> None:
        self._client = client
        self.chat = _Chat(client, options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _Chat:
    def __init__(self, client: Any, options: dict[str, Any]) -> None:
        self._client = client
        self.completions = _Completions(client, options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client.chat, name)


class _Completions:
    def __init__(self, client: Any, options: dict[str, Any]) -> None:
        self._client = client
        self._options = options
        with_options = getattr(client, "with_options", None)
        # l0 owns retries: the SDK's own would multiply attempts silently.
        self._quiet = with_options(max_retries=0) if callable(with_options) else client

    async def create(self, **request: Any) -> Any:
        if not request.get("stream"):
            return await self._client.chat.completions.create(**request)
        create = self._quiet.chat.completions.create
        options = dict(self._options)
        if options.get("continue_from_last_good_token"):
            options.setdefault("build_continuation_prompt", continuation_prompt)
        fallback_models = options.pop("fallback_models", None) or ()
        fallbacks = [_request(create, {**request, "model": m}) for m in fallback_models]
        fallbacks += options.pop("fallbacks", None) or ()
        return start(stream=_request(create, request), fallbacks=fallbacks, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client.chat.completions, name)


def continuation_prompt(checkpoint: str) -> str:
    """The default follow-up message when a wrapped client resumes from a checkpoint."""
    return (
        "Your previous answer was cut off. Continue it exactly where it stops, without "
        f"repeating any of it. It ended with:\n\n{checkpoint}"
    )


def _request(create: Any, request: dict[str, Any]) -> Any:
    def factory(continuation: str | None = None) -> Any:
        if continuation is None:
            return create(**request)
        messages = [*request.get("messages", ()), {"role": "user", "content": continuation}]
        return create(**{**request, "messages": messages})

    return factory
