"""Generate the committed dashboard JSON: `python -m dashboards.build [--check]`.

Writes `dashboards/<uid>.json` for every board in `BOARDS`. The output is deterministic
(sorted keys, fixed ids), so regenerating is a no-op unless the code changed; `--check`
exits 1 when a committed file differs from what the code generates.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import overview, reliability

HERE = Path(__file__).resolve().parent

BOARDS: dict[str, Callable[[], dict[str, Any]]] = {
    overview.UID: overview.build,
    reliability.UID: reliability.build,
}


def iter_panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard JSON, rows' nested panels included (rows themselves too)."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def iter_targets(board: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(panel, target) for every query of every panel."""
    for panel in iter_panels(board):
        for target in panel.get("targets", []):
            yield panel, target


def committed() -> dict[str, dict[str, Any]]:
    """The committed dashboards, by uid (what Grafana provisions)."""
    boards = {}
    for uid in BOARDS:
        path = HERE / f"{uid}.json"
        boards[uid] = json.loads(path.read_text(encoding="utf-8"))
    return boards


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate() -> dict[Path, str]:
    """Every dashboard file and its content."""
    return {HERE / f"{uid}.json": render(build()) for uid, build in BOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the JSON is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, text in generate().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        print(f"stale: {', '.join(stale)}; run `python -m dashboards.build`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
