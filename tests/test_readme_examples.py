"""The README's examples run as written, against the fault server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from l0.testing import FaultServer, Reply

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def _blocks(marker: str) -> list[str]:
    return [block for block in BLOCKS if marker in block]


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer.in_thread(default=Reply(text="Hello from the fault server")) as server:
        yield server


def _run(code: str, server: FaultServer, tmp_path: Path, *args: str) -> str:
    script = tmp_path / "example.py"
    script.write_text(code)
    env = {
        **os.environ,
        "OPENAI_BASE_URL": server.url,
        "OPENAI_API_KEY": "readme-test-key",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    done = subprocess.run(
        [sys.executable, *args, str(script)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_readme_has_the_examples_this_file_runs() -> None:
    assert len(_blocks("asyncio.run(main())")) == 2
    assert len(_blocks("async def test_")) == 1
    assert len(_blocks("l0.instrument(")) == 1


def test_wrap_example(server: FaultServer, tmp_path: Path) -> None:
    out = _run(_blocks("l0.wrap(AsyncOpenAI())")[0], server, tmp_path)
    assert "Hello from the fault server" in out
    assert "tokens in" in out


def test_run_example_recovers_with_retry_and_fallback(server: FaultServer, tmp_path: Path) -> None:
    server.enqueue(
        Reply(text="one two three four", reset_after=2), Reply(status=401), model="gpt-4o"
    )
    server.enqueue(Reply(text="the fallback haiku"), model="gpt-4o-mini")
    out = _run(_blocks("fallbacks=[")[0], server, tmp_path)
    assert "[retry 2: RemoteProtocolError]" in out
    assert "[fallback 1: http_401]" in out
    assert "the fallback haiku" in out
    assert "fallback index: 1" in out


def test_instrument_example(server: FaultServer, tmp_path: Path) -> None:
    _run(_blocks("l0.instrument(")[0], server, tmp_path)


def test_testing_example_is_a_passing_test(server: FaultServer, tmp_path: Path) -> None:
    out = _run(
        _blocks("async def test_")[0],
        server,
        tmp_path,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "asyncio_mode=auto",
    )
    assert "1 passed" in out
