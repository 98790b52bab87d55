"""Run a real Prometheus server for tests: find the binary, start, poll, query, stop.

The server gets its own config, a free port on 127.0.0.1 and a TSDB in a temporary
directory. Everything waits by polling the HTTP API with short intervals; nothing sleeps
blindly.

    bin = find_prometheus()           # None when not installed
    with Prometheus(bin, tmp_path, targets={"l0-workload": ["127.0.0.1:9464"]}) as prom:
        prom.wait_for_target("l0-workload")
        prom.query("up")
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")

REQUIRE_ENV = "L0_REQUIRE_PROMETHEUS"
BIN_ENV = "L0_PROMETHEUS_BIN"
INSTALL_HINT = (
    "Prometheus is not installed: run `.ci/install-prometheus.sh` (Debian/Ubuntu: "
    "`sudo apt-get install prometheus`), or point L0_PROMETHEUS_BIN at a prometheus binary. "
    "CI sets L0_REQUIRE_PROMETHEUS=1, which turns this skip into a failure."
)


def find_prometheus() -> str | None:
    """The prometheus binary: $L0_PROMETHEUS_BIN, then PATH, then /usr/bin/prometheus."""
    explicit = os.environ.get(BIN_ENV)
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    found = shutil.which("prometheus")
    if found:
        return found
    fallback = "/usr/bin/prometheus"
    return fallback if os.access(fallback, os.X_OK) else None


def find_promtool() -> str | None:
    """promtool, from the same package: next to the prometheus binary, then PATH."""
    binary = find_prometheus()
    if binary:
        sibling = Path(binary).with_name("promtool")
        if os.access(sibling, os.X_OK):
            return str(sibling)
    return shutil.which("promtool")


def prometheus_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def poll(
    check: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.2,
    what: str,
    alive: Callable[[], str | None] | None = None,
) -> T:
    """Call `check` until it returns a non-None value; TimeoutError naming `what` otherwise.

    `alive` returns an error message when the thing we wait for has died (stop early).
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        if alive is not None:
            problem = alive()
            if problem:
                raise RuntimeError(f"while waiting for {what}: {problem}")
        try:
            value = check()
        except (OSError, urllib.error.URLError, ValueError) as error:
            value, last_error = None, error
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


class PrometheusError(RuntimeError):
    pass


class Prometheus:
    """A Prometheus server scraping `targets` ({job name: ["host:port", ...]})."""

    def __init__(
        self,
        binary: str,
        workdir: Path,
        targets: Mapping[str, Sequence[str]],
        *,
        scrape_interval: str = "1s",
        extra_args: Sequence[str] = ("--enable-feature=exemplar-storage",),
        rule_files: Sequence[Path] = (),
    ) -> None:
        self.binary = binary
        self.workdir = Path(workdir)
        self.targets = {job: list(addrs) for job, addrs in targets.items()}
        self.scrape_interval = scrape_interval
        self.extra_args = list(extra_args)
        self.rule_files = [str(Path(p).resolve()) for p in rule_files]
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "prometheus.log"

    # lifecycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
            },
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": addrs}]}
                for job, addrs in self.targets.items()
            ],
        }
        if self.rule_files:
            config["rule_files"] = self.rule_files
        return config

    def start(self, *, timeout: float = 60.0, attempts: int = 3) -> Prometheus:
        """Start and wait until `/-/ready`; retries on a lost race for the free port."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False), encoding="utf-8")
        for attempt in range(1, attempts + 1):
            self.port = free_port()
            data_dir = self.workdir / f"data-{attempt}"
            log = self.log_path.open("ab")
            try:
                self.process = subprocess.Popen(
                    [
                        self.binary,
                        f"--config.file={config_path}",
                        f"--storage.tsdb.path={data_dir}",
                        f"--web.listen-address=127.0.0.1:{self.port}",
                        "--storage.tsdb.retention.time=1h",
                        "--log.level=warn",
                        *self.extra_args,
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            finally:
                log.close()
            try:
                poll(self._ready, timeout=timeout, what="Prometheus /-/ready", alive=self._alive)
                return self
            except RuntimeError:
                if attempt == attempts or "address already in use" not in self.log():
                    raise PrometheusError(f"Prometheus did not start:\n{self.log()}") from None
        raise AssertionError("unreachable")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> Prometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""

    def _alive(self) -> str | None:
        if self.process is None:
            return "Prometheus is not running"
        code = self.process.poll()
        return None if code is None else f"Prometheus exited with {code}:\n{self.log()}"

    def _ready(self) -> bool | None:
        with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
            return True if response.status == 200 else None

    # HTTP API ---------------------------------------------------------------------------------

    def api(self, path: str, params: Mapping[str, str | Sequence[str]] | None = None) -> Any:
        """GET /api/v1/<path>; returns `data`, raises PrometheusError on an API error."""
        query = urllib.parse.urlencode(params or {}, doseq=True)
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:  # 400/422 carry the PromQL error
            body = json.loads(error.read() or b"{}")
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the `result` list (vector, or matrix for a range selector) or
        [scalar-as-sample]."""
        data = self.api("query", {"query": expr})
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def label_values(self, label: str, match: str | None = None) -> list[str]:
        params = {"match[]": [match]} if match else None
        values: list[str] = self.api(f"label/{label}/values", params)
        return values

    def targets_health(self, job: str) -> list[dict[str, Any]]:
        data = self.api("targets", {"state": "active"})
        return [t for t in data["activeTargets"] if t["labels"].get("job") == job]

    # waiting ----------------------------------------------------------------------------------

    def wait_for_target(self, job: str, *, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until every target of `job` has been scraped successfully."""

        def check() -> dict[str, Any] | None:
            targets = self.targets_health(job)
            if targets and all(t["health"] == "up" for t in targets):
                return targets[0]
            return None

        return poll(
            check, timeout=timeout, what=f"a successful scrape of job {job!r}", alive=self._alive
        )

    def wait_for_samples(self, series: str, count: int, *, timeout: float = 30.0) -> float:
        """Wait until `series` has at least `count` samples in the last minute (so `rate()`
        over `[1m]` has data); returns the count seen."""

        def check() -> float | None:
            result = self.query(f"min(count_over_time({series}[1m]))")
            if result:
                seen = float(result[0]["value"][1])
                if seen >= count:
                    return seen
            return None

        return poll(
            check, timeout=timeout, what=f"{count} scraped samples of {series}", alive=self._alive
        )


def finite_values(result: list[dict[str, Any]]) -> list[float]:
    """The finite sample values of an instant-query result."""
    values = [float(sample["value"][1]) for sample in result]
    return [v for v in values if math.isfinite(v)]
