"""Run every benchmark and print ratios against the bare stream (DESIGN.md §9).

Each scenario is timed in rounds with its baseline, back to back (synthetic rows) or
interleaved (loopback rows), and the per-round ratios are reported order-balanced: the
median of each order, combined (`benchmarks._timing` says why). The times shown are medians.
Rows without telemetry run first; then a real OpenTelemetry SDK is installed (spans to a
batch processor, metrics to a reader) and the telemetry rows run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from . import concurrent, eventlog, loopback, multi, otel, synthetic
from ._timing import Row


async def run(
    quick: bool,
) -> tuple[list[Row], list[tuple[int, float]], dict[str, concurrent.Footprint]]:
    """The rows DESIGN §9 budgets, and beside them (budget None) the rows that show where
    the cost of the budgeted ones comes from."""
    full, core = synthetic.full, synthetic.core
    rows = await synthetic.rows("synthetic: core / bare", core, synthetic.CORE_BUDGET, quick=quick)
    rows += await loopback.rows("loopback: core / bare openai SDK", None, quick=quick)
    rows += await multi.rows(quick=quick)
    handle = otel.install()
    rows += await synthetic.rows("synthetic: core + OTel / bare", core, None, quick=quick)
    rows += await loopback.rows("loopback: core + OTel / bare SDK", None, quick=quick)
    rows += await synthetic.rows(
        "synthetic: full stack + OTel / bare", full, synthetic.FULL_BUDGET, quick=quick
    )
    rows += await eventlog.rows(quick=quick)
    rows += await loopback.rows(
        "loopback: full stack + OTel / bare SDK", loopback.SDK_BUDGET, quick=quick, full=True
    )
    rows += await loopback.rows("loopback: bare SDK / itself (noise)", None, quick=quick, full=None)
    many = await concurrent.measure(quick=quick)
    rows += many.rows
    memory = await synthetic.peak_memory_per_token(quick=quick)
    handle.shutdown()
    return rows, memory, many.footprints


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer tokens and repeats")
    args = parser.parse_args(argv)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    rows, memory, footprints = asyncio.run(run(args.quick))
    print(f"{'scenario':<42} {'tokens':>8} {'bare ms':>9} {'l0 ms':>9} {'ratio':>6} {'budget':>7}")
    failed = False
    for row in rows:
        verdict = "-"
        if row.budget is not None:
            ok = row.ratio <= row.budget
            failed |= not ok
            verdict = f"{'<=' if ok else '> '}{row.budget}"
        print(
            f"{row.name:<42} {row.tokens:>8} {row.bare * 1e3:>9.2f} {row.measured * 1e3:>9.2f} "
            f"{row.ratio:>6.2f} {verdict:>7}"
        )
    print("\nfull stack peak memory per token (flat = linear in N):")
    for count, per_token in memory:
        print(f"  {count:>8} tokens: {per_token:,.0f} bytes/token")
    print("\nper open session, all of a concurrent row's sessions open at once:")
    for name, held in footprints.items():
        print(f"  {name:>8}: {held.kb:6.1f} kB, {held.objects:6.1f} gc-tracked objects")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
