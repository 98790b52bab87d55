"""Token counts: tiktoken when its encoding loads offline, else the 4-characters estimate.

Each case runs in a fresh interpreter: the choice is made once per process, and tiktoken
keeps an encoding once loaded.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from l0.window import estimate_tokens

PROBE = """
import sys
import l0
window = l0.create_window("Tokenizers split text into tokens. " * 40, size=50, overlap=5)
print(window.tokenizer_name)
print(sum(chunk.token_count for chunk in window.chunks[:1]))
print(window.chunks[0].text)
"""


def _probe(env: dict[str, str], prelude: str = "") -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", prelude + PROBE],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.splitlines()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _offline(cache: Path) -> dict[str, str]:
    """No encoding cached and every HTTPS download refused at once, like a machine without
    network (a real connection failure, not a patched function)."""
    proxy = f"http://127.0.0.1:{_closed_port()}"
    return {"TIKTOKEN_CACHE_DIR": str(cache), "HTTPS_PROXY": proxy, "https_proxy": proxy}


def _cached_encodings() -> Path | None:
    """litellm ships tiktoken's encoding files; a cache holding them works offline."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "litellm_core_utils" / "tokenizers"
    return folder if folder.is_dir() else None


def test_tiktoken_that_cannot_fetch_its_encoding_falls_back_to_the_estimate(
    tmp_path: Path,
) -> None:
    pytest.importorskip("tiktoken")
    name, count, first = _probe(_offline(tmp_path))
    assert name == "estimate"
    assert int(count) == estimate_tokens(first)


def test_without_tiktoken_counts_are_estimated(tmp_path: Path) -> None:
    blocked = "import sys\nsys.modules['tiktoken'] = None\n"
    name, count, first = _probe(_offline(tmp_path), prelude=blocked)
    assert name == "estimate"
    assert int(count) == estimate_tokens(first)


def test_a_usable_tiktoken_gives_real_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiktoken = pytest.importorskip("tiktoken")
    cache = _cached_encodings()
    if cache is None:
        pytest.skip("no cached tiktoken encodings on this machine")
    env = {**_offline(tmp_path), "TIKTOKEN_CACHE_DIR": str(cache)}
    name, count, first = _probe(env)
    assert name == "tiktoken:o200k_base"
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    encoding = tiktoken.get_encoding("o200k_base")
    assert int(count) == len(encoding.encode_ordinary(first)) <= 50
    assert int(count) >= 45  # units carry their leading space, as the tokenizer does
    assert int(count) != estimate_tokens(first)  # the real count, not the estimate


def test_the_estimate_is_four_characters_a_token_rounded_up() -> None:
    assert [estimate_tokens(t) for t in ("", "a", "abcd", "abcde")] == [0, 1, 1, 2]
