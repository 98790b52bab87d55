"""`l0.consensus` through the real openai client against the fault server, and the text
comparison it documents."""

from __future__ import annotations

import openai
import pytest
from pydantic import BaseModel, ValidationError

import l0
from l0 import ObservabilityEventType as T
from l0.multi._agreement import normalise, similarity
from l0.testing import FaultServer, Reply
from runtime.conftest import Recorder, assert_no_leaked_tasks, opener


def _script(server: FaultServer, *replies: Reply) -> list[object]:
    """One model per reply; the tasks that ask for them, in order."""
    for i, reply in enumerate(replies):
        server.enqueue(reply, model=f"m{i}")
    return [f"m{i}" for i in range(len(replies))]


def _tasks(client: openai.AsyncOpenAI, models: list[object]) -> list[object]:
    return [opener(client, str(m)) for m in models]


def test_texts_are_compared_casefolded_with_whitespace_and_end_punctuation_ignored() -> None:
    assert normalise("  The  ANSWER:\n Paris!! ") == "the answer: paris"
    assert similarity("Paris.", " paris") == 1.0
    assert similarity("Paris", "London") == 0.0
    # difflib ratio of the normalised texts: 2 * 20 matching / (20 + 28) characters.
    assert similarity("The capital is Paris", "The capital is Paris, France") == pytest.approx(
        40 / 48
    )
    assert similarity(3, 3) == 1.0 and similarity(3, 4) == 0.0


