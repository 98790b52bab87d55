"""The wheel a user installs: `python -m build` output, its metadata and its contents.

Built with `--no-isolation` from the dev environment's hatchling, so the test needs no
network; the build backend is the one pyproject.toml names.
"""

from __future__ import annotations

import email.parser
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (path,) = out.glob("l0-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def _project() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        project: dict[str, object] = tomllib.load(file)["project"]
    return project


def _metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.parser.Parser().parsestr(wheel.read(name).decode())


def test_wheel_ships_the_package_and_its_type_marker(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "l0/__init__.py" in names
    assert "l0/py.typed" in names
    assert not any(n.startswith(("tests/", "benchmarks/", "dashboards/")) for n in names)


def test_wheel_metadata_declares_the_ranges_ci_tests(wheel: zipfile.ZipFile) -> None:
    metadata = _metadata(wheel)
    project = _project()
    assert metadata["Name"] == "l0"
    assert metadata["Version"] == project["version"]
    assert metadata["Requires-Python"] == project["requires-python"]
    assert metadata["License-Expression"] == "Apache-2.0"
    requires = set(metadata.get_all("Requires-Dist") or [])
    for core in project["dependencies"]:  # type: ignore[attr-defined]
        assert core in requires
    extras = project["optional-dependencies"]
    assert set(metadata.get_all("Provides-Extra") or []) == set(extras)  # type: ignore[arg-type]
    assert "openai>=2.20; extra == 'openai'" in requires
    # Development tools are a dependency group, never something a user installs.
    assert not any("pytest" in r or "mypy" in r for r in requires)


def test_wheel_registers_the_cli_and_the_pytest_plugin(wheel: zipfile.ZipFile) -> None:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    entry_points = wheel.read(name).decode()
    assert "l0 = l0.cli:main" in entry_points
    assert "[pytest11]" in entry_points
    assert "l0 = l0.testing.pytest_plugin" in entry_points
