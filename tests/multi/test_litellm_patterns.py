"""Parallel, consensus and pipe over the real `litellm.acompletion` (aiohttp) against the
fault server."""

from __future__ import annotations

import l0
from l0.testing import FaultServer, Reply
from runtime.conftest import assert_no_leaked_tasks
from runtime.test_litellm import lopener

from .test_litellm_multi import _warm_litellm  # noqa: F401 - litellm's one-time setup


async def test_parallel_through_litellm_keeps_to_its_limit(fault_server: FaultServer) -> None:
    fault_server.default = Reply(text="done", stall_before_first=0.05)

    result = await l0.parallel([lopener(fault_server, f"m{i}") for i in range(5)], concurrency=2)

    assert result.contents == ("done",) * 5
    assert 1 <= fault_server.peak_in_flight <= 2
    assert_no_leaked_tasks()


async def test_consensus_and_pipe_through_litellm(fault_server: FaultServer) -> None:
    for model, text in zip("abc", ("Blue.", "blue", "green"), strict=True):
        fault_server.enqueue(Reply(text=text), model=model)
    fault_server.enqueue(Reply(text="Blue"), model="pick")
    fault_server.enqueue(Reply(text="bleu"), model="translate")

    voted = await l0.consensus([lopener(fault_server, m) for m in "abc"])
    piped = await l0.pipe(
        [
            l0.Stage("pick", lambda _: lopener(fault_server, "pick")),
            l0.Stage("translate", lambda colour: lopener(fault_server, "translate")),
        ],
        "which colour?",
    )

    assert (voted.consensus, voted.status) == ("Blue.", "agreed")
    assert voted.agreement == 2 / 3
    assert piped.output == "bleu"
    assert [(s.name, s.input, s.output) for s in piped.stages] == [
        ("pick", "which colour?", "Blue"),
        ("translate", "Blue", "bleu"),
    ]
    assert_no_leaked_tasks()
