"""The benchmarks' option sets: the full stack and the variants `benchmarks.ablation` runs."""

from __future__ import annotations

import pytest
from benchmarks import ablation
from benchmarks.stacks import VARIANTS, full_stack
from benchmarks.synthetic import _stream, make_chunks

import l0


@pytest.mark.parametrize("name", [None, *sorted(VARIANTS)])
async def test_each_option_set_streams_all_of_the_text(name: str | None) -> None:
    chunks = make_chunks(120)
    options = full_stack() if name is None else VARIANTS[name]()
    result = await l0.run(lambda: _stream(chunks), **options)
    text = [event.text async for event in result if event.is_token]
    assert result.outcome == "success"
    assert "".join(text) == "".join(chunk.choices[0].delta.content or "" for chunk in chunks)


@pytest.mark.parametrize("name", sorted(set(VARIANTS) - {"core"}))
def test_a_variant_changes_one_option_of_the_full_stack(name: str) -> None:
    full, variant = full_stack(), VARIANTS[name]()
    changed = {key for key in full.keys() | variant.keys() if full.get(key) != variant.get(key)}
    # Rule lists are fresh objects per call: compare them by the rules' names.
    if "guardrails" in changed and variant.get("guardrails"):
        assert [r.name for r in full["guardrails"]] == [r.name for r in variant["guardrails"]]
        changed.discard("guardrails")
    assert len(changed) == 1


def test_ablation_refuses_rounds_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        ablation.main(["core", "--rounds", "0"])
    assert exit_info.value.code == 2
    assert "--rounds must be at least 1" in capsys.readouterr().err
