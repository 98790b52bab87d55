"""`make demo` runs offline and shows recovery as spans and metrics."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def out() -> str:
    """What `make demo` prints, without colours."""
    done = subprocess.run(
        [sys.executable, "-m", "l0.demo"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return ANSI.sub("", done.stdout)


def test_demo_shows_each_session_recovering_in_its_span_tree(out: str) -> None:
    recovering = out.split("▶ race")[0]
    assert recovering.count("  l0.session  ") == 4
    assert recovering.count("OK  l0.outcome=success") == 4
    assert "error.type=RemoteProtocolError" in out  # the reset attempt
    assert "l0.fallback" in out and "error.type=AuthenticationError" in out
    assert "error.type=INITIAL_TOKEN_TIMEOUT" in out
    assert "[retry: discard all but 0 chars]" in out  # the in-band retry boundary
    assert "l0.sessions.active" in out and "l0.retries" in out
    assert http_requests_per_attempt(out) == [1] * 11  # the race's and hedge's two each


def test_demo_traces_a_race_and_a_hedge_above_their_sessions(out: str) -> None:
    race, hedge = section(out, "▶ race"), section(out, "▶ hedge")
    assert "  task 1 won: The faster model wins the race." in race
    for tree, kind in ((race, "race"), (hedge, "hedge")):
        (root,) = [line for line in tree if line.startswith(f"  l0.{kind}  ")]
        assert "OK  l0.outcome=success l0.multi.winner_index=1 l0.multi.cancelled_count=1" in root
        sessions = [line for line in tree if line.startswith("    l0.session  ")]
        assert ["aborted" in s for s in sessions] == [True, False]  # the loser, the winner
        assert any("l0.outcome=success" in s for s in sessions)
        events = [line.strip() for line in tree if line.startswith("    · ")]
        assert "· l0.multi.winner l0.multi.winner_index=1" in events
        assert f"l0.multi.index=0 l0.waste.reason={kind}_loser" in " ".join(events)
    assert "l0.hedge.count=1" in "".join(hedge)
    assert "    · l0.hedge l0.multi.index=1 l0.hedge.after_ms=200" in hedge
    assert hedge[1].startswith("  Reliable streams survive resets")  # the winner's tokens
    metrics = out.split("▶ metrics")[1]
    for name in ("l0.multi.wins", "l0.hedges", "l0.streams.cancelled"):
        assert f"  {name} " in metrics


def test_demo_ends_by_replaying_the_retried_session_from_its_recording(out: str) -> None:
    live = section(out, "▶ connection reset mid-stream")
    replay = section(out, "▶ replay of the retried session")
    # The same tokens, the same retry boundary, the same final text as the live session.
    assert replay[1:3] == live[1:3]
    assert "[retry: discard all but 0 chars]" in replay[1]
    assert "11 tokens, 1 retry, as recorded" in ANSI.sub("", replay[3])


def section(out: str, title: str) -> list[str]:
    """The lines printed under the scenario `title`, up to the next one."""
    return out.split(title, 1)[1].split("\n▶ ", 1)[0].splitlines()


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
