"""`make demo` runs offline and shows recovery as spans and metrics."""

from __future__ import annotations

import re
import subprocess
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_demo_shows_each_session_recovering_in_its_span_tree() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "l0.demo"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("  l0.session  ") == 4
    assert out.count("OK  l0.outcome=success") == 4
    assert "error.type=RemoteProtocolError" in out  # the reset attempt
    assert "l0.fallback" in out and "error.type=AuthenticationError" in out
    assert "error.type=INITIAL_TOKEN_TIMEOUT" in out
    assert "[retry: discard all but 0 chars]" in out  # the in-band retry boundary
    assert "l0.sessions.active" in out and "l0.retries" in out
    assert http_requests_per_attempt(out) == [1] * 7


def http_requests_per_attempt(out: str) -> list[int]:
    """For each `chat` span in the printed trees, how many HTTP spans are its children."""
    lines = [ANSI.sub("", line) for line in out.splitlines()]
    counts = []
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("chat "):
            continue
        depth = len(line) - len(line.lstrip())
        children = 0
        for below in lines[i + 1 :]:
            indent = len(below) - len(below.lstrip())
            if not below.strip() or indent <= depth:
                break
            if indent == depth + 2 and below.lstrip().startswith(("POST ", "POST\t")):
                children += 1
        counts.append(children)
    return counts
