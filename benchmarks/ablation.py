"""Where the loopback full stack's cost goes: the full stack against a variant of itself.

Usage: `python -m benchmarks.ablation VARIANT [--rounds N]`, variants from
`stacks.VARIANTS`. Both run over loopback against `l0 chaos` with the OpenTelemetry SDK
installed, timed as `make bench` times its loopback rows (`_timing.interleaved_rounds`): a ratio
under 1 is what the full stack spends on what the variant leaves out. Two streams only:
with more, each stream always follows the same other one and inherits its cache state.
The ratio is order-balanced as `make bench`'s (`_timing.balanced_ratio`). One round takes
about 5 s; at 25 rounds the ratio is good to about ±0.005 here.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys

from openai import AsyncOpenAI

from . import loopback, otel
from ._timing import balanced_ratio, interleaved_rounds
from .stacks import VARIANTS, full_stack

TOKENS = 20_000


async def compare(variant: str, rounds: int) -> tuple[list[float], list[float]]:
    """Per-round seconds of the full stack and of the variant."""
    handle = otel.install()
    async with loopback.chaos_server(TOKENS) as url:
        client = AsyncOpenAI(base_url=url, api_key="bench", max_retries=0)
        fulls, variants = await interleaved_rounds(
            lambda: loopback.with_l0(client, full_stack()),
            lambda: loopback.with_l0(client, VARIANTS[variant]()),
            rounds=rounds,
        )
        await client.close()
    handle.shutdown()
    return fulls, variants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ablation")
    parser.add_argument("variant", choices=sorted(VARIANTS))
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    fulls, variants = asyncio.run(compare(args.variant, args.rounds))
    ratios = [v / f for f, v in zip(fulls, variants, strict=True)]
    spread = statistics.pstdev(ratios)
    print(" ".join(f"{ratio:.3f}" for ratio in ratios))
    balanced = balanced_ratio(fulls, variants)
    print(f"{args.variant} / full stack: {balanced:.3f} (sd {spread:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
