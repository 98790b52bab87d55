"""Grafana dashboards for l0, built as code with grafana-foundation-sdk.

`python -m dashboards.build` writes `dashboards/*.json` (committed, provisioned into Grafana
by collector/docker-compose.yaml). Metric names come from `l0.telemetry.metric_names`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# Let `python -m dashboards.build` work from a plain checkout where l0 is not installed.
if importlib.util.find_spec("l0") is None:  # pragma: no cover - depends on the checkout
    sys.path.append(str(Path(__file__).resolve().parent.parent / "src"))
