"""Adapters: OpenAI chunks, plain async iterables of `str` or `Event`, custom adapters, and
what happens with a stream nobody understands."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from openai.types.chat import ChatCompletionChunk

import l0
from l0 import ErrorCategory, ErrorCode, Event, EventType
from l0 import ObservabilityEventType as T
from l0.adapters import StreamInfo
from l0.adapters.detect import AutoChunks
from l0.adapters.openai import OpenAIChunks
from l0.testing import FaultServer, Reply

from .conftest import Recorder, drain, fast_retry, opener, tokens

TEXT = "Hello there world"


async def agen(*items: Any) -> AsyncIterator[Any]:
    for item in items:
        yield item


# -- OpenAI --------------------------------------------------------------------------------


async def test_openai_stream_is_detected(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=TEXT))
    rec = Recorder()
    result = await l0.run(opener(client, "gpt-x"), on_event=rec)
    await drain(result)
    (ready,) = rec.of(T.STREAM_READY)
    assert (ready.adapter, ready.provider, ready.request_model) == ("openai", "openai", "gpt-x")
    assert (ready.server_address, ready.server_port) == ("127.0.0.1", fault_server.port)


async def test_openai_adapter_by_name(fault_server: FaultServer, client: Any) -> None:
    fault_server.enqueue(Reply(text=TEXT, usage=True))
    rec = Recorder()
    result = await l0.run(opener(client, "gpt-x"), adapter="openai", on_event=rec)
    await drain(result)
    (ready,) = rec.of(T.STREAM_READY)
    assert (ready.adapter, ready.provider, ready.request_model) == ("openai", "openai", "gpt-x")
    assert (ready.server_address, ready.server_port) == ("127.0.0.1", fault_server.port)
    state = result.state
    assert state.content == TEXT
    assert (state.model, state.finish_reason) == ("gpt-x", "stop")
    assert state.response_id is not None and state.response_id.startswith("chatcmpl-")
    usage = state.usage
    assert usage is not None and usage["output_tokens"] == 3
    assert usage["total_tokens"] == usage["input_tokens"] + 3


def chunk(content: str | None = None, **extra: Any) -> ChatCompletionChunk:
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    delta.update(extra.pop("delta", {}))
    choices = [{"index": 0, "delta": delta, "finish_reason": extra.pop("finish_reason", None)}]
    return ChatCompletionChunk.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": "prebuilt",
            "choices": extra.pop("choices", choices),
            **extra,
        }
    )


def prebuilt_chunks() -> Iterator[ChatCompletionChunk]:
    yield chunk("", delta={"role": "assistant"})
    yield chunk("Hello")
    yield chunk(" world")
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f"}}
    yield chunk(delta={"tool_calls": [call]})
    yield chunk(delta={"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]})
    yield chunk(delta={"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]})
    yield chunk(finish_reason="tool_calls")
    usage = {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}
    yield chunk(choices=[], usage=usage)


async def test_prebuilt_openai_chunks_in_a_generator() -> None:
    result = await l0.run(lambda: agen(*prebuilt_chunks()))
    events = await drain(result)
    state = result.state
    assert state.content == "Hello world"
    assert state.tool_calls == [{"id": "call_1", "name": "f", "arguments": '{"a": 1}'}]
    assert state.usage == {"input_tokens": 5, "output_tokens": 4, "total_tokens": 9}
    assert state.finish_reason == "tool_calls"
    assert [e.type for e in events] == [
        EventType.TOKEN,
        EventType.TOKEN,
        EventType.TOOL_CALL,
        EventType.COMPLETE,
    ]


def mixed_chunks() -> list[Any]:
    """Every shape the fast paths must hand on: content with a finish, content with a tool
    delta, an empty role chunk, and a first chunk without choices (Azure sends one)."""
    return [
        chunk(choices=[]),
        *prebuilt_chunks(),
        chunk("tail", finish_reason="length"),
        chunk("both", delta={"tool_calls": [{"index": 1, "id": "c2", "function": {"name": "g"}}]}),
    ]


class _SlotChoice:
    """A choice whose fields are not in `__dict__` (as litellm's are not)."""

    __slots__ = ("delta", "finish_reason", "index")

    def __init__(self, source: Any) -> None:
        self.index, self.delta, self.finish_reason = 0, source.delta, source.finish_reason


def _translate(translator: OpenAIChunks, chunks: list[Any]) -> tuple[Any, ...]:
    texts = [translator.feed(item) for item in chunks]
    translator.finish()
    calls = [call.as_data() for call in translator.tool_calls]
    return texts, calls, translator.usage, translator.finish_reason, translator.model


def test_openai_chunks_read_from_dicts_translate_as_read_from_attributes() -> None:
    by_dicts, by_attributes = OpenAIChunks(), OpenAIChunks()
    by_attributes._read = OpenAIChunks._feed_attributes
    assert _translate(by_dicts, mixed_chunks()) == _translate(by_attributes, mixed_chunks())
    assert by_dicts.reader() == by_dicts._feed_dicts


@pytest.mark.parametrize("absent", ["left_out", "none"])
def test_chunks_as_dicts_translate_as_the_models_do(absent: str) -> None:
    """Dicts as parsed from the wire JSON (absent fields left out) or dumped in full."""
    dicts = [c.model_dump(exclude_unset=absent == "left_out") for c in mixed_chunks()]
    by_dicts = OpenAIChunks()
    assert _translate(by_dicts, dicts) == _translate(OpenAIChunks(), mixed_chunks())
    assert by_dicts.reader() == by_dicts._feed_json


def test_first_item_picks_the_translator_and_describes_the_stream() -> None:
    info = StreamInfo("auto")
    auto = AutoChunks(info)
    texts = [auto.feed(item) for item in prebuilt_chunks()]
    assert [t for t in texts if t] == ["Hello", " world"]
    # From the first token on the session calls the chosen translator's fast feed.
    chosen = auto.resolved
    assert isinstance(chosen, OpenAIChunks) and chosen.reader() == chosen._feed_dicts
    assert (info.provider, info.request_model) == ("openai", "prebuilt")


async def test_detection_sees_only_the_items_up_to_the_first_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Any] = []
    feed = AutoChunks.feed

    def counted(self: AutoChunks, item: Any) -> str | None:
        seen.append(item)
        return feed(self, item)

    monkeypatch.setattr(AutoChunks, "feed", counted)
    chunks = list(prebuilt_chunks())
    result = await l0.run(lambda: agen(*chunks))
    assert await result.read() == "Hello world"
    assert seen == chunks[:2], "after the first token the session feeds the chosen translator"


