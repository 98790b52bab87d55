#!/usr/bin/env bash
# Install the Prometheus server (Debian package `prometheus`) used by the stack test
# tests/stack/test_prometheus_dashboards.py. Idempotent: does nothing when a
# `prometheus` binary is already on PATH (or at /usr/bin/prometheus).
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ]; then
    echo "prometheus already installed: $( (command -v prometheus || echo /usr/bin/prometheus) )"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# --no-install-recommends keeps it to the server; the test runs the binary itself
# (its own config, port and tmp storage), so the packaged service is never needed.
$SUDO apt-get install -y --no-install-recommends prometheus
prometheus --version
