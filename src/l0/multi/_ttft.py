"""Recent times to first token, per model: what `Hedge(after="p95")` waits.

Hedged runs report, for each of their child sessions, how long it took to its first token,
or (a loser cancelled before one arrived) how long it had waited: a lower bound, which is
all a quantile below that wait needs. Without the lower bounds the slow requests a hedge
replaced would never be counted, the learned quantile would creep down, and more and more
requests would be hedged.

A call site is known by its primary factory's code (every call of one `lambda` shares
it) until its first completion names the model; from then on its samples go to, and its
delays come from, that model's window, which other call sites of the model share.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

__all__ = ["History", "history"]

_WINDOW = 512
"""Samples kept per model: recent enough to follow a provider's day, enough for a p99."""


class History:
    """The process's recent TTFT samples, by model (or call site until it names one)."""

    def __init__(self, window: int = _WINDOW) -> None:
        self._window = window
        self._samples: dict[Any, deque[float]] = {}
        self._models: dict[Any, str] = {}

    def key(self, site: Any) -> Any:
        """Where a call from `site` reads and records: its model once known."""
        return self._models.get(site, site)

    def learn(self, site: Any, model: str | None) -> None:
        """`site` talks to `model` (from a completed session)."""
        if not model or self._models.get(site) == model:
            return
        self._models[site] = model
        samples = self._samples.setdefault(model, deque(maxlen=self._window))
        samples.extend(self._samples.pop(site, ()))  # what it learned before the name

    def record(self, key: Any, seconds: float) -> None:
        samples = self._samples.get(key)
        if samples is None:
            samples = self._samples[key] = deque(maxlen=self._window)
        samples.append(seconds)

    def quantile(self, key: Any, q: float, min_samples: int) -> float | None:
        """The `q` quantile (nearest rank) of `key`'s samples; None with too few."""
        samples = self._samples.get(key)
        if samples is None or len(samples) < min_samples:
            return None
        ordered = sorted(samples)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    def clear(self) -> None:
        self._samples.clear()
        self._models.clear()


history = History()
"""The process-wide history every hedged `l0.run` learns from."""