def test_chunks_without_fields_in_dicts_are_read_from_attributes() -> None:
    chunks = mixed_chunks()
    for item in chunks:
        item.choices = [_SlotChoice(c) for c in item.choices]
    translator = OpenAIChunks()
    texts = _translate(translator, chunks)[0]
    assert translator.reader() == translator._feed_attributes
    assert [t for t in texts if t] == ["Hello", " world", "tail", "both"]


# -- plain async iterables -----------------------------------------------------------------


async def test_async_iterable_of_str() -> None:
    result = await l0.run(lambda: agen("Hello", " there", " world"))
    events = await drain(result)
    assert tokens(events) == ["Hello", " there", " world"]
    assert result.state.content == TEXT
    assert result.state.token_count == 3


async def test_async_factory_returning_a_stream() -> None:
    async def factory() -> AsyncIterator[str]:
        return agen("a", "b")

    result = await l0.run(factory)
    assert await result.read() == "ab"


async def test_async_iterable_object_of_str() -> None:
    class Words:
        def __aiter__(self) -> AsyncIterator[str]:
            return agen("x", "y")

    result = await l0.run(Words)
    assert await result.read() == "xy"


async def test_async_iterable_of_events() -> None:
    stream = [
        Event(EventType.TOKEN, "Hi"),
        Event(EventType.TOKEN, " you"),
        Event(EventType.TOOL_CALL, data={"id": "c1", "name": "f", "arguments": {"x": 1}}),
        Event(EventType.COMPLETE, usage={"input_tokens": 1, "output_tokens": 2}),
    ]
    result = await l0.run(lambda: agen(*stream))
    events = await drain(result)
    assert result.state.content == "Hi you"
    assert result.state.tool_calls == [{"id": "c1", "name": "f", "arguments": '{"x":1}'}]
    assert result.state.usage == {"input_tokens": 1, "output_tokens": 2}
    assert [e.type for e in events][-2:] == [EventType.TOOL_CALL, EventType.COMPLETE]


async def test_error_event_in_a_stream_is_handled_like_a_raise() -> None:
    attempts = iter(
        [
            [Event(EventType.TOKEN, "par"), Event(EventType.ERROR, error=ConnectionResetError())],
            [Event(EventType.TOKEN, "full")],
        ]
    )
    result = await l0.run(lambda: agen(*next(attempts)), retry=fast_retry())
    events = await drain(result)
    assert result.state.content == "full"
    assert result.state.network_retry_count == 1
    assert [e.keep for e in events if e.type is EventType.RESET] == [0]


