"""l0's SLOs as code: objectives in `slo/objectives.yaml`, Prometheus rules generated from them.

`python -m slo.build` writes `collector/l0-slo-rules.yaml` (committed, loaded by the shipped
Prometheus): recording rules for every error ratio and burn rate, and multi-window,
multi-burn-rate alerts. Metric names come from `l0.telemetry.metric_names`, as the
dashboards' do.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

# Let `python -m slo.build` work from a plain checkout where l0 is not installed.
if importlib.util.find_spec("l0") is None:  # pragma: no cover - depends on the checkout
    sys.path.append(str(Path(__file__).resolve().parent.parent / "src"))