async def test_majority_elects_what_most_tasks_said(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    models = _script(
        fault_server, Reply(text="Paris."), Reply(text="London"), Reply(text="  paris")
    )
    recorder = Recorder()

    result = await l0.consensus(_tasks(client, models), on_event=recorder)

    assert (result.consensus, result.status, result.agreed) == ("Paris.", "agreed", True)
    assert result.agreement == pytest.approx(2 / 3)
    assert result.agreeing == (0, 2)
    assert result.outputs == ("Paris.", "London", "  paris")
    assert result.strategy == "majority"
    (event,) = [e for e in recorder.events if e.type is T.CONSENSUS_RESULT]
    assert (event.status, event.agreement, event.agreeing) == ("agreed", 2 / 3, [0, 2])
    assert_no_leaked_tasks()


async def test_no_majority_is_a_disagreement(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    models = _script(fault_server, Reply(text="red"), Reply(text="green"), Reply(text="blue"))

    result = await l0.consensus(_tasks(client, models))

    assert result.status == "disagreed"
    assert result.agreement == pytest.approx(1 / 3)
    assert result.consensus == "red"  # still the best supported (the first on a tie)


async def test_unanimous_with_any_disagreement_is_not_agreement(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    models = _script(fault_server, Reply(text="Yes."), Reply(text="yes"), Reply(text="No"))
    result = await l0.consensus(_tasks(client, models), strategy="unanimous")
    assert result.status == "disagreed"
    assert result.agreement == pytest.approx(2 / 3)

    fault_server.reset()
    models = _script(fault_server, Reply(text="Yes."), Reply(text="YES"), Reply(text=" yes!"))
    result = await l0.consensus(_tasks(client, models), strategy="unanimous")
    assert (result.status, result.agreement) == ("agreed", 1.0)


async def test_a_failed_task_agrees_to_nothing(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    models = _script(fault_server, Reply(text="yes"), Reply(text="yes"), Reply(status=400))

    unanimous = await l0.consensus(_tasks(client, models), strategy="unanimous")

    assert unanimous.status == "disagreed"
    assert unanimous.agreement == pytest.approx(2 / 3)
    assert unanimous.outputs == ("yes", "yes", None)
    assert unanimous.results[2] is None
    assert isinstance(unanimous.errors[2], l0.L0Error)


async def test_every_task_failing_is_a_failed_consensus(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    models = _script(fault_server, Reply(status=400), Reply(status=404))

    result = await l0.consensus(_tasks(client, models))

    assert (result.status, result.consensus, result.agreement) == ("failed", None, 0.0)
    assert all(isinstance(e, l0.L0Error) for e in result.errors)


async def test_the_threshold_decides_when_texts_agree(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    texts = ("The capital is Paris", "The capital is Paris, France")  # similarity 0.83

    models = _script(fault_server, *(Reply(text=t) for t in texts))
    loose = await l0.consensus(_tasks(client, models), strategy="unanimous", threshold=0.8)
    fault_server.reset()
    models = _script(fault_server, *(Reply(text=t) for t in texts))
    strict = await l0.consensus(_tasks(client, models), strategy="unanimous", threshold=0.9)

    assert (loose.status, loose.agreement) == ("agreed", 1.0)
    assert (strict.status, strict.agreement) == ("disagreed", 0.5)


async def test_weighted_counts_each_task_by_its_weight(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    models = _script(fault_server, Reply(text="A"), Reply(text="B"), Reply(text="B"))

    result = await l0.consensus(_tasks(client, models), strategy="weighted", weights=[3, 1, 1])

    assert (result.consensus, result.status) == ("A", "agreed")
    assert result.agreement == pytest.approx(0.6)


async def test_best_picks_the_output_with_the_highest_score(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    texts = ("The sky is blue", "the sky is blue.", "The sky is blue because of Rayleigh")
    models = _script(fault_server, *(Reply(text=t) for t in texts))
    default = await l0.consensus(_tasks(client, models), strategy="best")
    fault_server.reset()
    models = _script(fault_server, *(Reply(text=t) for t in texts))
    longest = await l0.consensus(_tasks(client, models), strategy="best", score=len)

    # By default the most similar to the others (the first of two equals).
    assert (default.consensus, default.status) == ("The sky is blue", "agreed")
    assert longest.consensus == "The sky is blue because of Rayleigh"


class City(BaseModel):
    name: str
    population: int
    capital: bool


async def test_with_a_schema_each_field_is_voted_on_and_disagreements_named(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    replies = (
        '{"name": "Paris", "population": 2100000, "capital": true}',
        'Here: ```json\n{"name": "paris", "population": 2200000, "capital": true}\n```',
        '{"name": "Paris.", "population": 2100000, "capital": true}',
        "not json at all",
    )
    models = _script(fault_server, *(Reply(text=t) for t in replies[:3]))

    result = await l0.consensus(_tasks(client, models), schema=City)

    assert result.consensus == City(name="Paris", population=2100000, capital=True)
    assert result.status == "agreed"  # a majority on every field
    assert result.disagreed_fields == ("population",)
    assert result.fields["population"].agreement == pytest.approx(2 / 3)
    assert result.fields["name"].agreement == 1.0  # "paris" and "Paris." are "Paris"
    assert result.agreeing == (0, 2)

    # An output that does not parse agrees to nothing: 2 of 4 is no majority.
    fault_server.reset()
    models = _script(fault_server, *(Reply(text=t) for t in replies))
    with_junk = await l0.consensus(_tasks(client, models), schema=City)
    assert with_junk.status == "disagreed"
    assert not with_junk.fields["population"].agreed and with_junk.fields["name"].agreed
    assert isinstance(with_junk.errors[3], ValidationError)
    assert with_junk.outputs[3] == "not json at all"

    fault_server.reset()
    models = _script(fault_server, *(Reply(text=t) for t in replies[:3]))
    unanimous = await l0.consensus(_tasks(client, models), strategy="unanimous", schema=City)
    assert unanimous.status == "disagreed"
    assert not unanimous.fields["population"].agreed and unanimous.fields["capital"].agreed


async def test_bad_arguments_fail_before_anything_is_sent(
    fault_server: FaultServer, client: openai.AsyncOpenAI
) -> None:
    tasks = [opener(client), opener(client)]
    with pytest.raises(ValueError, match="strategy must be one of"):
        await l0.consensus(tasks, strategy="most")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threshold"):
        await l0.consensus(tasks, threshold=1.5)
    with pytest.raises(ValueError, match="one number per task"):
        await l0.consensus(tasks, strategy="weighted", weights=[1])
    with pytest.raises(ValueError, match="weights are for strategy"):
        await l0.consensus(tasks, weights=[1, 2])
    with pytest.raises(TypeError, match="schema must be a Pydantic model class"):
        await l0.consensus(tasks, schema=dict)  # type: ignore[arg-type]
    assert fault_server.requests == []
