"""What drift detection is configured with and what a check returns."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from .. import _validate
from .._readonly import ReadOnlyDict, ReadOnlyList

__all__ = ["DRIFT_TYPES", "QUIET", "DriftConfig", "DriftResult"]

DRIFT_TYPES = (
    "repetition",
    "tone_shift",
    "meta_commentary",
    "hedging",
    "entropy_spike",
    "markdown_collapse",
    "format_drift",
)


@dataclass(frozen=True)
class DriftConfig:
    """Which drift detectors run, and their thresholds.

    `retry=True` makes a detection count toward the session's attempts as a CONTENT error
    (the runtime retries); `False` only reports it (`on_drift`, telemetry).
    """

    window: int = 2000
    repetition: bool = True
    tone_shift: bool = True
    meta_commentary: bool = True
    hedging: bool = True
    entropy: bool = True
    markdown_collapse: bool = True
    format_drift: bool = True
    repetition_threshold: float = 0.5
    sentence_repeat_threshold: int = 3
    tone_shift_threshold: float = 0.15
    hedging_threshold: float = 0.06
    entropy_threshold: float = 1.5
    markdown_min_markers: int = 3
    format_drift_threshold: int = 40
    blocks: int = 10
    retry: bool = True

    def __post_init__(self) -> None:
        # Each field by its annotation: switches are bools, counts ints, thresholds finite
        # numbers > 0.
        for f in fields(self):
            name, value = f"DriftConfig: {f.name}", getattr(self, f.name)
            if f.type == "bool":
                _validate.boolean(name, value)
            elif f.type == "int":
                _validate.integer(name, value, minimum=_MINIMUM.get(f.name, 1))
            else:
                _validate.number(name, value, positive=True)
        if self.window < self.blocks * 16:
            raise ValueError(
                f"DriftConfig: window must be at least blocks * 16 = {self.blocks * 16} "
                f"characters, got {self.window}"
            )

    @classmethod
    def default(cls) -> DriftConfig:
        """The default configuration, one shared instance (it is frozen): building one
        validates every field, and `drift=True` asks for it on every call."""
        return _DEFAULT_CONFIG

    def threshold_of(self, drift_type: str) -> float:
        """The threshold a drift type's main metric is compared with."""
        return {
            "repetition": self.repetition_threshold,
            "tone_shift": self.tone_shift_threshold,
            "meta_commentary": 1.0,
            "hedging": self.hedging_threshold,
            "entropy_spike": self.entropy_threshold,
            "markdown_collapse": float(self.markdown_min_markers),
            "format_drift": float(self.format_drift_threshold),
        }[drift_type]


_MINIMUM = {"blocks": 4, "sentence_repeat_threshold": 2}


@dataclass(frozen=True, slots=True)
class DriftResult:
    """Drift types first detected by a check (empty when none), with their metrics.

    `confidence` is the highest confidence among `types` (0..1); `details` holds the
    detectors' latest metrics when something was detected (empty otherwise: copying them
    on every quiet check would cost more than the check). Quiet checks all return one
    shared result whose `types` and `details` are read-only (copy them to modify).
    """

    detected: bool
    types: list[str]
    confidence: float
    details: dict[str, float] = field(default_factory=dict)


_DEFAULT_CONFIG = DriftConfig()

QUIET = DriftResult(False, ReadOnlyList(), 0.0, ReadOnlyDict())
"""What a check that found nothing new returns (shared and read-only: building a result
per check would cost more than the check itself)."""