async def test_text_adapter_by_name() -> None:
    result = await l0.run(lambda: agen("a", "b"), adapter="text")
    assert await result.read() == "ab"


# -- custom adapters -----------------------------------------------------------------------


class Reel:
    """A made-up provider's stream object."""

    def __init__(self, *parts: str) -> None:
        self.parts = parts


class ReelAdapter:
    name = "reel"

    def detect(self, stream: Any) -> bool:
        return isinstance(stream, Reel)

    async def wrap(self, stream: Reel) -> AsyncIterator[Event]:
        for part in stream.parts:
            yield Event(EventType.TOKEN, part)
        yield Event(EventType.TOOL_CALL, data={"id": "r1", "name": "spin", "arguments": "{}"})
        yield Event(EventType.COMPLETE, usage={"input_tokens": 2, "output_tokens": 3})


@pytest.fixture
def reel_adapter() -> Iterator[ReelAdapter]:
    adapter = ReelAdapter()
    l0.Adapters.register(adapter)
    try:
        yield adapter
    finally:
        l0.Adapters.unregister(adapter.name)


async def test_custom_adapter_is_detected(reel_adapter: ReelAdapter) -> None:
    assert "reel" in l0.Adapters.names()
    rec = Recorder()
    result = await l0.run(lambda: Reel("spin", " me"), on_event=rec)
    events = await drain(result)
    assert result.state.content == "spin me"
    assert result.state.tool_calls == [{"id": "r1", "name": "spin", "arguments": "{}"}]
    assert result.state.usage == {"input_tokens": 2, "output_tokens": 3}
    assert events[-1].type is EventType.COMPLETE
    assert rec.of(T.ADAPTER_DETECTED)[0].adapter_id == "reel"


async def test_custom_adapter_by_name(reel_adapter: ReelAdapter) -> None:
    # Not detectable (a plain object), but chosen by name.
    class Other(Reel):
        pass

    reel_adapter.detect = lambda stream: False  # type: ignore[method-assign]
    result = await l0.run(lambda: Other("by", " name"), adapter="reel")
    assert await result.read() == "by name"


async def test_custom_adapter_instance() -> None:
    result = await l0.run(lambda: Reel("direct"), adapter=ReelAdapter())
    assert await result.read() == "direct"
    assert l0.Adapters.get("reel") is None


async def test_unregistered_adapter_name_fails_at_the_call(reel_adapter: ReelAdapter) -> None:
    l0.Adapters.unregister("reel")
    with pytest.raises(ValueError, match="reel"):
        await l0.run(lambda: Reel("x"), adapter="reel")


# -- streams nobody understands ------------------------------------------------------------


async def test_non_iterable_stream_is_an_invalid_stream_error() -> None:
    calls = []

    def factory() -> int:
        calls.append(1)
        return 42

    result = await l0.run(factory, retry=fast_retry())
    events = await drain(result)
    assert [e.type for e in events] == [EventType.ERROR]
    error = events[0].error
    assert error.code is ErrorCode.INVALID_STREAM
    assert error.category is ErrorCategory.INTERNAL
    assert "stream=True" in str(error)
    assert calls == [1], "a programming error is not retried"


async def test_unknown_items_are_adapter_not_found() -> None:
    result = await l0.run(lambda: agen(1, 2, 3), retry=fast_retry())
    events = await drain(result)
    assert [e.type for e in events] == [EventType.ERROR]
    error = events[-1].error
    assert error.code is ErrorCode.ADAPTER_NOT_FOUND
    assert "Adapters.register" in str(error)
    with pytest.raises(l0.L0Error) as caught:
        await (await l0.run(lambda: agen(object()))).read()
    assert caught.value.code is ErrorCode.ADAPTER_NOT_FOUND


async def test_str_stream_with_a_stray_item_is_invalid() -> None:
    result = await l0.run(lambda: agen("ok", 7), retry=fast_retry())
    events = await drain(result)
    assert tokens(events) == ["ok"]
    assert events[-1].error.code is ErrorCode.INVALID_STREAM


async def test_sync_iterable_is_not_a_stream() -> None:
    result = await l0.run(lambda: ["a", "b"])
    events = await drain(result)
    assert events[-1].error.code is ErrorCode.INVALID_STREAM
