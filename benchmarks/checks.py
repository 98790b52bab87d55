"""Micro-benchmark of the content checks: guardrail rules and drift, in µs per token.

Usage: `python -m benchmarks.checks [--quick] [--e2e]`.

The checks are called as the runtime calls them (`l0.runtime.checks`), at its default
intervals: the guardrail engine every 10 tokens with the delta since its previous check
(offered to `hold` first), drift every 10 tokens, and both once at completion. Text is
realistic prose (`prose_chunks`), not a word cycle: the drift detector rightly flags a
56-token loop.
Costs must stay flat from 2k to 200k tokens (O(delta) checks); each row prints the three
sizes side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from l0.drift import DriftConfig, DriftDetector
from l0.guardrails import (
    GuardrailContext,
    GuardrailEngine,
    GuardrailRule,
    Guardrails,
    json_rule,
    latex_rule,
    markdown_rule,
    pattern_rule,
    repetition_rule,
    stall_rule,
    zero_output_rule,
)
from l0.runtime.options import CheckIntervals
from l0.testing import prose_chunks

__all__ = ["drift_session_cost", "prose_chunks", "run_checks"]  # prose_chunks: l0.testing

GUARD_EVERY = CheckIntervals().guardrails
DRIFT_EVERY = CheckIntervals().drift

# -------------------------------------------------------------------- timing


def _groups(tokens: list[str], every: int) -> list[str]:
    return ["".join(tokens[i : i + every]) for i in range(0, len(tokens), every)]


def _best(repeats: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.disable()  # as `_timing._time`: no collection inside, no collect() before
        try:
            started = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - started)
        finally:
            gc.enable()
    return best


def _engine_run(rules: list[GuardrailRule], deltas: list[str]) -> Callable[[], object]:
    def run() -> object:
        engine = GuardrailEngine(rules)
        content = "".join(deltas)
        check, hold = engine.check, engine.hold
        token_count = 0
        for delta in deltas:  # as the runtime does: offer the delta to hold() first
            token_count += GUARD_EVERY
            if hold(delta):
                continue
            result = check(GuardrailContext(lambda: content, False, delta, token_count))
            assert result.passed, result.violations
        done = engine.check_complete(GuardrailContext(lambda: content, True, "", token_count))
        assert done.passed, done.violations
        return done

    return run


def _drift_run(deltas: list[str], config: DriftConfig | None = None) -> Callable[[], object]:
    def run() -> object:
        detector = DriftDetector(config)
        check = detector.check
        for delta in deltas:
            result = check(delta)
            assert not result.detected, result
        final = detector.check("", completed=True)
        assert not final.detected, final
        return final

    return run


def drift_session_cost(tokens: int = 20, repeats: int = 20, sessions: int = 200) -> float:
    """µs for a whole drift session on a short output: construct, `reset` (the runtime's,
    at the attempt start), checks every `DRIFT_EVERY` tokens and the final check."""
    deltas = _groups(prose_chunks(tokens), DRIFT_EVERY)

    def run() -> None:
        for _ in range(sessions):
            detector = DriftDetector()
            detector.reset()
            for delta in deltas:
                detector.check(delta)
            detector.check("", completed=True)

    return _best(repeats, run) / sessions * 1e6


def _subjects() -> list[tuple[str, Callable[[], list[GuardrailRule]] | None]]:
    return [
        ("engine, no rules", lambda: []),
        ("json", lambda: [json_rule()]),
        ("markdown", lambda: [markdown_rule()]),
        ("pattern", lambda: [pattern_rule()]),
        ("zero_output", lambda: [zero_output_rule()]),
        ("latex", lambda: [latex_rule()]),
        ("repetition", lambda: [repetition_rule()]),
        ("stall", lambda: [stall_rule()]),
        ("recommended", Guardrails.recommended),
        ("strict (rules; drift separate)", Guardrails.strict),
        ("drift (DriftConfig())", None),
    ]


def run_checks(sizes: tuple[int, ...], repeats: int) -> dict[str, list[float]]:
    """µs per token of each subject at each size."""
    table: dict[str, list[float]] = {}
    streams = {n: prose_chunks(n) for n in sizes}
    for name, rules in _subjects():
        row = []
        for n in sizes:
            tokens = streams[n]
            if rules is None:
                fn = _drift_run(_groups(tokens, DRIFT_EVERY))
            else:
                fn = _engine_run(rules(), _groups(tokens, GUARD_EVERY))
            fn()  # warm up
            row.append(_best(repeats if n < 100_000 else max(2, repeats // 2), fn) / n * 1e6)
        table[name] = row
    return table


# ---------------------------------------------------------------- end to end

_E2E: dict[str, dict[str, Any]] = {
    "core": {},
    "+ recommended": {"guardrails": "recommended"},
    "+ drift": {"drift": True},
    "+ both + continuation": {
        "guardrails": "recommended",
        "drift": True,
        "continue_from_last_good_token": True,
    },
}


async def _e2e(
    sizes: tuple[int, ...], rounds: int | None
) -> list[tuple[str, int, float, float, float]]:
    """l0.run over prose chunks vs bare iteration: (scenario, tokens, bare µs/token,
    l0 µs/token, ratio), medians of paired rounds."""
    from ._timing import paired
    from .synthetic import bare, make_chunks

    rows = []
    for n in sizes:
        chunks = make_chunks(n)
        for chunk, text in zip(chunks, prose_chunks(n), strict=True):
            chunk.choices[0].delta.content = text
        baseline = functools.partial(bare, chunks)
        for name, options in _E2E.items():
            b, m, ratio = await paired(baseline, _session(chunks, options), rounds=rounds)
            rows.append((name, n, b / n * 1e6, m / n * 1e6, ratio))
    return rows


def _session(chunks: list[Any], options: dict[str, Any]) -> Callable[[], Awaitable[int]]:
    import l0

    from .synthetic import _stream

    async def run() -> int:
        kwargs = dict(options)
        if kwargs.get("guardrails") == "recommended":
            kwargs["guardrails"] = Guardrails.recommended()
        result = await l0.run(lambda: _stream(chunks), **kwargs)
        total = 0
        async for event in result:
            total += event.is_token
        assert not result.state.violations and not result.state.drift_detected
        return total

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.checks")
    parser.add_argument("--quick", action="store_true", help="2k and 20k tokens, fewer repeats")
    parser.add_argument("--e2e", action="store_true", help="also time l0.run end to end")
    args = parser.parse_args(argv)
    sizes = (2_000, 20_000) if args.quick else (2_000, 20_000, 200_000)
    repeats = 3 if args.quick else 7
    tokens = prose_chunks(sizes[-1])
    print(f"prose: {sum(map(len, tokens)) / len(tokens):.2f} chars/token")
    print(f"{'µs per token':<32}" + "".join(f"{n:>10}" for n in sizes) + f"{'max/min':>9}")
    for name, row in run_checks(sizes, repeats).items():
        cells = "".join(f"{v:>10.3f}" for v in row)
        print(f"{name:<32}{cells}{max(row) / min(row):>9.2f}")
    print(f"{'drift session, 20 tokens (µs)':<32}{drift_session_cost():>10.2f}")
    if args.e2e:
        print(f"\n{'l0.run, µs per token':<32}{'tokens':>10}{'bare':>10}{'l0':>10}{'ratio':>8}")
        for name, n, b, m, ratio in asyncio.run(_e2e(sizes, 3 if args.quick else None)):
            print(f"{name:<32}{n:>10}{b:>10.3f}{m:>10.3f}{ratio:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
