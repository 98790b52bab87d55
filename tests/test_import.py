"""`import l0` stays light: heavy integrations load only when used."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("openai", "litellm", "sentry_sdk", "opentelemetry.sdk")


def test_import_l0_loads_no_heavy_integration() -> None:
    code = (
        "import sys, l0\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r} "
        "or m.startswith('opentelemetry.sdk')]\n"
        "print(','.join(sorted(heavy)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_py_typed_marker_is_shipped() -> None:
    import importlib.resources

    assert importlib.resources.files("l0").joinpath("py.typed").is_file()
