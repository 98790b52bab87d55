"""The JSON helpers: finding the document in model output and repairing a cut-off one."""

from __future__ import annotations

import sys

import orjson
import pytest

import l0


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [
        ('{"a": 1,}', '{"a": 1}'),
        ('{"a": {"b": 1}', '{"a": {"b": 1}}'),
        ('{"a": "unterminated', '{"a": "unterminated"}'),
        ('[1, 2, {"x": "}"', '[1, 2, {"x": "}"}]'),
        ('{"a": [1, 2,', '{"a": [1, 2]}'),
        ('{"q": "say \\"hi\\"", "b": 1', '{"q": "say \\"hi\\"", "b": 1}'),
    ],
)
def test_auto_correct_json_repairs_what_streams_break(broken: str, fixed: str) -> None:
    assert l0.auto_correct_json(broken) == fixed
    orjson.loads(fixed)


def test_auto_correct_json_leaves_valid_json_as_it_was() -> None:
    valid = '{"a": [1, {"b": "}]"}], "c": null}'
    assert l0.auto_correct_json(f"  {valid}\n") == valid


def test_extract_json_from_markdown_as_the_readme_shows() -> None:
    markdown_text = 'Here is the JSON:\n```json\n{"key": "value"}\n```'
    assert l0.extract_json_from_markdown(markdown_text) == '{"key": "value"}'
    assert l0.extract_json_from_markdown("```\n[1]\n```") == "[1]"
    assert l0.extract_json_from_markdown('  {"no": "fence"} ') == '{"no": "fence"}'


@pytest.mark.parametrize(
    ("output", "document"),
    [
        ('Sure! {"key": 1} hope that helps', '{"key": 1}'),
        ('Result: [1, {"a": "]"}] and {"b": 2}', '[1, {"a": "]"}]'),
        ('Text {"a": "{"} more {', '{"a": "{"}'),
        ('Intro\n```json\n{"f": 1}\n```\n{"not": "this"}', '{"f": 1}'),
        ('Cut short: {"a": [1, 2', '{"a": [1, 2'),
        ("no json here", "no json here"),
    ],
)
def test_extract_json_from_output_finds_the_document(output: str, document: str) -> None:
    assert l0.extract_json_from_output(output) == document


def test_a_cut_off_document_is_extracted_whole_for_correction() -> None:
    extracted = l0.extract_json_from_output('The user: {"name": "Ada", "tags": ["x"')
    assert orjson.loads(l0.auto_correct_json(extracted)) == {"name": "Ada", "tags": ["x"]}


def test_structured_output_and_consensus_use_these_helpers() -> None:
    structured, consensus = sys.modules["l0.structured"], sys.modules["l0.multi.consensus"]
    assert structured.extract_json_from_output is l0.extract_json_from_output
    assert consensus.extract_json_from_output is l0.extract_json_from_output
    assert not hasattr(structured, "auto_correct_json")
