"""Run every benchmark and print ratios against the bare stream (DESIGN.md §9).

Each scenario is timed several times, interleaved with its baseline, and the best run of
each is compared: best-of-N is the least noisy estimate of cost on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from . import loopback, synthetic


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer tokens and repeats")
    args = parser.parse_args(argv)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    rows = asyncio.run(synthetic.run_all(quick=args.quick))
    rows += asyncio.run(loopback.run_all(quick=args.quick))
    print(f"{'scenario':<48} {'tokens':>8} {'bare ms':>9} {'l0 ms':>9} {'ratio':>6} {'budget':>7}")
    failed = False
    for row in rows:
        ok = row.ratio <= row.budget
        failed |= not ok
        print(
            f"{row.name:<48} {row.tokens:>8} {row.bare * 1e3:>9.2f} {row.measured * 1e3:>9.2f} "
            f"{row.ratio:>6.2f} {'<=' if ok else '> '}{row.budget:<5}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
