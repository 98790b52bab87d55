"""`l0.tokens.wasted`: tokens delivered and then dropped at a retry boundary, by reason.

Real openai client against the fault server, real OTel SDK metrics. `l0.tokens` counts
every delivered token, so wasted over delivered is the cost-of-reliability ratio the SLO
rules (slo/) alert on.
"""

from __future__ import annotations

import openai
from telemetry_support import COMPLETION, OTel, factory, run

import l0
from l0.telemetry import metric_names as m
from l0.testing import FaultServer, Reply

MODEL = {m.ATTR_PROVIDER_NAME: "openai", m.ATTR_REQUEST_MODEL: "gpt-test"}


async def test_reset_mid_stream_wastes_what_the_dropped_attempt_delivered(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION, reset_after=2), Reply(text=COMPLETION))
    result = await run(client)
    assert await result.read() == COMPLETION

    (point,) = otel.points(m.TOKENS_WASTED.name)
    assert dict(point.attributes) == {m.ATTR_WASTE_REASON: "retry", **MODEL}
    assert point.value == 2
    # Delivered counts the dropped tokens too: the ratio is a share of what was streamed.
    assert otel.total(m.TOKENS.name) == 2 + result.state.token_count


async def test_a_fallback_wastes_the_primary_stream_under_its_own_model(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION, reset_after=3), model="gpt-primary")
    fault_server.enqueue(Reply(text=COMPLETION), model="gpt-fallback")
    result = await l0.run(
        factory(client, "gpt-primary"),
        fallbacks=[factory(client, "gpt-fallback")],
        retry=l0.Retry(attempts=1, max_retries=0, base_delay=0.0, max_delay=0.0),
    )
    assert await result.read() == COMPLETION

    (point,) = otel.points(m.TOKENS_WASTED.name)
    assert dict(point.attributes) == {
        m.ATTR_WASTE_REASON: "fallback",
        m.ATTR_PROVIDER_NAME: "openai",
        m.ATTR_REQUEST_MODEL: "gpt-primary",
    }
    assert point.value == 3


async def test_continuation_wastes_only_what_follows_the_checkpoint(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    text = "one two three four five six seven eight nine ten"
    fault_server.enqueue(Reply(text=text, reset_after=7), Reply(text=" seven eight nine ten"))
    result = await run(
        client, continue_from_last_good_token=True, check_intervals={"checkpoint": 3}
    )
    assert await result.read() == text

    # Checkpoints after tokens 3 and 6: the retry keeps six, the seventh is dropped.
    assert otel.total(m.TOKENS_WASTED.name, **{m.ATTR_WASTE_REASON: "retry"}) == 1


async def test_clean_and_failed_sessions_waste_nothing(
    otel: OTel, fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    fault_server.enqueue(Reply(text=COMPLETION), Reply(text=COMPLETION, reset_after=2))
    assert await (await run(client)).read() == COMPLETION
    failing = await run(client, retry=l0.Retry(attempts=1, max_retries=0))
    try:
        await failing.read()
    except l0.L0Error:
        pass
    else:
        raise AssertionError("a reset with no retry left must fail the session")

    assert otel.points(m.TOKENS_WASTED.name) == []
    assert otel.total(m.TOKENS.name) > 0
