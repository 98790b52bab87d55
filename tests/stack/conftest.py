"""Shared fixtures of the stack tests."""

from __future__ import annotations

import prometheus_harness as ph
import pytest


@pytest.fixture(scope="module")
def prometheus_binary() -> str:
    binary = ph.find_prometheus()
    if binary is None:
        if ph.prometheus_required():
            pytest.fail(f"{ph.REQUIRE_ENV}=1 but {ph.INSTALL_HINT}")
        pytest.skip(ph.INSTALL_HINT)
    return binary
