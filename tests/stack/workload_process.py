"""tests/stack/workload.py as a child process: start it, read its status lines, stop it.

The workload prints `listening <port>`, `ready` and (counted runs) `done`; a reader thread
queues the lines so a test can wait for one with a timeout. Closing its stdin stops it
(`--watch-stdin`), so no workload outlives its test.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().parent / "workload.py"


@dataclass
class Workload:
    process: subprocess.Popen[str]
    stderr_path: Path
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    port: int = 0

    @classmethod
    def start(cls, tmp: Path, *args: str) -> Workload:
        """Start the workload with `args` and wait for its metrics endpoint."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
        )
        env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        stderr_path = tmp / "workload.stderr"
        with stderr_path.open("w") as stderr:
            process = subprocess.Popen(
                [
                    sys.executable,
                    str(SCRIPT),
                    "--port=0",
                    "--watch-stdin",
                    "--max-runtime=600",
                    *args,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
                cwd=ROOT,
            )
        running = cls(process, stderr_path)
        running.start_reader()
        try:
            running.port = int(running.wait_for("listening", timeout=120).split()[1])
        except BaseException:
            running.stop()
            raise
        return running

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def start_reader(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None

        def read(stream: IO[str]) -> None:
            for line in stream:
                self.lines.put(line.strip())
            self.lines.put("<eof>")

        threading.Thread(target=read, args=(stdout,), daemon=True).start()

    def wait_for(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"workload printed no {prefix!r} in {timeout:.0f}s{self.tail()}")
            try:
                line = self.lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line == "<eof>":
                code = self.process.wait(timeout=10)
                raise RuntimeError(f"workload exited ({code}) before {prefix!r}{self.tail()}")
            if line.startswith(prefix):
                return line

    def tail(self) -> str:
        try:
            text = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return f"\n--- workload stderr ---\n{text[-4000:]}"

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()  # --watch-stdin: the workload stops by itself
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
